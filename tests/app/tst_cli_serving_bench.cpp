// `peregrine-cli bench --concurrency`: the real binary on a real shared GGUF file. Checks the shapes of
// what it measured (every request generated exactly its tokens, the modes ran the schedule they claim)
// and that the per-row cost of decode steps is reported next to its same-process prefill baseline.
#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "support/test_paths.h"

using nlohmann::json;
using namespace peregrine::test;

namespace {

json run_bench_json(const QStringList& args) {
    QProcess process;
    process.start(QString::fromStdString(cli_path()), args);
    if (!process.waitForFinished(120000)) {
        process.kill();
        process.waitForFinished();
        qWarning("peregrine-cli bench timed out");
        return json();
    }
    if (process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        qWarning("peregrine-cli bench failed: %s", process.readAllStandardError().constData());
        return json();
    }
    return json::parse(process.readAllStandardOutput().toStdString());
}

const json* find_run(const json& out, int concurrency, const std::string& mode) {
    for (const json& r : out["runs"]) {
        if (r["concurrency"] == concurrency && r["mode"] == mode) return &r;
    }
    return nullptr;
}

}  // namespace

class TestCliServingBench : public QObject {
    Q_OBJECT
private slots:
    void fixedLengthsReportDecodeRowCostAgainstPrefill();
};

void TestCliServingBench::fixedLengthsReportDecodeRowCostAgainstPrefill() {
    const int n_prompt = 8, n_gen = 5, rounds = 2;
    const json out = run_bench_json({"bench", "-m", QString::fromStdString(model_path("stories260K-q4_0.gguf")), "-t",
                                     "1", "-p", QString::number(n_prompt), "-n", QString::number(n_gen),
                                     "--concurrency", "1,3", "--rounds", QString::number(rounds), "--json"});
    QVERIFY(out.is_object());
    for (const char* mode : {"continuous", "static", "one-at-a-time"}) {
        const json* run = find_run(out, 3, mode);
        QVERIFY2(run != nullptr, mode);
        // EOS is ignored, so every request generates exactly n_gen tokens.
        QCOMPARE((*run)["tokens"].get<int>(), 3 * rounds * n_gen);
        QVERIFY((*run)["prefill_ms_per_row"].get<double>() > 0);
    }
    const json& continuous = *find_run(out, 3, "continuous");
    const json& one = *find_run(out, 3, "one-at-a-time");
    // Equal lengths: all streams start and end together, so continuous batching runs static's schedule
    // (one prefill step and n_gen - 1 decode steps per round; the prefill step samples the first token).
    QCOMPARE(continuous["steps"].get<int>(), find_run(out, 3, "static")->operator[]("steps").get<int>());
    QCOMPARE(continuous["steps"].get<int>(), rounds * n_gen);
    // One at a time: each request its own prefill step and decode steps.
    QCOMPARE(one["steps"].get<int>(), 3 * rounds * n_gen);
    QVERIFY(continuous["decode_ms_per_row"].get<double>() > 0);
    const json& ratios = out["ratios"];
    QVERIFY(ratios.contains("decode_row_over_prefill_row_continuous_c3"));
    QVERIFY(ratios["decode_row_over_prefill_row_continuous_c3"].get<double>() > 0);
    QVERIFY(!ratios.contains("decode_row_over_prefill_row_continuous_c1"));  // no batch to compare at c1
}

QTEST_GUILESS_MAIN(TestCliServingBench)
#include "tst_cli_serving_bench.moc"
