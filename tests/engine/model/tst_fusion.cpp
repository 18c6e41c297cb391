// The CPU backend's fused ops (RMSNorm into the matmul's activation conversion, SwiGLU into the gate/up
// matmul, RoPE into the K/V cache write; kernels/cpu/fusion.h) against the separate ops, on the real
// models and on every CPU path: every logit of a prefill, a two-sequence batch and a greedy continuation must be identical,
// since the fused ops run the same row kernels on the same values (only the passes over memory and the
// barriers between them differ).
#include <QtTest>

#include <random>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/fusion.h"
#include "model_fixtures.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

// Everything the model computes for one scenario, in order: the logits of each pass and the greedy
// tokens.
struct Trace {
    std::vector<float> logits;
    std::vector<int32_t> tokens;
};

void append(Trace& t, std::span<const float> logits) { t.logits.insert(t.logits.end(), logits.begin(), logits.end()); }

// A prompt of more rows than one chunk of the fused SwiGLU (128), with a tail that is not a whole GEMM tile.
std::vector<int32_t> long_prompt(int n_vocab, int n) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> token(2, n_vocab - 1);
    std::vector<int32_t> p{1};
    while (static_cast<int>(p.size()) < n) p.push_back(token(rng));
    return p;
}

Trace run(const std::shared_ptr<const Model>& model, bool fused, int n_threads) {
    kernels::cpu::set_fusion_enabled(fused);
    ContextParams params = small_context();
    params.n_threads = n_threads;
    Context ctx(model, params);
    Trace t;
    // Sequence 0: a 150-row prefill with every row's logits, then greedy decoding.
    const std::vector<int32_t> prompt = long_prompt(model->info().n_vocab, 150);
    Batch b;
    for (size_t i = 0; i < prompt.size(); ++i) b.add(0, static_cast<int32_t>(i), prompt[i], true);
    append(t, ctx.decode(b));
    std::vector<float> last(t.logits.end() - model->info().n_vocab, t.logits.end());
    // Sequence 1 joins: its prompt and sequence 0's next token in one batch (rows at different slots).
    b.clear();
    for (size_t i = 0; i < kSaraAndBen.size(); ++i) b.add(1, static_cast<int32_t>(i), kSaraAndBen[i], i + 1 == kSaraAndBen.size());
    b.add(0, static_cast<int32_t>(prompt.size()), argmax(last), true);
    append(t, ctx.decode(b));
    for (int i = 0; i < 8; ++i) {
        const int32_t next = argmax(last);
        t.tokens.push_back(next);
        Batch one;
        one.add(0, ctx.sequence_length(0), next, true);
        const std::span<const float> logits = ctx.decode(one);
        append(t, logits);
        last.assign(logits.begin(), logits.end());
    }
    kernels::cpu::set_fusion_enabled(true);
    return t;
}

}  // namespace

class TestFusion : public QObject {
    Q_OBJECT

private slots:
    void cleanup() {
        kernels::cpu::set_fusion_enabled(true);
        kernels::cpu::set_cpu_path(kernels::cpu::best_cpu_path());
    }

    void fused_equals_unfused_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("threads");
        QTest::addColumn<int>("path");
        using kernels::cpu::CpuPath;
        for (const char* file : {"stories260K-f32.gguf", "stories260K-f16.gguf", "stories260K-q4_0.gguf",
                                 "stories260K-q8_0.gguf", "stories260K-q4_k_m.gguf", "llama-2-tiny-random.gguf"}) {
            for (CpuPath path : {CpuPath::Scalar, CpuPath::Avx2, CpuPath::Avx512}) {
                for (int threads : {1, 2}) {
                    QTest::addRow("%s %s t=%d", file, kernels::cpu::cpu_path_name(path), threads)
                        << QString(file) << threads << static_cast<int>(path);
                }
            }
        }
    }
    void fused_equals_unfused() {
        QFETCH(QString, file);
        QFETCH(int, threads);
        QFETCH(int, path);
        if (!kernels::cpu::cpu_supports(static_cast<kernels::cpu::CpuPath>(path))) QSKIP("this CPU cannot run the path");
        kernels::cpu::set_cpu_path(static_cast<kernels::cpu::CpuPath>(path));
        const auto model = load_model(file.toStdString());
        const Trace fused = run(model, true, threads);
        const Trace unfused = run(model, false, threads);
        QCOMPARE(fused.logits.size(), unfused.logits.size());
        const double diff = max_abs_diff(fused.logits, unfused.logits);
        qInfo("%zu logits, max |fused - unfused| = %.3g", fused.logits.size(), diff);
        QCOMPARE(diff, 0.0);
        QCOMPARE(fused.tokens, unfused.tokens);
        // The scenario must have computed something: finite logits that are not all alike.
        QVERIFY(std::all_of(fused.logits.begin(), fused.logits.end(), [](float v) { return std::isfinite(v); }));
        QVERIFY(*std::max_element(fused.logits.begin(), fused.logits.end()) >
                *std::min_element(fused.logits.begin(), fused.logits.end()));
    }
};

QTEST_GUILESS_MAIN(TestFusion)
#include "tst_fusion.moc"
