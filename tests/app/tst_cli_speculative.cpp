// peregrine-cli generate with --spec, --draft-k, --grammar and --json-schema: the real binary on the
// shared models. Speculation prints its acceptance and changes no token; guided output follows the
// schema; bad options and bad grammars fail with a message that says where.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_paths.h"

using nlohmann::json;
using namespace peregrine::test;

namespace {

struct CliRun {
    int exit_code = -1;
    QByteArray out;
    QByteArray err;
};

CliRun run_cli(const QStringList& args) {
    QProcess process;
    process.start(QString::fromStdString(cli_path()), args);
    CliRun run;
    if (!process.waitForFinished(120000)) {
        process.kill();
        process.waitForFinished();
        return run;
    }
    run.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

QString model(const char* file) { return QString::fromStdString(model_path(file)); }

QStringList greedy(const char* prompt, int n) {
    return {"generate", "-m", model("stories260K-f32.gguf"), "-p", prompt, "-n", QString::number(n), "--temp", "0",
            "-t", "1"};
}

}  // namespace

class TestCliSpeculative : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;

    QString write(const char* name, const std::string& text) {
        const QString path = dir_.filePath(name);
        std::ofstream(path.toStdString()) << text;
        return path;
    }

private slots:
    void speculation_keeps_the_tokens_data() {
        QTest::addColumn<QStringList>("extra");
        QTest::newRow("lookup k=4") << QStringList{"--spec", "lookup", "--draft-k", "4"};
        QTest::newRow("lookup auto") << QStringList{"--spec", "lookup", "--draft-k", "auto"};
        QTest::newRow("lookahead k=4") << QStringList{"--spec", "lookahead", "--draft-k", "4"};
        QTest::newRow("draft q4_0") << QStringList{"--spec", "draft:" + model("stories260K-q4_0.gguf"), "--draft-k", "3"};
        QTest::newRow("draft threshold") << QStringList{"--spec", "draft:" + model("stories260K-q4_0.gguf"),
                                                         "--draft-threshold", "0.5", "--draft-threshold-adapt"};
    }
    void speculation_keeps_the_tokens() {
        QFETCH(QStringList, extra);
        const CliRun plain = run_cli(greedy("Once upon a time", 40) << "--json");
        const CliRun spec = run_cli(greedy("Once upon a time", 40) << extra << "--json");
        QCOMPARE(plain.exit_code, 0);
        QCOMPARE(spec.exit_code, 0);
        const json a = json::parse(plain.out.toStdString());
        const json b = json::parse(spec.out.toStdString());
        QCOMPARE(b["tokens"], a["tokens"]);
        QCOMPARE(b["text"], a["text"]);
        const json& s = b["stats"]["speculative"];
        QVERIFY(s["forward_passes"].get<int>() >= 1);
        QVERIFY(s["accepted"].get<int>() <= s["drafted"].get<int>());
        QVERIFY(!a["stats"].contains("speculative"));
    }

    void stats_line_shows_acceptance() {
        const CliRun run = run_cli(greedy("Once upon a time", 30) << "--spec"
                                                                  << "draft:" + model("stories260K-q4_0.gguf"));
        QCOMPARE(run.exit_code, 0);
        const QString err = QString::fromUtf8(run.err);
        QVERIFY2(err.contains(QRegularExpression("spec draft:.*accepted [0-9]+ \\([0-9]+%\\)")), qPrintable(err));
        QVERIFY(err.contains("forward passes"));
    }

    void json_schema_output_follows_the_schema() {
        const QString schema = write("s.json",
                                     "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", "
                                     "\"maxLength\": 8}, \"n\": {\"type\": \"integer\"}}, \"required\": [\"name\", \"n\"]}");
        const CliRun run = run_cli(greedy("Lily", 80) << "--json-schema" << schema << "--json");
        QCOMPARE(run.exit_code, 0);
        const json out = json::parse(run.out.toStdString());
        const json value = json::parse(out["text"].get<std::string>());
        QVERIFY(value["name"].is_string());
        QVERIFY(value["n"].is_number_integer());
        QCOMPARE(out["stats"]["stop_reason"], "eog");
        QVERIFY(out["stats"]["speculative"]["forced_tokens"].get<int>() > 0);
        QVERIFY(out["stats"]["speculative"]["forward_passes_per_token"].get<double>() < 1.0);
    }

    void grammar_file() {
        const QString g = write("g.gbnf", "root ::= \"Yes\" | \"No\"\n");
        const CliRun run = run_cli(greedy("Is the sky blue?", 10) << "--grammar" << g);
        QCOMPARE(run.exit_code, 0);
        const QString out = QString::fromUtf8(run.out).trimmed();
        QVERIFY2(out == "Yes" || out == "No", qPrintable(out));
    }

    void errors_say_where() {
        const QString bad = write("bad.gbnf", "root ::= \"a\"\n  | (\"b\"\n");
        CliRun run = run_cli(greedy("x", 5) << "--grammar" << bad);
        QVERIFY(run.exit_code != 0);
        QVERIFY2(run.err.contains("grammar:3:1: expected ')'"), run.err.constData());
        const QString bad_schema = write("bad.json", "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"text\"}}}");
        run = run_cli(greedy("x", 5) << "--json-schema" << bad_schema);
        QVERIFY(run.exit_code != 0);
        QVERIFY2(run.err.contains("/properties/a/type: unknown type 'text'"), run.err.constData());
        run = run_cli(greedy("x", 5) << "--spec" << "magic");
        QVERIFY(run.exit_code != 0);
        QVERIFY2(run.err.contains("--spec must be none, lookup, lookahead or draft:PATH"), run.err.constData());
        run = run_cli(greedy("x", 5) << "--spec" << "lookup" << "--draft-k" << "many");
        QVERIFY(run.exit_code != 0);
        QVERIFY2(run.err.contains("--draft-k must be a number or 'auto'"), run.err.constData());
        run = run_cli(greedy("x", 5) << "--spec" << "draft:" + model("llama-2-tiny-random.gguf"));
        QVERIFY(run.exit_code != 0);
        QVERIFY2(run.err.contains("draft model vocabulary"), run.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestCliSpeculative)
#include "tst_cli_speculative.moc"
