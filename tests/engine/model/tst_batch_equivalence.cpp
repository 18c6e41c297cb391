// One forward pass serves prompts, many sequences' next tokens and multi-token verification. Whatever
// way the same tokens are grouped into passes, the logits must be bit-identical: every output element
// is computed by the same kernel call whatever else shares the pass (kernels/cpu/matmul.h), and each
// row's attention reads only its own sequence. (llama.cpp itself differs by about 1e-7 relative between
// a batch and single rows, because its kernels pick a different summation order for each.)
#include <QTemporaryDir>
#include <QtTest>

#include "model_fixtures.h"
#include "peregrine/error.h"
#include "peregrine/quantize_model.h"
#include "peregrine/random_model.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

std::vector<float> copy(std::span<const float> s) { return {s.begin(), s.end()}; }

// Greedy continuation of `prompt` on sequence 0: prefill as one batch, then one token per decode.
std::vector<int32_t> greedy(Context& ctx, const std::vector<int32_t>& prompt, int n, std::vector<float>* last = nullptr) {
    std::vector<float> logits = prefill(ctx, 0, prompt);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
        const int32_t t = argmax(logits);
        out.push_back(t);
        Batch b;
        b.add(0, ctx.sequence_length(0), t, true);
        logits = copy(ctx.decode(b));
    }
    if (last) *last = logits;
    return out;
}

}  // namespace

class TestBatchEquivalence : public QObject {
    Q_OBJECT

private slots:
    void two_sequences_in_one_batch_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("f32") << "stories260K-f32.gguf";
        QTest::newRow("f16") << "stories260K-f16.gguf";
    }
    void two_sequences_in_one_batch() {
        QFETCH(QString, file);
        const auto model = load_model(file.toStdString());
        const int n_vocab = model->info().n_vocab;
        Context both(model, small_context());
        Batch b;
        for (size_t i = 0; i < kOnceUponATime.size(); ++i) b.add(0, int32_t(i), kOnceUponATime[i], i + 1 == kOnceUponATime.size());
        for (size_t i = 0; i < kSaraAndBen.size(); ++i) b.add(1, int32_t(i), kSaraAndBen[i], i + 1 == kSaraAndBen.size());
        const std::vector<float> joint = copy(both.decode(b));
        QCOMPARE(joint.size(), size_t(2 * n_vocab));

        Context alone(model, small_context());
        const std::vector<float> a = prefill(alone, 0, kOnceUponATime);
        const std::vector<float> c = prefill(alone, 1, kSaraAndBen);
        const double d0 = max_abs_diff(std::span(joint).first(n_vocab), a);
        const double d1 = max_abs_diff(std::span(joint).last(n_vocab), c);
        qInfo("max |dlogit|: sequence 0 %.2e, sequence 1 %.2e", d0, d1);
        QCOMPARE(d0, 0.0);
        QCOMPARE(d1, 0.0);

        // Next tokens of both sequences in one pass, against each on its own (a pass of two rows against
        // passes of one).
        b.clear();
        b.add(0, 5, argmax(a), true);
        b.add(1, 14, argmax(c), true);
        const std::vector<float> next = copy(both.decode(b));
        Batch one;
        one.add(0, 5, argmax(a), true);
        const std::vector<float> next0 = copy(alone.decode(one));
        one.clear();
        one.add(1, 14, argmax(c), true);
        const std::vector<float> next1 = copy(alone.decode(one));
        const double n0 = max_abs_diff(std::span(next).first(n_vocab), next0);
        const double n1 = max_abs_diff(std::span(next).last(n_vocab), next1);
        qInfo("next token, max |dlogit|: sequence 0 %.2e, sequence 1 %.2e", n0, n1);
        QCOMPARE(n0, 0.0);
        QCOMPARE(n1, 0.0);
        QCOMPARE(argmax(std::span(next).first(n_vocab)), argmax(next0));
        QCOMPARE(argmax(std::span(next).last(n_vocab)), argmax(next1));
    }

    void token_by_token_equals_one_batch_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("f32") << "stories260K-f32.gguf";
        QTest::newRow("q8_0") << "stories260K-q8_0.gguf";
    }
    void token_by_token_equals_one_batch() {
        QFETCH(QString, file);
        const auto model = load_model(file.toStdString());
        Context batch(model, small_context());
        const std::vector<float> whole = prefill(batch, 0, kOnceUponATime);
        Context single(model, small_context());
        std::vector<float> last;
        for (size_t i = 0; i < kOnceUponATime.size(); ++i) {
            Batch b;
            b.add(0, int32_t(i), kOnceUponATime[i], true);
            last = copy(single.decode(b));
        }
        const double d = max_abs_diff(whole, last);
        qInfo("max |dlogit| one batch vs token by token: %.2e", d);
        QCOMPARE(d, 0.0);
    }

    void every_row_can_want_logits() {
        // A speculative verification pass: all rows of a multi-token chunk return logits, in row order,
        // and the last equals the prompt's logits when only the last row asks.
        const auto model = load_model("stories260K-f32.gguf");
        const int n_vocab = model->info().n_vocab;
        Context ctx(model, small_context());
        Batch b;
        for (size_t i = 0; i < kOnceUponATime.size(); ++i) b.add(0, int32_t(i), kOnceUponATime[i], true);
        QCOMPARE(b.n_logit_rows(), kOnceUponATime.size());
        const std::vector<float> all = copy(ctx.decode(b));
        QCOMPARE(all.size(), kOnceUponATime.size() * n_vocab);
        Context ref(model, small_context());
        const std::vector<float> last = prefill(ref, 0, kOnceUponATime);
        QCOMPARE(max_abs_diff(std::span(all).last(n_vocab), last), 0.0);
        // Row 3 predicts token 4 of the prompt ("time" after "Once upon a").
        QCOMPARE(argmax(std::span(all).subspan(3 * n_vocab, n_vocab)), kOnceUponATime[4]);
    }

    void thread_count_does_not_change_results_data() {
        QTest::addColumn<QString>("type");
        QTest::newRow("q4_0") << "q4_0";      // prefill through the GEMM kernel
        QTest::newRow("q4_K_M") << "q4_K_M";  // Q4_K and Q6_K tiles
    }
    void thread_count_does_not_change_results() {
        // Each output element is computed by one thread in a fixed order, so the split cannot matter. The
        // backend does not split ops too small to be worth it, so the model is one with 512-wide layers
        // (random weights, stories260K's tokenizer), where matmuls and attention do get split.
        QFETCH(QString, type);
        QTemporaryDir dir;
        RandomModelSpec spec = random_model_preset("tinyllama-1.1b");
        spec.n_layer = 2;
        spec.n_embd = 512;
        spec.n_head = 8;
        spec.n_head_kv = 2;
        spec.n_ff = 2048;
        spec.scheme = *parse_quant_scheme(type.toStdString());
        const std::string path = dir.filePath("split.gguf").toStdString();
        write_random_model(spec, *gguf::GgufFile::open(model_path("stories260K-f32.gguf")), path);
        const auto model = Model::load(path);
        ContextParams p = small_context();
        p.n_threads = 1;
        Context one(model, p);
        p.n_threads = 5;
        Context five(model, p);
        QCOMPARE(five.n_threads(), 5);
        std::vector<float> a, b;
        QCOMPARE(greedy(five, kSaraAndBen, 6, &b), greedy(one, kSaraAndBen, 6, &a));
        QCOMPARE(b, a);
    }

    void truncate_then_redecode() {
        const auto model = load_model("stories260K-q4_0.gguf");
        Context ctx(model, small_context());
        const std::vector<float> p = prefill(ctx, 0, kLilyWantedTo);
        // Draft three tokens in one pass, reject all but the first, then redo the second.
        Batch draft;
        draft.add(0, 5, argmax(p), true);
        draft.add(0, 6, 300, true);
        draft.add(0, 7, 301, true);
        ctx.decode(draft);
        QCOMPARE(ctx.sequence_length(0), 8);
        ctx.truncate_sequence(0, 6);
        QCOMPARE(ctx.sequence_length(0), 6);
        Batch again;
        again.add(0, 6, 300, true);
        const std::vector<float> redone = copy(ctx.decode(again));

        Context ref(model, small_context());
        prefill(ref, 0, kLilyWantedTo);
        Batch first;
        first.add(0, 5, argmax(p), false);
        first.add(0, 6, 300, true);
        first.add(0, 7, 301, false);
        ref.decode(first);  // the same pass shape as the draft
        ref.truncate_sequence(0, 6);
        QCOMPARE(redone, copy(ref.decode(again)));

        // Truncating and re-decoding the very same rows reproduces their logits exactly.
        ctx.truncate_sequence(0, 6);
        QCOMPARE(copy(ctx.decode(again)), redone);
    }

    void no_kv_cache_matches_cached_path_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("f32") << "stories260K-f32.gguf";
        QTest::newRow("q4_0") << "stories260K-q4_0.gguf";
    }
    void no_kv_cache_matches_cached_path() {
        QFETCH(QString, file);
        const auto model = load_model(file.toStdString());
        ContextParams p = small_context();
        Context cached(model, p);
        p.use_kv_cache = false;
        Context recompute(model, p);
        QVERIFY(!recompute.uses_kv_cache());
        std::vector<float> last_cached, last_recomputed;
        const std::vector<int32_t> a = greedy(cached, kOnceUponATime, 32, &last_cached);
        const std::vector<int32_t> b = greedy(recompute, kOnceUponATime, 32, &last_recomputed);
        QCOMPARE(b, a);
        QCOMPARE(last_recomputed, last_cached);  // bit for bit: no result depends on the pass's shape
        QCOMPARE(recompute.sequence_length(0), 5 + 32);
        QCOMPARE(recompute.kv_stats().blocks_used, 0);  // nothing is kept between decodes
    }

    void no_kv_cache_with_several_sequences() {
        const auto model = load_model("stories260K-q8_0.gguf");
        ContextParams p = small_context();
        Context cached(model, p);
        p.use_kv_cache = false;
        Context recompute(model, p);
        for (Context* ctx : {&cached, &recompute}) {
            prefill(*ctx, 0, kOnceUponATime);
            prefill(*ctx, 1, kLilyWantedTo);
            ctx->fork_sequence(1, 2);
            ctx->truncate_sequence(0, 3);
        }
        Batch b;
        b.add(0, 3, 261, true);
        b.add(1, 5, 300, false);
        b.add(2, 5, 301, true);
        b.add(1, 6, 302, true);
        const std::vector<float> x = copy(cached.decode(b));
        QCOMPARE(copy(recompute.decode(b)), x);
        QCOMPARE(recompute.sequence_length(1), 7);
        QCOMPARE(recompute.sequence_length(2), 6);
    }
};

QTEST_GUILESS_MAIN(TestBatchEquivalence)
#include "tst_batch_equivalence.moc"
