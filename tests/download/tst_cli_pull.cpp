// `peregrine-cli pull` end to end: the real binary against a Hub-like server on loopback serving a real
// GGUF (the shared stories260K model), with progress on stderr, the verified path on stdout, resume
// after a drop and after Ctrl-C, errors, the catalogue, and the downloaded model loading afterwards.
#include <QCryptographicHash>
#include <QDir>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <nlohmann/json.hpp>

#include "loopback_http_server.h"
#include "support/test_paths.h"

using nlohmann::json;
using peregrine::test::LoopbackHttpServer;
using peregrine::test::Resource;

namespace {

constexpr const char* kRepo = "test-owner/stories260K-GGUF";
constexpr const char* kFile = "stories260K-Q4_K_M.gguf";
// From shared/models/README.md: an independent record of the bytes the test serves.
constexpr const char* kSha = "f638b5be37b15e544173d2a44999851063e9c99b3862ebd9a4dc6f3db592d53b";

struct CliRun {
    int exit_code = -1;
    QString out;
    QString err;
};

CliRun finish(QProcess& process, int timeout_ms) {
    CliRun run;
    if (!process.waitForFinished(timeout_ms)) {
        process.kill();
        process.waitForFinished();
        run.err = "timed out";
        return run;
    }
    run.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = QString::fromUtf8(process.readAllStandardOutput());
    run.err = QString::fromUtf8(process.readAllStandardError());
    return run;
}

CliRun run_cli(const QStringList& args, const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment(),
               int timeout_ms = 60000) {
    QProcess process;
    process.setProcessEnvironment(env);
    process.start(QString::fromStdString(peregrine::test::cli_path()), args);
    return finish(process, timeout_ms);
}

json lfs_entry(const std::string& path, uint64_t size, const std::string& sha256) {
    return {{"type", "file"}, {"oid", "0123abcd"}, {"size", size}, {"path", path},
            {"lfs", {{"oid", sha256}, {"size", size}, {"pointerSize", 134}}}};
}

QString sha_of_file(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(&f);
    return hash.result().toHex();
}

int count_progress_lines(const QString& err) {
    int n = 0;
    for (const QString& line : err.split('\n')) {
        if (line.contains(QRegularExpression(R"(^\s*\d+%\s)"))) ++n;
    }
    return n;
}

}  // namespace

class TestCliPull : public QObject {
    Q_OBJECT

    std::unique_ptr<LoopbackHttpServer> server_;
    std::unique_ptr<QTemporaryDir> dir_;
    std::string model_ = peregrine::test::read_file(peregrine::test::model_path("stories260K-q4_k_m.gguf"));
    const std::string cdn_ = "/cdn/stories-q4km";

    QString model_dir() const { return dir_->filePath("models"); }
    QString expected_path() const { return model_dir() + "/" + kFile; }
    QStringList pull_args(const QString& spec) const {
        return {"pull", spec, "--dir", model_dir(), "--endpoint", QString::fromStdString(server_->base_url())};
    }

private slots:
    void initTestCase() {
        QVERIFY2(QFile::exists(QString::fromStdString(peregrine::test::cli_path())),
                 "peregrine-cli is not built (build the peregrine-cli target)");
        for (const char* var : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "HF_TOKEN",
                                "PEREGRINE_HF_ENDPOINT", "HF_ENDPOINT", "PEREGRINE_CATALOG"}) {
            qunsetenv(var);
        }
        QCOMPARE(QCryptographicHash::hash(QByteArray::fromStdString(model_), QCryptographicHash::Sha256).toHex(),
                 QByteArray(kSha));
    }

    void init() {
        server_ = std::make_unique<LoopbackHttpServer>();
        dir_ = std::make_unique<QTemporaryDir>();
        // The Hub's shape: a tree listing with LFS sha256, /resolve/ redirecting to a CDN that serves the bytes.
        const json tree = json::array({lfs_entry(kFile, model_.size(), kSha),
                                        lfs_entry("stories260K-Q8_0.gguf", 379168, std::string(64, 'b')),
                                        {{"type", "file"}, {"oid", "1"}, {"size", 10}, {"path", "README.md"}}});
        server_->put(std::string("/api/models/") + kRepo + "/tree/main", {.body = tree.dump()});
        server_->put(std::string("/") + kRepo + "/resolve/main/" + kFile, {.redirect_to = cdn_});
        server_->put(cdn_, {.body = model_, .chunk_delay_ms = 15, .chunk_size = 16 * 1024});
    }

    void pullPrintsProgressAndTheVerifiedPath() {
        const CliRun run = run_cli(pull_args(QString("%1:Q4_K_M").arg(kRepo)));
        QVERIFY2(run.exit_code == 0, qPrintable(run.err));
        QCOMPARE(run.out.trimmed(), expected_path());  // stdout is only the path, for scripts
        QVERIFY2(count_progress_lines(run.err) >= 3, qPrintable(run.err));
        QVERIFY2(run.err.contains(QRegularExpression(R"(100%\s+297\.0 KiB / 297\.0 KiB)")), qPrintable(run.err));
        QVERIFY2(run.err.contains(QString("verified sha256 %1").arg(kSha)), qPrintable(run.err));
        QCOMPARE(sha_of_file(expected_path()), QString(kSha));
        QCOMPARE(QDir(model_dir()).entryList(QDir::Files), QStringList{kFile});

        // The downloaded file is a working model.
        const CliRun inspect = run_cli({"inspect", expected_path(), "--json"});
        QVERIFY2(inspect.exit_code == 0, qPrintable(inspect.err));
        QCOMPARE(json::parse(inspect.out.toStdString())["architecture"], "llama");
        const CliRun gen = run_cli({"generate", "-m", expected_path(), "-p", "Once upon a time", "-n", "8", "--temp", "0"});
        QVERIFY2(gen.exit_code == 0 && !gen.out.trimmed().isEmpty(), qPrintable(gen.err));
    }

    void pullResumesAfterADroppedConnection() {
        server_->put(cdn_, {.body = model_, .drop_after = 100000, .drops = 1});
        const CliRun run = run_cli(pull_args(kRepo));  // no file: the Q4_K_M one
        QVERIFY2(run.exit_code == 0, qPrintable(run.err));
        QCOMPARE(run.out.trimmed(), expected_path());
        QVERIFY2(run.err.contains("interrupted"), qPrintable(run.err));
        QCOMPARE(server_->requests(cdn_).size(), size_t(2));
        QCOMPARE(server_->body_bytes_sent(cdn_), uint64_t(model_.size()));  // the first 100000 bytes only once
        QCOMPARE(sha_of_file(expected_path()), QString(kSha));
    }

    void interruptKeepsThePartAndTheNextPullResumes() {
        server_->set_slow(cdn_, 100, 8 * 1024);  // about 4 s for the whole file
        QProcess process;
        process.start(QString::fromStdString(peregrine::test::cli_path()), pull_args(kRepo));
        QVERIFY(process.waitForStarted());
        QString err;
        QElapsedTimer timer;
        timer.start();
        // Interrupt only once bytes have landed: a part file that never got a byte is removed on purpose.
        const QRegularExpression some_bytes(R"(^\s*\d+%\s+(?!0 B )\d)", QRegularExpression::MultilineOption);
        while (!err.contains(some_bytes) && timer.elapsed() < 20000) {
            process.waitForReadyRead(100);
            err += QString::fromUtf8(process.readAllStandardError());
        }
        QVERIFY2(err.contains(some_bytes), qPrintable(err));
        ::kill(pid_t(process.processId()), SIGINT);
        const CliRun interrupted = finish(process, 20000);
        QCOMPARE(interrupted.exit_code, 130);
        QVERIFY2(interrupted.err.contains("run the same command to resume"), qPrintable(interrupted.err));
        QVERIFY(!QFile::exists(expected_path()));
        const qint64 kept = QFileInfo(expected_path() + ".part").size();
        QVERIFY(kept > 0 && kept < qint64(model_.size()));

        server_->set_slow(cdn_, 0, 64 * 1024);
        const CliRun resumed = run_cli(pull_args(kRepo));
        QVERIFY2(resumed.exit_code == 0, qPrintable(resumed.err));
        QVERIFY2(resumed.err.contains("resuming at"), qPrintable(resumed.err));
        QCOMPARE(server_->requests(cdn_).back().headers.at("range"), "bytes=" + std::to_string(kept) + "-");
        QCOMPARE(sha_of_file(expected_path()), QString(kSha));
    }

    void endpointFromEnvironment() {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("PEREGRINE_HF_ENDPOINT", QString::fromStdString(server_->base_url()));
        const CliRun run = run_cli({"pull", kRepo, "--dir", model_dir()}, env);
        QVERIFY2(run.exit_code == 0, qPrintable(run.err));
        QCOMPARE(run.out.trimmed(), expected_path());
    }

    void listShowsQuantizationsAndSizes() {
        const CliRun run = run_cli({"pull", kRepo, "--list", "--endpoint", QString::fromStdString(server_->base_url())});
        QVERIFY2(run.exit_code == 0, qPrintable(run.err));
        QVERIFY2(run.out.contains(QRegularExpression(R"(Q4_K_M\s+297\.0 KiB\s+f638b5be37b1\s+stories260K-Q4_K_M\.gguf)")),
                 qPrintable(run.out));
        QVERIFY2(run.out.contains(QRegularExpression(R"(Q8_0\s+370\.3 KiB)")), qPrintable(run.out));
        QVERIFY(!run.out.contains("README"));
        QVERIFY(!QDir(model_dir()).exists());  // nothing downloaded
    }

    void missingRepositoryIsClear() {
        const CliRun run = run_cli(pull_args("test-owner/no-such-repo"));
        QCOMPARE(run.exit_code, 1);
        QVERIFY2(run.err.contains("error: repository test-owner/no-such-repo (revision main) not found (HTTP 404"),
                 qPrintable(run.err));
    }

    void missingQuantizationListsWhatThereIs() {
        const CliRun run = run_cli(pull_args(QString("%1:Q5_K_M").arg(kRepo)));
        QCOMPARE(run.exit_code, 1);
        QVERIFY2(run.err.contains("no GGUF file matching 'Q5_K_M'") && run.err.contains("stories260K-Q8_0.gguf"),
                 qPrintable(run.err));
    }

    void wrongBytesAreRejected() {
        server_->put(cdn_, {.body = model_, .corrupt = true});
        const CliRun run = run_cli(pull_args(kRepo));
        QCOMPARE(run.exit_code, 1);
        QVERIFY2(run.err.contains("is corrupt: its sha256 is") && run.err.contains("deleted"), qPrintable(run.err));
        QVERIFY(run.out.isEmpty());
        QCOMPARE(QDir(model_dir()).entryList(QDir::Files), QStringList{});
    }

    void pullsACatalogueModelById() {
        const QString source_catalog = QFINDTESTDATA("../../models/catalog.json");
        QVERIFY(!source_catalog.isEmpty());
        json catalog = json::parse(peregrine::test::read_file(source_catalog.toStdString()));
        json entry = catalog["models"][0];
        entry["id"] = "stories-test";
        entry["repo"] = kRepo;
        entry["files"] = json::array({{{"quantization", "Q4_K_M"}, {"file", kFile}, {"size", model_.size()}}});
        catalog["models"] = json::array({entry});
        catalog["recommended"] = "stories-test";
        const QString catalog_path = dir_->filePath("catalog.json");
        QFile out(catalog_path);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(QByteArray::fromStdString(catalog.dump()));
        out.close();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("PEREGRINE_CATALOG", catalog_path);

        const CliRun list = run_cli({"pull", "--catalog"}, env);
        QVERIFY2(list.exit_code == 0, qPrintable(list.err));
        QVERIFY2(list.out.contains(QRegularExpression(R"(stories-test\s+Q4_K_M\s+297\.0 KiB\s+yes)")), qPrintable(list.out));

        QStringList args = pull_args("stories-test");
        const CliRun run = run_cli(args, env);
        QVERIFY2(run.exit_code == 0, qPrintable(run.err));
        QCOMPARE(run.out.trimmed(), expected_path());

        const CliRun unknown = run_cli(pull_args("no-such-model"), env);
        QCOMPARE(unknown.exit_code, 1);
        QVERIFY2(unknown.err.contains("neither a repository id"), qPrintable(unknown.err));
    }
};

QTEST_GUILESS_MAIN(TestCliPull)
#include "tst_cli_pull.moc"
