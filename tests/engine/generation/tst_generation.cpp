// The generation loop on the real trained tiny model: stop strings, cancellation, limits, and the
// streamed text adding up to the result.
#include <QtTest>

#include "peregrine/context.h"
#include "peregrine/error.h"
#include "peregrine/generation.h"
#include "peregrine/loaded_model.h"
#include "support/test_paths.h"

using namespace peregrine;

class TestGeneration : public QObject {
    Q_OBJECT
private:
    LoadedModel loaded_;
    GenerationParams greedy(int n) const {
        GenerationParams p;
        p.n_predict = n;
        p.sampling.temperature = 0;
        return p;
    }
    GenerationResult run(const std::string& prompt, const GenerationParams& p, const TextCallback& cb = {},
                         int n_ctx = 0) {
        ContextParams cp;
        cp.n_ctx = n_ctx;
        cp.n_threads = 2;
        Context ctx(loaded_.model, cp);
        return generate(ctx, *loaded_.vocab, loaded_.tokenize_prompt(prompt), p, cb);
    }

private slots:
    void initTestCase() { loaded_ = LoadedModel::load(test::model_path("stories260K-f32.gguf")); }

    void streamedTextEqualsResultText() {
        std::string streamed;
        const auto r = run("Once upon a time", greedy(64), [&](std::string_view d) {
            streamed.append(d);
            return true;
        });
        QCOMPARE(r.tokens.size(), size_t(64));
        QCOMPARE(r.stop_reason, StopReason::Length);
        QCOMPARE(streamed, r.text);
        QVERIFY(r.text.starts_with(", there was a little girl named Lily"));
        QCOMPARE(r.stats.n_prompt_tokens, 5);
        QCOMPARE(r.stats.n_generated, 64);
        QVERIFY(r.stats.decode_tokens_per_second() > 0);
        QVERIFY(r.stats.time_to_first_token_ms > 0);
    }

    // The text before the stop string is kept; the stop string itself is never shown, not even partly.
    void stopStringCutsTextAndIsNeverStreamed() {
        const auto full = run("Once upon a time", greedy(64));
        const std::string stop = "named Lily";
        const size_t at = full.text.find(stop);
        QVERIFY(at != std::string::npos);
        auto p = greedy(64);
        p.stop_strings = {stop, "never appears in the story"};
        std::string streamed;
        const auto r = run("Once upon a time", p, [&](std::string_view d) {
            streamed.append(d);
            return true;
        });
        QCOMPARE(r.stop_reason, StopReason::StopString);
        QCOMPARE(r.text, full.text.substr(0, at));
        QCOMPARE(streamed, r.text);
        QVERIFY(r.tokens.size() < full.tokens.size());
    }

    void callbackReturningFalseCancelsAndKeepsPartialText() {
        int calls = 0;
        std::string streamed;
        const auto r = run("Once upon a time", greedy(64), [&](std::string_view d) {
            streamed.append(d);
            return ++calls < 5;
        });
        QCOMPARE(r.stop_reason, StopReason::Cancelled);
        QCOMPARE(calls, 5);
        QCOMPARE(r.text, streamed);
        QVERIFY(r.tokens.size() < 10);
    }

    void contextFullStopsGeneration() {
        const auto r = run("Once upon a time", greedy(100), {}, /*n_ctx=*/16);
        QCOMPARE(r.stop_reason, StopReason::ContextFull);
        QCOMPARE(int(r.prompt_tokens.size() + r.tokens.size()), 16);
    }

    void promptLongerThanContextIsAnError() {
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError,
                                 run("Once upon a time there was a girl who liked to play", greedy(4), {}, 8));
    }

    // Same seed and settings give the same tokens; the KV blocks are returned when a run ends.
    void seededSamplingIsReproducibleAndFreesBlocks() {
        ContextParams cp;
        cp.n_threads = 2;
        Context ctx(loaded_.model, cp);
        GenerationParams p;
        p.n_predict = 40;
        p.sampling.temperature = 1.0f;
        p.sampling.seed = 1234;
        const auto prompt = loaded_.tokenize_prompt("The dog");
        const auto a = generate(ctx, *loaded_.vocab, prompt, p);
        QCOMPARE(ctx.kv_stats().blocks_used, 0);
        const auto b = generate(ctx, *loaded_.vocab, prompt, p);
        QCOMPARE(a.tokens, b.tokens);
        QCOMPARE(a.seed, uint64_t(1234));
        p.sampling.seed = 4321;
        const auto c = generate(ctx, *loaded_.vocab, prompt, p);
        QVERIFY(a.tokens != c.tokens);
    }
};

QTEST_GUILESS_MAIN(TestGeneration)
#include "tst_generation.moc"
