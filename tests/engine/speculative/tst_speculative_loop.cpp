// generate_speculative keeps generate()'s contract: the same stop reasons at the same token (a stop
// string, an end-of-generation token, cancellation, n_predict or the context end may fall in the middle
// of a run of accepted guesses), the same streamed text, the sequence removed at the end, and the same
// errors for bad requests. Also: prompt lookup's proposals, and the counters.
#include <QtTest>

#include "peregrine/error.h"
#include "spec_fixtures.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {


// A source that proposes a fixed list of guesses whatever the history (to force particular paths).
class ScriptedSource final : public DraftSource {
public:
    explicit ScriptedSource(std::vector<int32_t> tokens) : tokens_(std::move(tokens)) {}
    std::string_view name() const override { return "scripted"; }
    void propose(std::span<const int32_t>, int max_tokens, Draft& out) override {
        out.clear();
        for (int i = 0; i < max_tokens && i < int(tokens_.size()); ++i) out.tokens.push_back(tokens_[size_t(i)]);
    }

private:
    std::vector<int32_t> tokens_;
};

struct Both {
    GenerationResult plain;
    SpeculativeResult spec;
    std::string plain_streamed, spec_streamed;
};

}  // namespace

class TestSpeculativeLoop : public QObject {
    Q_OBJECT

private:
    const LoadedModel& m_ = loaded("stories260K-f32.gguf");
    std::unique_ptr<DraftSource> lookup_ = make_prompt_lookup_source();
    // The model's own greedy story from "Once upon a time", 330 tokens: after it the model starts the
    // same story again, so prompt lookup finds long matches (a repeat-heavy prompt for this model).
    std::vector<int32_t> story_;

    // Runs plain and speculative generation with the same parameters; `stop_after` cancels from the
    // callback once that many bytes were streamed.
    Both run_both(const GenerationParams& p, int n_ctx = 512, size_t stop_after = 0) {
        Both b;
        const std::vector<int32_t>& ids = story_;
        Context ctx(m_.model, test_context(n_ctx));
        b.plain = generate(ctx, *m_.vocab, ids, p, [&](std::string_view d) {
            b.plain_streamed.append(d);
            return stop_after == 0 || b.plain_streamed.size() < stop_after;
        });
        SpeculativeOptions opt;
        opt.draft = lookup_.get();
        opt.draft_k = 8;
        b.spec = generate_speculative(ctx, *m_.vocab, ids, p, opt, [&](std::string_view d) {
            b.spec_streamed.append(d);
            return stop_after == 0 || b.spec_streamed.size() < stop_after;
        });
        return b;
    }

    static void compare(const Both& b) {
        QCOMPARE(b.spec.generation.tokens, b.plain.tokens);
        QCOMPARE(b.spec.generation.text, b.plain.text);
        QCOMPARE(b.spec.generation.stop_reason, b.plain.stop_reason);
        QCOMPARE(b.spec_streamed, b.plain_streamed);
        QCOMPARE(b.spec.generation.prompt_tokens, b.plain.prompt_tokens);
        QCOMPARE(b.spec.generation.stats.n_generated, b.plain.stats.n_generated);
    }

private slots:
    void initTestCase() {
        Context ctx(m_.model, test_context());
        story_ = m_.tokenize_prompt("Once upon a time");
        const GenerationResult r = generate(ctx, *m_.vocab, story_, greedy_params(330));
        story_.insert(story_.end(), r.tokens.begin(), r.tokens.end());
    }

    void repeated_text_is_accepted_and_equal() {
        const Both b = run_both(greedy_params(48));
        compare(b);
        const SpeculativeStats& s = b.spec.speculative;
        qInfo("lookup on a repeating story: %lld drafted, %lld accepted (%.2f), %.2f tokens per verify pass, %lld "
              "forward passes for %d tokens",
              (long long)s.n_drafted, (long long)s.n_accepted, s.acceptance_rate(), s.tokens_per_verify_pass(),
              (long long)s.n_forward_passes, s.n_generated);
        QVERIFY(s.n_accepted >= 10);
        QVERIFY(s.n_forward_passes < s.n_generated);  // fewer passes than tokens: guesses were free
        QCOMPARE(s.n_generated, 48);
    }

    // Stop strings that end inside runs of accepted guesses.
    void stop_string_inside_accepted_guesses_data() {
        QTest::addColumn<QString>("stop");
        QTest::newRow("word") << "red ball";
        QTest::newRow("split across tokens") << "Lily. She lo";
        QTest::newRow("never") << "zebra";
    }
    void stop_string_inside_accepted_guesses() {
        QFETCH(QString, stop);
        GenerationParams p = greedy_params(60);
        p.stop_strings = {stop.toStdString()};
        const Both b = run_both(p);
        compare(b);
        if (stop != "zebra") QCOMPARE(b.plain.stop_reason, StopReason::StopString);
    }

    void cancel_inside_accepted_guesses() {
        for (size_t after : {1u, 7u, 20u, 33u}) {
            const Both b = run_both(greedy_params(60), 512, after);
            compare(b);
            QCOMPARE(b.plain.stop_reason, StopReason::Cancelled);
        }
    }

    void n_predict_limits() {
        for (int n : {0, 1, 2, 3, 9}) {
            const Both b = run_both(greedy_params(n));
            compare(b);
            QCOMPARE(int(b.spec.generation.tokens.size()), n);
        }
    }

    void context_full() {
        // 14 positions after the prompt: plain decoding stops when the next position is the last.
        const int n_ctx = int(story_.size()) + 14;
        const Both b = run_both(greedy_params(-1), n_ctx);
        compare(b);
        QCOMPARE(b.plain.stop_reason, StopReason::ContextFull);
    }

    void end_of_generation_guess() {
        // Guesses that end in EOS: the target does not produce EOS here, so they are rejected, and the
        // output is unchanged; with stop_at_eog off the EOS guess is an ordinary token.
        const auto ids = m_.tokenize_prompt("Once upon a time");
        Context ctx(m_.model, test_context());
        const GenerationResult plain = generate(ctx, *m_.vocab, ids, greedy_params(20));
        ScriptedSource eos({m_.vocab->eos(), m_.vocab->eos()});
        SpeculativeOptions opt;
        opt.draft = &eos;
        opt.draft_k = 2;
        const SpeculativeResult r = generate_speculative(ctx, *m_.vocab, ids, greedy_params(20), opt);
        QCOMPARE(r.generation.tokens, plain.tokens);
        QVERIFY(r.speculative.n_drafted > 0);
        QCOMPARE(r.speculative.n_accepted, int64_t(0));
    }

    void sampled_output_is_reproducible_by_seed() {
        GenerationParams p;
        p.n_predict = 40;
        p.sampling.seed = 7;
        const auto& ids = story_;
        Context ctx(m_.model, test_context());
        SpeculativeOptions opt;
        opt.draft = lookup_.get();
        const SpeculativeResult a = generate_speculative(ctx, *m_.vocab, ids, p, opt);
        const SpeculativeResult b = generate_speculative(ctx, *m_.vocab, ids, p, opt);
        QCOMPARE(a.generation.tokens, b.generation.tokens);
        QCOMPARE(a.generation.seed, uint64_t(7));
        QVERIFY(a.speculative.n_drafted > 0);
    }

    void no_source_is_plain_generation() {
        const auto ids = m_.tokenize_prompt("Lily wanted to");
        Context ctx(m_.model, test_context());
        const GenerationResult plain = generate(ctx, *m_.vocab, ids, greedy_params(30));
        const SpeculativeResult r = generate_speculative(ctx, *m_.vocab, ids, greedy_params(30), {});
        QCOMPARE(r.generation.tokens, plain.tokens);
        QCOMPARE(r.speculative.n_forward_passes, int64_t(30));  // prompt + one per token after the first
        QCOMPARE(r.speculative.n_drafted, int64_t(0));
    }

    void bad_requests_throw() {
        const auto ids = m_.tokenize_prompt("Lily");
        Context ctx(m_.model, test_context(16));
        SpeculativeOptions opt;
        opt.draft = lookup_.get();
        opt.draft_k = 65;
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, generate_speculative(ctx, *m_.vocab, ids, greedy_params(4), opt));
        opt.draft_k = -1;
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, generate_speculative(ctx, *m_.vocab, ids, greedy_params(4), opt));
        opt.draft_k = 4;
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, generate_speculative(ctx, *m_.vocab, {}, greedy_params(4), opt));
        const std::vector<int32_t> too_long(16, 300);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError,
                                 generate_speculative(ctx, *m_.vocab, too_long, greedy_params(4), opt));
        ScriptedSource bad({100000});
        opt.draft = &bad;
        QVERIFY_THROWS_EXCEPTION(Error, generate_speculative(ctx, *m_.vocab, ids, greedy_params(4), opt));
        QCOMPARE(ctx.sequence_length(0), 0);  // nothing left behind by the failed request
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, make_prompt_lookup_source({.ngram_max = 1, .ngram_min = 2}));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, check_draft_vocabulary(*m_.vocab, *loaded("llama-2-tiny-random.gguf").vocab));
    }

    void lookahead_proposes_the_targets_own_predictions() {
        auto source = make_lookahead_source();
        QVERIFY(source->wants_predictions());
        source->begin({});
        Draft d;
        const std::vector<int32_t> h = {10, 11, 12};
        source->propose(h, 4, d);
        QVERIFY(d.tokens.empty());  // nothing seen yet, and the text does not repeat
        // A pass predicted 20 for position 3, then 21, 22, 23 (after wrong guesses).
        const std::vector<int32_t> predicted = {20, 21, 22, 23};
        source->observe(3, predicted);
        const std::vector<int32_t> h2 = {10, 11, 12, 20};  // 20 was emitted at position 3
        source->propose(h2, 2, d);
        QCOMPARE(d.tokens, (std::vector<int32_t>{21, 22}));  // the window's guesses from position 4
        source->propose(h2, 8, d);
        QCOMPARE(d.tokens, (std::vector<int32_t>{21, 22, 23}));  // the pool knows nothing after 23
        // The window does not apply when the text disagrees with its prediction for the last position
        // (21 was predicted at 4): the pool then proposes what was predicted after the last token.
        const std::vector<int32_t> h3 = {10, 11, 12, 99, 22};
        source->propose(h3, 3, d);
        QCOMPARE(d.tokens, (std::vector<int32_t>{23}));
        // Repeated text still goes to prompt lookup first.
        const std::vector<int32_t> h4 = {5, 6, 7, 5, 6};
        source->propose(h4, 2, d);
        QCOMPARE(d.tokens, (std::vector<int32_t>{7, 5}));
    }

    void prompt_lookup_proposes_what_followed() {
        auto source = make_prompt_lookup_source({.ngram_max = 2, .ngram_min = 1});
        Draft d;
        const std::vector<int32_t> h = {5, 6, 7, 8, 9, 6, 7};
        source->propose(h, 3, d);
        QCOMPARE(d.tokens, (std::vector<int32_t>{8, 9, 6}));  // after the earlier "6 7"
        source->propose(h, 10, d);
        QCOMPARE(d.tokens, (std::vector<int32_t>{8, 9, 6, 7}));  // up to the end of the history
        const std::vector<int32_t> none = {1, 2, 3, 4};
        source->propose(none, 3, d);
        QVERIFY(d.tokens.empty());
        const std::vector<int32_t> unigram = {4, 1, 2, 3, 4};  // only the 1-gram "4" matches
        source->propose(unigram, 2, d);
        QCOMPARE(d.tokens, (std::vector<int32_t>{1, 2}));
    }
};

QTEST_GUILESS_MAIN(TestSpeculativeLoop)
#include "tst_speculative_loop.moc"
