// Guided generation on real models: the token mask equals a token-by-token check of the grammar, every
// sampled output over many seeds is valid JSON that satisfies its schema (nested objects, arrays, enums,
// numbers, escaped strings), greedy guided output is the model's own greedy choice among the allowed
// tokens at every step (replayed with the same forward passes), forced tokens cut the forward passes per
// token, and speculation on top of a grammar changes nothing in the output.
#include <QtTest>

#include <QElapsedTimer>

#include "peregrine/context.h"
#include "peregrine/grammar.h"
#include "peregrine/loaded_model.h"
#include "peregrine/speculative.h"
#include "schema_validator.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

const char* kPerson =
    "{\"type\": \"object\", \"properties\": {"
    "  \"name\": {\"type\": \"string\", \"maxLength\": 10},"
    "  \"age\": {\"type\": \"integer\"},"
    "  \"mood\": {\"enum\": [\"happy\", \"sad\", \"sleepy\"]},"
    "  \"friends\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 6}, \"maxItems\": 3},"
    "  \"pet\": {\"type\": \"object\", \"properties\": {\"kind\": {\"type\": \"string\", \"maxLength\": 6},"
    "            \"legs\": {\"type\": \"number\"}}, \"required\": [\"kind\"]}},"
    " \"required\": [\"name\", \"age\", \"mood\"]}";

// Escaped strings (quotes, backslashes, control characters, non-ASCII) that the model must reproduce.
const char* kQuotes =
    "{\"type\": \"object\", \"properties\": {"
    "  \"line\": {\"enum\": [\"say \\\"hi\\\"\", \"a\\\\b\", \"tab\\there\\n\", \"caf\\u00e9\"]},"
    "  \"note\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 8},"
    "  \"ok\": {\"type\": \"boolean\"}, \"none\": {\"type\": \"null\"}},"
    " \"required\": [\"line\", \"note\", \"ok\"]}";

const char* kShapes =
    "{\"type\": \"array\", \"minItems\": 1, \"maxItems\": 3, \"items\": {\"$ref\": \"#/$defs/shape\"},"
    " \"$defs\": {\"shape\": {\"type\": \"object\", \"properties\": {"
    "   \"kind\": {\"enum\": [\"circle\", \"square\"]},"
    "   \"size\": {\"anyOf\": [{\"type\": \"number\"}, {\"type\": \"null\"}]},"
    "   \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"maxItems\": 2}},"
    "  \"required\": [\"kind\", \"size\"]}}}";

const char* kSchemas[] = {kPerson, kQuotes, kShapes};

struct Replay {
    int mismatches = 0;
    int sampled_steps = 0;
    int forced_steps = 0;
};

}  // namespace

class TestGuidedGeneration : public QObject {
    Q_OBJECT

private:
    LoadedModel stories_, random_;
    std::shared_ptr<const GrammarVocabulary> stories_vocab_, random_vocab_;

    SpeculativeResult run(const LoadedModel& m, const std::shared_ptr<const GrammarVocabulary>& gv,
                          const std::string& schema, const std::string& prompt, const SamplingParams& sp,
                          bool force, DraftSource* draft = nullptr, int n_predict = 400) {
        ContextParams cp;
        cp.n_ctx = 512;
        cp.n_threads = 1;
        cp.n_seq_max = 1;
        Context ctx(m.model, cp);
        GenerationParams p;
        p.n_predict = n_predict;
        p.sampling = sp;
        SpeculativeOptions opt;
        opt.grammar = Grammar::from_json_schema(schema);
        opt.grammar_vocabulary = gv;
        opt.force_grammar_tokens = force;
        opt.draft = draft;
        opt.draft_k = 4;
        return generate_speculative(ctx, *m.vocab, m.tokenize_prompt(prompt), p, opt);
    }

    // Replays a greedy guided run with plain decoding: forced tokens (when forcing) are fed as one chunk
    // with the next sampled step, as the loop does, so every pass has the loop's shape and the logits are
    // the very ones the loop saw. Each sampled token must be the argmax of the masked logits.
    Replay replay(const LoadedModel& m, const std::shared_ptr<const GrammarVocabulary>& gv, const std::string& schema,
                  const std::vector<int32_t>& prompt, const std::vector<int32_t>& tokens, bool force) {
        Replay r;
        ContextParams cp;
        cp.n_ctx = 512;
        cp.n_threads = 1;
        Context ctx(m.model, cp);
        GrammarMatcher matcher(Grammar::from_json_schema(schema), gv);
        std::vector<int32_t> pending = prompt;  // tokens not yet fed
        int32_t pos = 0;
        for (int32_t token : tokens) {
            const int32_t forced = force ? matcher.forced_token() : -1;
            if (forced >= 0) {
                ++r.forced_steps;
                if (token != forced) ++r.mismatches;
            } else {
                Batch b;
                for (size_t i = 0; i < pending.size(); ++i) b.add(0, pos + int32_t(i), pending[i], i + 1 == pending.size());
                pos += int32_t(pending.size());
                pending.clear();
                const auto raw = ctx.decode(b);
                std::vector<float> logits(raw.begin(), raw.end());
                matcher.apply_mask(logits);
                const int32_t best = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
                ++r.sampled_steps;
                if (token != best) ++r.mismatches;
            }
            if (!matcher.accept_token(token)) ++r.mismatches;
            pending.push_back(token);
        }
        return r;
    }

private slots:
    void initTestCase() {
        stories_ = LoadedModel::load(test::model_path("stories260K-f32.gguf"));
        random_ = LoadedModel::load(test::model_path("llama-2-tiny-random.gguf"));
        stories_vocab_ = std::make_shared<GrammarVocabulary>(*stories_.vocab);
        random_vocab_ = std::make_shared<GrammarVocabulary>(*random_.vocab);
    }

    void mask_equals_token_by_token_check_data() {
        QTest::addColumn<bool>("llama_vocab");
        QTest::addColumn<QString>("grammar");
        QTest::addColumn<QByteArray>("prefix");  // bytes: may end inside a UTF-8 character
        QTest::newRow("stories json start") << false << "json:person" << QByteArray("");
        QTest::newRow("stories inside a string") << false << "json:person" << QByteArray("{\"name\":\"Li");
        QTest::newRow("llama json start") << true << "json:person" << QByteArray("");
        QTest::newRow("llama inside a string") << true << "json:person" << QByteArray("{\"name\":\"Li");
        QTest::newRow("llama after a number") << true << "json:person" << QByteArray("{\"name\":\"Li\",\"age\":12");
        QTest::newRow("llama enum") << true << "json:person" << QByteArray("{\"name\":\"Li\",\"age\":12,\"mood\":\"s");
        QTest::newRow("llama before the last brace") << true << "json:person" << QByteArray("{\"name\":\"\",\"age\":1,\"mood\":\"sad\"");
        QTest::newRow("llama half a character") << true << "root ::= [\u00e0-\u00ff]+ \"!\"" << QByteArray("\u00e9\xc3");
        QTest::newRow("llama words") << true << "root ::= (\" \" [a-z]+)+ \".\"" << QByteArray(" hello wor");
    }
    void mask_equals_token_by_token_check() {
        QFETCH(bool, llama_vocab);
        QFETCH(QString, grammar);
        QFETCH(QByteArray, prefix);
        const auto& gv = llama_vocab ? random_vocab_ : stories_vocab_;
        auto g = grammar == "json:person" ? Grammar::from_json_schema(kPerson) : Grammar::parse(grammar.toStdString());
        GrammarMatcher m(g, gv);
        QVERIFY(m.accept_text(prefix.toStdString()));
        QCOMPARE(m.can_end(), false);
        std::vector<uint8_t> allowed;
        QElapsedTimer timer;
        timer.start();
        m.allowed_tokens(allowed);
        const double mask_ms = double(timer.nsecsElapsed()) / 1e6;
        QCOMPARE(int(allowed.size()), gv->n_tokens());
        int n_allowed = 0, differ = 0;
        for (int32_t id = 0; id < gv->n_tokens(); ++id) {
            n_allowed += allowed[size_t(id)];
            differ += (allowed[size_t(id)] != 0) != m.is_allowed(id);
        }
        qInfo("%d of %d tokens allowed (mask computed in %.2f ms)", n_allowed, gv->n_tokens(), mask_ms);
        QCOMPARE(differ, 0);
        QVERIFY(n_allowed > 0);
    }

    void sampled_outputs_satisfy_their_schemas_data() {
        QTest::addColumn<int>("schema");
        QTest::addColumn<bool>("llama_vocab");
        QTest::addColumn<bool>("speculate");
        for (int s = 0; s < int(std::size(kSchemas)); ++s) {
            QTest::addRow("stories/schema %d", s) << s << false << false;
            QTest::addRow("stories/schema %d/lookup", s) << s << false << true;
            QTest::addRow("llama vocab/schema %d", s) << s << true << false;
        }
    }
    void sampled_outputs_satisfy_their_schemas() {
        QFETCH(int, schema);
        QFETCH(bool, llama_vocab);
        QFETCH(bool, speculate);
        const LoadedModel& m = llama_vocab ? random_ : stories_;
        const auto schema_json = test::ordered_json::parse(kSchemas[schema]);
        auto lookup = make_prompt_lookup_source();
        const int n_seeds = 30;
        int64_t forced = 0, passes = 0, tokens = 0;
        for (int seed = 0; seed < n_seeds; ++seed) {
            SamplingParams sp;
            sp.temperature = 1.0f;
            sp.seed = uint64_t(seed);
            const SpeculativeResult r = run(m, llama_vocab ? random_vocab_ : stories_vocab_, kSchemas[schema],
                                            "Lily and her friend", sp, true, speculate ? lookup.get() : nullptr);
            QCOMPARE(r.generation.stop_reason, StopReason::EndOfGeneration);  // the grammar was completed
            const auto value = test::ordered_json::parse(r.generation.text, nullptr, false);
            QVERIFY2(!value.is_discarded(), r.generation.text.c_str());
            const std::string error = test::validate_json(value, schema_json, schema_json);
            QVERIFY2(error.empty(), (error + " in " + r.generation.text).c_str());
            forced += r.speculative.n_forced;
            passes += r.speculative.n_forward_passes;
            tokens += r.speculative.n_generated;
            if (seed == 0) qInfo("seed 0: %s", r.generation.text.c_str());
        }
        qInfo("%d seeds: %lld tokens, %lld forced, %.2f forward passes per token", n_seeds, (long long)tokens,
              (long long)forced, double(passes) / double(tokens));
    }

    void greedy_guided_is_greedy_among_allowed_tokens_data() {
        QTest::addColumn<bool>("llama_vocab");
        QTest::addColumn<int>("schema");
        QTest::addColumn<bool>("force");
        for (bool llama : {false, true}) {
            for (int s = 0; s < int(std::size(kSchemas)); ++s) {
                for (bool force : {false, true}) {
                    QTest::addRow("%s/schema %d/%s", llama ? "llama vocab" : "stories", s, force ? "forced" : "sampled")
                        << llama << s << force;
                }
            }
        }
    }
    void greedy_guided_is_greedy_among_allowed_tokens() {
        QFETCH(bool, llama_vocab);
        QFETCH(int, schema);
        QFETCH(bool, force);
        const LoadedModel& m = llama_vocab ? random_ : stories_;
        const auto& gv = llama_vocab ? random_vocab_ : stories_vocab_;
        SamplingParams greedy;
        greedy.temperature = 0;
        const std::string prompt = "Once upon a time";
        const SpeculativeResult r = run(m, gv, kSchemas[schema], prompt, greedy, force);
        QCOMPARE(r.generation.stop_reason, StopReason::EndOfGeneration);
        const Replay rep = replay(m, gv, kSchemas[schema], m.tokenize_prompt(prompt), r.generation.tokens, force);
        qInfo("%d tokens: %d chosen as the masked argmax, %d forced; %lld forward passes (%.2f per token)",
              int(r.generation.tokens.size()), rep.sampled_steps, rep.forced_steps,
              (long long)r.speculative.n_forward_passes, r.speculative.forward_passes_per_token());
        QCOMPARE(rep.mismatches, 0);
        QCOMPARE(int64_t(rep.forced_steps), r.speculative.n_forced);
        if (force) {
            QVERIFY(rep.forced_steps > 0);
            QVERIFY(r.speculative.n_forward_passes < int64_t(r.generation.tokens.size()));
        } else {
            QCOMPARE(r.speculative.n_forward_passes, int64_t(r.generation.tokens.size()));
        }
    }

    void speculation_under_a_grammar_changes_nothing_data() {
        QTest::addColumn<int>("schema");
        QTest::addColumn<QString>("source");
        for (int s = 0; s < int(std::size(kSchemas)); ++s) {
            QTest::addRow("schema %d/lookup", s) << s << "lookup";
            QTest::addRow("schema %d/draft", s) << s << "draft";
        }
    }
    void speculation_under_a_grammar_changes_nothing() {
        QFETCH(int, schema);
        QFETCH(QString, source);
        SamplingParams greedy;
        greedy.temperature = 0;
        const SpeculativeResult plain = run(stories_, stories_vocab_, kSchemas[schema], "Ben had a red ball", greedy, true);
        std::unique_ptr<DraftSource> draft =
            source == "lookup" ? make_prompt_lookup_source()
                               : make_draft_model_source(LoadedModel::load(test::model_path("stories260K-q4_0.gguf")).model,
                                                         {.n_ctx = 512, .n_threads = 1});
        const SpeculativeResult spec =
            run(stories_, stories_vocab_, kSchemas[schema], "Ben had a red ball", greedy, true, draft.get());
        QCOMPARE(spec.generation.tokens, plain.generation.tokens);
        QCOMPARE(spec.generation.text, plain.generation.text);
        qInfo("%lld guesses, %lld kept; %lld forward passes against %lld without speculation",
              (long long)spec.speculative.n_drafted, (long long)spec.speculative.n_accepted,
              (long long)spec.speculative.n_forward_passes, (long long)plain.speculative.n_forward_passes);
        if (source == "draft") QVERIFY(spec.speculative.n_drafted > 0);
    }

    void sampling_with_a_draft_model_under_a_grammar_stays_valid() {
        auto draft = make_draft_model_source(LoadedModel::load(test::model_path("stories260K-q4_0.gguf")).model,
                                             {.n_ctx = 512, .n_threads = 1});
        const auto schema_json = test::ordered_json::parse(kPerson);
        int64_t drafted = 0;
        for (int seed = 0; seed < 20; ++seed) {
            SamplingParams sp;
            sp.temperature = 0.8f;
            sp.seed = uint64_t(seed);
            const SpeculativeResult r = run(stories_, stories_vocab_, kPerson, "Lily", sp, true, draft.get());
            const auto value = test::ordered_json::parse(r.generation.text, nullptr, false);
            QVERIFY2(!value.is_discarded(), r.generation.text.c_str());
            QVERIFY(test::validate_json(value, schema_json, schema_json).empty());
            drafted += r.speculative.n_drafted;
        }
        QVERIFY(drafted > 0);
    }

    void exploding_ambiguity_is_an_error_not_a_hang() {
        // After n "a"s each sequence of "b"s and "c"s still owed is a separate parse: 2^n stacks.
        GrammarMatcher m(Grammar::parse("root ::= s\ns ::= \"a\" s \"b\" | \"a\" s \"c\" | \"\""), stories_vocab_);
        QVERIFY(m.accept_text("aaaa"));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, m.accept_text(std::string(20, 'a')));
    }
};

QTEST_GUILESS_MAIN(TestGuidedGeneration)
#include "tst_guided_generation.moc"
