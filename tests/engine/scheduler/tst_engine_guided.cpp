// Guided generation through the request-level Engine API: requests with a grammar (JSON schemas
// compiled to one) batched with each other and with unconstrained requests. On the trained tiny model
// (stories260K, f32 so a batched pass cannot flip a greedy choice) every guided request produces exactly
// what generate_speculative() with the same grammar produces alone (greedy, and sampled with the same
// seed: the runner draws from the same masked logits in the same order), forced tokens are counted the
// same way and cost no sampling step, every sampled output over many seeds validates against its schema,
// and every block is back in the pool afterwards.
#include <QtTest>

#include <condition_variable>
#include <map>
#include <mutex>

#include "../grammar/schema_validator.h"
#include "peregrine/engine.h"
#include "peregrine/error.h"
#include "peregrine/grammar.h"
#include "peregrine/speculative.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

constexpr int kCtx = 512;

const char* kPerson =
    "{\"type\": \"object\", \"properties\": {"
    "  \"name\": {\"type\": \"string\", \"maxLength\": 10},"
    "  \"age\": {\"type\": \"integer\"},"
    "  \"mood\": {\"enum\": [\"happy\", \"sad\", \"sleepy\"]},"
    "  \"friends\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 6}, \"maxItems\": 3},"
    "  \"pet\": {\"type\": \"object\", \"properties\": {\"kind\": {\"type\": \"string\", \"maxLength\": 6},"
    "            \"legs\": {\"type\": \"number\"}}, \"required\": [\"kind\"]}},"
    " \"required\": [\"name\", \"age\", \"mood\"]}";

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
const char* kPrompts[] = {"Once upon a time", "Lily and her friend", "Ben had a red ball"};

struct Outcome {
    std::vector<int32_t> tokens;
    std::string text;
    StopReason reason = StopReason::Length;
    std::string error;
    int n_forced = 0;
    bool finished = false;
};

EngineParams engine_params(int n_seq, int kv_pool_blocks = 0) {
    EngineParams p;
    p.context.n_ctx = kCtx;
    p.context.n_threads = 1;
    p.context.n_seq_max = n_seq;
    p.context.kv_block_size = 16;
    p.context.kv_pool_blocks = kv_pool_blocks;
    p.max_batch_tokens = 64;
    return p;
}

}  // namespace

class TestEngineGuided : public QObject {
    Q_OBJECT

private:
    LoadedModel loaded_;
    std::shared_ptr<const GrammarVocabulary> vocabulary_;
    std::vector<std::shared_ptr<const Grammar>> grammars_;

    SpeculativeResult alone(int schema, const std::vector<int32_t>& prompt, const SamplingParams& sp, bool force,
                            int n_predict = 400) const {
        ContextParams cp;
        cp.n_ctx = kCtx;
        cp.n_threads = 1;
        cp.n_seq_max = 1;
        Context ctx(loaded_.model, cp);
        GenerationParams gp;
        gp.n_predict = n_predict;
        gp.sampling = sp;
        SpeculativeOptions opt;
        opt.grammar = grammars_[size_t(schema)];
        opt.grammar_vocabulary = vocabulary_;
        opt.force_grammar_tokens = force;
        return generate_speculative(ctx, *loaded_.vocab, prompt, gp, opt);
    }

    EngineRequest guided(int schema, const std::vector<int32_t>& prompt, const SamplingParams& sp, bool force,
                         int max_tokens = 400) const {
        EngineRequest r;
        r.prompt = prompt;
        r.max_tokens = max_tokens;
        r.sampling = sp;
        r.grammar = grammars_[size_t(schema)];
        r.force_grammar_tokens = force;
        return r;
    }

    static std::map<uint64_t, Outcome> run_core(EngineCore& core, const std::vector<EngineRequest>& requests,
                                                int* sampling_rows = nullptr) {
        std::map<uint64_t, Outcome> out;
        for (size_t i = 0; i < requests.size(); ++i) {
            core.submit(i, requests[i], [&out](const RequestUpdate& u) {
                Outcome& o = out[u.request_id * 100 + static_cast<uint64_t>(u.index)];
                o.tokens.insert(o.tokens.end(), u.tokens.begin(), u.tokens.end());
                o.text += u.text;
                o.n_forced = u.n_forced;
                if (u.finished) {
                    o.finished = true;
                    o.reason = u.stop_reason;
                    o.error = u.error;
                }
            });
        }
        int rows = 0;
        for (int i = 0; i < 100000 && core.has_work(); ++i) rows += core.step().n_sequences;
        if (sampling_rows) *sampling_rows = rows;
        return out;
    }

    static void verify_pool_is_whole(const EngineCore& core) {
        const EngineStats s = core.stats();
        QCOMPARE(s.kv.blocks_used, 0);
        QCOMPARE(s.kv.blocks_free, s.kv.blocks_total);
        QCOMPARE(s.n_running, 0);
        QCOMPARE(s.n_waiting, 0);
    }

    static std::string validate(const std::string& text, int schema) {
        const auto schema_json = test::ordered_json::parse(kSchemas[schema]);
        const auto value = test::ordered_json::parse(text, nullptr, false);
        if (value.is_discarded()) return "not JSON: " + text;
        const std::string error = test::validate_json(value, schema_json, schema_json);
        return error.empty() ? "" : error + " in " + text;
    }

private slots:
    void initTestCase() {
        loaded_ = LoadedModel::load(test::model_path("stories260K-f32.gguf"));
        vocabulary_ = std::make_shared<GrammarVocabulary>(*loaded_.vocab);
        for (const char* s : kSchemas) grammars_.push_back(Grammar::from_json_schema(s));
    }

    // Three schemas x three prompts, all guided requests in one batch with two unconstrained ones: each
    // gets exactly generate_speculative()'s guided tokens, with and without forcing.
    void greedy_guided_equals_generate_alone_data() {
        QTest::addColumn<bool>("force");
        QTest::newRow("forced") << true;
        QTest::newRow("sampled only") << false;
    }
    void greedy_guided_equals_generate_alone() {
        QFETCH(bool, force);
        SamplingParams greedy;
        greedy.temperature = 0;
        std::vector<EngineRequest> requests;
        std::vector<SpeculativeResult> expected;
        for (int s = 0; s < 3; ++s) {
            for (int p = 0; p < 3; ++p) {
                const auto prompt = loaded_.tokenize_prompt(kPrompts[p]);
                requests.push_back(guided(s, prompt, greedy, force));
                expected.push_back(alone(s, prompt, greedy, force));
            }
        }
        EngineRequest free_text;
        free_text.prompt = loaded_.tokenize_prompt("The cat");
        free_text.max_tokens = 40;
        free_text.sampling = greedy;
        requests.push_back(free_text);
        requests.push_back(free_text);

        EngineCore core(loaded_, engine_params(8));
        const auto out = run_core(core, requests);
        int64_t total_forced = 0, total_tokens = 0;
        for (size_t i = 0; i < expected.size(); ++i) {
            const Outcome& o = out.at(i * 100);
            const SpeculativeResult& e = expected[i];
            QVERIFY(o.finished);
            QVERIFY2(o.error.empty(), o.error.c_str());
            QCOMPARE(e.generation.stop_reason, StopReason::EndOfGeneration);
            QCOMPARE(o.reason, StopReason::EndOfGeneration);
            QCOMPARE(o.tokens, e.generation.tokens);
            QCOMPARE(o.text, e.generation.text);
            QCOMPARE(int64_t(o.n_forced), e.speculative.n_forced);
            const std::string error = validate(o.text, int(i / 3));
            QVERIFY2(error.empty(), error.c_str());
            total_forced += o.n_forced;
            total_tokens += int64_t(o.tokens.size());
        }
        if (force) {
            QVERIFY(total_forced > total_tokens / 4);  // the JSON's fixed parts were not sampled
        } else {
            QCOMPARE(total_forced, int64_t(0));
        }
        QCOMPARE(core.stats().forced_tokens, uint64_t(total_forced));
        QCOMPARE(out.at(9 * 100).tokens.size(), size_t(40));  // the unconstrained ones ran alongside
        QCOMPARE(out.at(9 * 100).tokens, out.at(10 * 100).tokens);
        verify_pool_is_whole(core);
    }

    // Forced tokens need no sampling step: the guided request takes fewer steps than it has tokens.
    void forced_tokens_are_computed_as_extra_rows() {
        SamplingParams greedy;
        greedy.temperature = 0;
        const auto prompt = loaded_.tokenize_prompt(kPrompts[0]);
        EngineCore forced(loaded_, engine_params(1));
        EngineCore sampled(loaded_, engine_params(1));
        const auto a = run_core(forced, {guided(0, prompt, greedy, true)});
        const auto b = run_core(sampled, {guided(0, prompt, greedy, false)});
        // (The texts differ: a forced run is cut into the longest tokens, which the model need not choose.)
        QCOMPARE(a.at(0).reason, StopReason::EndOfGeneration);
        QCOMPARE(b.at(0).reason, StopReason::EndOfGeneration);
        const uint64_t n = a.at(0).tokens.size();
        // One step prefills the prompt and decides the first token; each later step samples one. With
        // forcing, a step decides a token and appends the forced run after it (the first token, "{", is
        // forced too, but the prompt's step is needed anyway).
        QCOMPARE(sampled.stats().steps, uint64_t(b.at(0).tokens.size()));
        const uint64_t chosen = n - uint64_t(a.at(0).n_forced);
        QVERIFY(forced.stats().steps >= chosen && forced.stats().steps <= chosen + 1);
        QVERIFY(a.at(0).n_forced >= 10);  // keys, quotes, braces
        qInfo("%llu tokens, %d forced: %llu steps (%.2f per token); %zu tokens in %llu steps without forcing",
              (unsigned long long)n, a.at(0).n_forced, (unsigned long long)forced.stats().steps,
              double(forced.stats().steps) / double(n), b.at(0).tokens.size(),
              (unsigned long long)sampled.stats().steps);
    }

    // 3 schemas x 20 seeds sampled at temperature 1, eight at a time under a small block pool (so some
    // are preempted and recomputed mid-JSON): every output is valid and equals its run alone.
    void sampled_outputs_validate_over_seeds() {
        std::vector<EngineRequest> requests;
        std::vector<int> schema_of;
        std::vector<std::vector<int32_t>> prompts;
        for (int s = 0; s < 3; ++s) {
            for (int seed = 0; seed < 20; ++seed) {
                SamplingParams sp;
                sp.temperature = 1.0f;
                sp.seed = uint64_t(seed);
                prompts.push_back(loaded_.tokenize_prompt(kPrompts[seed % 3]));
                requests.push_back(guided(s, prompts.back(), sp, true));
                schema_of.push_back(s);
            }
        }
        EngineCore core(loaded_, engine_params(8, /*kv_pool_blocks=*/24));
        const auto out = run_core(core, requests);
        QCOMPARE(out.size(), requests.size());
        for (size_t i = 0; i < requests.size(); ++i) {
            const Outcome& o = out.at(i * 100);
            QVERIFY(o.finished);
            QCOMPARE(o.reason, StopReason::EndOfGeneration);
            const std::string error = validate(o.text, schema_of[i]);
            QVERIFY2(error.empty(), error.c_str());
            if (i % 7 == 0) {  // a sample of them against generate_speculative() alone, same seed
                const SpeculativeResult e = alone(schema_of[i], prompts[i], requests[i].sampling, true);
                QCOMPARE(o.tokens, e.generation.tokens);
            }
        }
        QVERIFY(core.stats().preemptions > 0);
        verify_pool_is_whole(core);
    }

    // n = 3 parallel samples of one guided request: each has its own parse state.
    void parallel_samples_each_follow_the_grammar() {
        SamplingParams sp;
        sp.temperature = 0.9f;
        sp.seed = 11;
        EngineRequest r = guided(2, loaded_.tokenize_prompt(kPrompts[1]), sp, true);
        r.n = 3;
        EngineCore core(loaded_, engine_params(4));
        const auto out = run_core(core, {r});
        QCOMPARE(out.size(), size_t(3));
        for (uint64_t i = 0; i < 3; ++i) {
            const std::string error = validate(out.at(i).text, 2);
            QVERIFY2(error.empty(), error.c_str());
            SamplingParams own = sp;
            own.seed = 11 + i;
            QCOMPARE(out.at(i).tokens, alone(2, r.prompt, own, true).generation.tokens);
        }
        verify_pool_is_whole(core);
    }

    // A request cut by max_tokens ends with Length (its JSON unfinished), and a stop string inside a
    // forced run ends the text before it, exactly where generate_speculative() ends it.
    void limits_and_stop_strings_inside_forced_runs() {
        SamplingParams greedy;
        greedy.temperature = 0;
        const auto prompt = loaded_.tokenize_prompt(kPrompts[0]);
        const SpeculativeResult full = alone(0, prompt, greedy, true);
        EngineCore core(loaded_, engine_params(4));
        EngineRequest cut = guided(0, prompt, greedy, true, 5);
        EngineRequest stopped = guided(0, prompt, greedy, true);
        stopped.stop_strings = {"\"mood"};  // a key: inside a forced run
        const auto out = run_core(core, {cut, stopped});
        QCOMPARE(out.at(0).reason, StopReason::Length);
        QCOMPARE(out.at(0).tokens.size(), size_t(5));
        QCOMPARE(out.at(0).tokens, std::vector<int32_t>(full.generation.tokens.begin(), full.generation.tokens.begin() + 5));
        QCOMPARE(out.at(100).reason, StopReason::StopString);
        const size_t at = full.generation.text.find("\"mood");
        QVERIFY(at != std::string::npos);
        QCOMPARE(out.at(100).text, full.generation.text.substr(0, at));
        ContextParams cp;
        cp.n_ctx = kCtx;
        cp.n_threads = 1;
        Context ctx(loaded_.model, cp);
        GenerationParams gp;
        gp.n_predict = 400;
        gp.sampling = greedy;
        gp.stop_strings = stopped.stop_strings;
        SpeculativeOptions opt;
        opt.grammar = grammars_[0];
        opt.grammar_vocabulary = vocabulary_;
        const SpeculativeResult e = generate_speculative(ctx, *loaded_.vocab, prompt, gp, opt);
        QCOMPARE(out.at(100).tokens, e.generation.tokens);
        verify_pool_is_whole(core);
    }

    // The threaded Engine, as the server uses it.
    void threaded_engine_serves_guided_requests() {
        Engine engine(loaded_, engine_params(4));
        std::mutex mutex;
        std::condition_variable done;
        std::map<uint64_t, Outcome> out;
        std::map<uint64_t, int> schema_of;
        int finished = 0;
        SamplingParams sp;
        sp.temperature = 0.8f;
        for (int i = 0; i < 6; ++i) {
            sp.seed = uint64_t(100 + i);
            std::lock_guard lock(mutex);
            const uint64_t id = engine.submit(guided(i % 3, loaded_.tokenize_prompt(kPrompts[i % 3]), sp, true),
                                              [&](const RequestUpdate& u) {
                                                  std::lock_guard inner(mutex);
                                                  Outcome& o = out[u.request_id];
                                                  o.text += u.text;
                                                  if (u.all_finished) {
                                                      o.finished = true;
                                                      o.reason = u.stop_reason;
                                                      ++finished;
                                                      done.notify_all();
                                                  }
                                              });
            schema_of[id] = i % 3;
        }
        std::unique_lock lock(mutex);
        QVERIFY(done.wait_for(lock, std::chrono::seconds(120), [&] { return finished == 6; }));
        for (const auto& [id, o] : out) {
            QCOMPARE(o.reason, StopReason::EndOfGeneration);
            const std::string error = validate(o.text, schema_of.at(id));
            QVERIFY2(error.empty(), error.c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestEngineGuided)
#include "tst_engine_guided.moc"
