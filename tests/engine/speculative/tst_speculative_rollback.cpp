// Rejected guesses leave nothing behind. A source that knows the right continuation proposes it with a
// wrong token at draft position (pass number mod K+1), so over a generation every draft position is
// rejected many times, with rows after the wrong guess written and then rolled back. Every logits row
// the loop uses must match a fresh context that never saw a wrong guess (the whole accepted history in
// one pass). Stale KV would be a different attention input; the gap to a run with one token changed
// shows how large that difference is. The draft model's own rollback is checked the same way: after
// proposals on diverging histories its guesses equal those of a fresh draft context.
#include <QtTest>

#include "spec_fixtures.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

class MistakeSource final : public DraftSource {
public:
    MistakeSource(std::vector<int32_t> expected, size_t prompt_len, int32_t n_vocab)
        : expected_(std::move(expected)), prompt_len_(prompt_len), n_vocab_(n_vocab) {}
    std::string_view name() const override { return "mistakes"; }
    void propose(std::span<const int32_t> history, int max_tokens, Draft& out) override {
        out.clear();
        const size_t done = history.size() - prompt_len_;
        const int right = passes_++ % (max_tokens + 1);  // max_tokens: no mistake in this pass
        for (int i = 0; i < max_tokens && done + size_t(i) < expected_.size(); ++i) {
            const int32_t good = expected_[done + size_t(i)];
            out.tokens.push_back(i < right ? good : (good + 1 + i) % n_vocab_);
        }
    }
    int passes() const { return passes_; }

private:
    std::vector<int32_t> expected_;
    size_t prompt_len_;
    int32_t n_vocab_;
    int passes_ = 0;
};

std::vector<float> fresh_logits(const std::shared_ptr<const Model>& model, const std::vector<int32_t>& tokens) {
    Context ctx(model, test_context());
    Batch b;
    for (size_t i = 0; i < tokens.size(); ++i) b.add(0, int32_t(i), tokens[i], i + 1 == tokens.size());
    const auto l = ctx.decode(b);
    return {l.begin(), l.end()};
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::abs(a[i] - b[i])));
    return d;
}

}  // namespace

class TestSpeculativeRollback : public QObject {
    Q_OBJECT

private slots:
    void rejected_rows_leave_no_stale_kv_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("k");
        QTest::addColumn<double>("tolerance");
        // Tolerance: the multi-row vs single-row summation difference of each weight type (see
        // tst_batch_equivalence), far below the effect of a changed attention input (printed).
        QTest::newRow("f32/k4") << "stories260K-f32.gguf" << 4 << 1e-3;
        QTest::newRow("f32/k8") << "stories260K-f32.gguf" << 8 << 1e-3;
        QTest::newRow("q4_0/k5") << "stories260K-q4_0.gguf" << 5 << 2e-2;
        QTest::newRow("f16/k3") << "stories260K-f16.gguf" << 3 << 2e-2;
        QTest::newRow("tiny-random/k4") << "llama-2-tiny-random.gguf" << 4 << 1e-4;
    }
    void rejected_rows_leave_no_stale_kv() {
        QFETCH(QString, file);
        QFETCH(int, k);
        QFETCH(double, tolerance);
        const LoadedModel& m = loaded(file.toStdString());
        const auto prompt = m.tokenize_prompt("Once upon a time, there was a little");
        const int n = 40;
        Context ctx(m.model, test_context());
        const GenerationResult plain = generate(ctx, *m.vocab, prompt, greedy_params(n));

        MistakeSource source(plain.tokens, prompt.size(), m.vocab->n_tokens());
        std::vector<std::pair<int32_t, std::vector<float>>> rows;
        SpeculativeOptions opt;
        opt.draft = &source;
        opt.draft_k = k;
        opt.on_logits = [&](int32_t pos, std::span<const float> logits) {
            rows.emplace_back(pos, std::vector<float>(logits.begin(), logits.end()));
        };
        const SpeculativeResult r = generate_speculative(ctx, *m.vocab, prompt, greedy_params(n), opt);
        QCOMPARE(r.generation.tokens, plain.tokens);
        QVERIFY(r.speculative.n_drafted > r.speculative.n_accepted);  // rejections happened
        QCOMPARE(int(rows.size()), n);                                // one decision per position

        std::vector<int32_t> history = prompt;
        history.insert(history.end(), plain.tokens.begin(), plain.tokens.end());
        double worst = 0, smallest_changed = 1e30;
        for (const auto& [pos, logits] : rows) {
            const std::vector<int32_t> before(history.begin(), history.begin() + pos);
            worst = std::max(worst, max_abs_diff(logits, fresh_logits(m.model, before)));
            // What a wrong attention input looks like: the previous token changed.
            std::vector<int32_t> changed = before;
            changed.back() = (changed.back() + 1) % m.vocab->n_tokens();
            smallest_changed = std::min(smallest_changed, max_abs_diff(logits, fresh_logits(m.model, changed)));
        }
        qInfo("%d passes, %lld guesses, %lld kept; max |dlogit| vs fresh context %.2e (tolerance %.0e); with "
              "one input token changed at least %.2e",
              source.passes(), (long long)r.speculative.n_drafted, (long long)r.speculative.n_accepted, worst,
              tolerance, smallest_changed);
        QVERIFY(worst <= tolerance);
        QVERIFY(smallest_changed > 10 * tolerance);
    }

    void draft_model_rolls_back_its_own_cache() {
        const LoadedModel& m = loaded("stories260K-f32.gguf");
        const LoadedModel& d = loaded("stories260K-q4_0.gguf");
        const DraftRequest greedy{greedy_params(1).sampling, 0, m.vocab->n_tokens(), {}};
        auto reused = make_draft_model_source(d.model, {.n_ctx = 256, .n_threads = 1});
        reused->begin(greedy);
        const auto base = m.tokenize_prompt("Once upon a time, there was a little girl");
        Draft a, b;
        // Histories that share a prefix, diverge, come back, grow and shrink: the reused source must
        // roll back to the shared part each time and guess exactly what a fresh source guesses.
        std::vector<std::vector<int32_t>> histories;
        histories.push_back(base);
        reused->propose(base, 6, a);
        std::vector<int32_t> h = base;
        h.insert(h.end(), a.tokens.begin(), a.tokens.begin() + 2);  // two guesses kept
        h.push_back(300);                                           // then another token
        histories.push_back(h);
        std::vector<int32_t> other(base.begin(), base.begin() + 4);
        other.push_back(411);
        histories.push_back(other);
        histories.push_back(base);
        std::vector<int32_t> longer = h;
        longer.insert(longer.end(), {266, 267, 268});
        histories.push_back(longer);
        for (const auto& hist : histories) {
            reused->propose(hist, 6, a);
            auto fresh = make_draft_model_source(d.model, {.n_ctx = 256, .n_threads = 1});
            fresh->begin(greedy);
            fresh->propose(hist, 6, b);
            QCOMPARE(a.tokens, b.tokens);
            QCOMPARE(int(a.tokens.size()), 6);
        }
        reused->end();
    }

    void threshold_drafting_stops_at_low_confidence() {
        const LoadedModel& m = loaded("stories260K-f32.gguf");
        const DraftRequest greedy{greedy_params(1).sampling, 0, m.vocab->n_tokens(), {}};
        auto all = make_draft_model_source(m.model, {.n_ctx = 256, .n_threads = 1});
        auto sure = make_draft_model_source(m.model, {.n_ctx = 256, .n_threads = 1, .min_probability = 0.9f});
        all->begin(greedy);
        sure->begin(greedy);
        const auto prompt = m.tokenize_prompt("Once upon a time, there was a little girl");
        Draft a, b;
        all->propose(prompt, 16, a);
        sure->propose(prompt, 16, b);
        QCOMPARE(int(a.tokens.size()), 16);
        QVERIFY(b.tokens.size() < a.tokens.size());  // some guess of this story is below 0.9
        QVERIFY(std::equal(b.tokens.begin(), b.tokens.end(), a.tokens.begin()));  // a prefix of the same guesses
    }
};

QTEST_GUILESS_MAIN(TestSpeculativeRollback)
#include "tst_speculative_rollback.moc"
