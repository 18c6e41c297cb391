// `peregrine-cli generate`: stream a completion (or a chat reply) to stdout, stats to stderr.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>
#include <fstream>
#include <sstream>
#include <thread>

#include "commands.h"
#include "peregrine/context.h"
#include "peregrine/error.h"
#include "peregrine/generation.h"
#include "peregrine/grammar.h"
#include "peregrine/loaded_model.h"
#include "peregrine/speculative.h"

namespace peregrine::cli {
namespace {

struct GenerateOptions {
    std::string model_path;
    std::string prompt;
    std::string prompt_file;
    std::string system_prompt;
    int n_predict = 128;
    int n_threads = 0;
    int n_ctx = 0;
    int n_batch = 512;
    bool chat = false;
    bool json = false;
    bool no_kv_cache = false;
    bool echo = false;
    std::vector<std::string> stop;
    SamplingParams sampling;
    std::string spec = "none";    // none | lookup | lookahead | draft:PATH
    std::string draft_k = "4";    // K or auto
    float draft_threshold = 0;    // threshold drafting (draft model): stop below this probability
    bool draft_threshold_adapt = false;
    int draft_threads = 1;
    std::string grammar_file;
    std::string json_schema_file;
    bool no_force_tokens = false;
};

std::string read_text_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InvalidRequestError(std::string("cannot read ") + what + " file " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// --spec / --draft-k / --grammar / --json-schema: the speculative and guided loop's options. Returns
// false when none is asked for (plain generate() then runs).
bool speculative_options(const GenerateOptions& opt, const LoadedModel& target, SpeculativeOptions& out,
                         std::unique_ptr<DraftSource>& source) {
    if (opt.draft_k == "auto") {
        out.adaptive_k = true;
        out.draft_k = 8;
    } else {
        try {
            out.draft_k = std::stoi(opt.draft_k);
        } catch (const std::exception&) {
            throw InvalidRequestError("--draft-k must be a number or 'auto', not '" + opt.draft_k + "'");
        }
    }
    if (opt.spec == "lookup") {
        source = make_prompt_lookup_source();
    } else if (opt.spec == "lookahead") {
        source = make_lookahead_source();
    } else if (DraftModelParams dp; !parse_draft_model_spec(opt.spec, dp).empty()) {
        const LoadedModel draft = LoadedModel::load(parse_draft_model_spec(opt.spec, dp));
        check_draft_vocabulary(*target.vocab, *draft.vocab);
        dp.n_threads = opt.draft_threads;
        dp.min_probability = opt.draft_threshold;
        dp.adaptive_threshold = opt.draft_threshold_adapt;
        source = make_draft_model_source(draft.model, dp);
    } else if (opt.spec != "none") {
        throw InvalidRequestError("--spec must be none, lookup, lookahead or draft:PATH (staged speculation: "
                                  "tree:PATH, draft-lookup:PATH, staged:PATH), not '" + opt.spec + "'");
    }
    out.draft = source.get();
    if (!opt.grammar_file.empty()) out.grammar = Grammar::parse(read_text_file(opt.grammar_file, "grammar"));
    if (!opt.json_schema_file.empty()) {
        out.grammar = Grammar::from_json_schema(read_text_file(opt.json_schema_file, "JSON schema"));
    }
    out.force_grammar_tokens = !opt.no_force_tokens;
    return source || out.grammar;
}

nlohmann::json stats_json(const GenerationStats& s, const GenerationResult& r) {
    return {{"prompt_tokens", s.n_prompt_tokens},
            {"generated_tokens", s.n_generated},
            {"prefill_ms", s.prefill_ms},
            {"prefill_tokens_per_second", s.prefill_tokens_per_second()},
            {"decode_ms", s.decode_ms},
            {"decode_tokens_per_second", s.decode_tokens_per_second()},
            {"time_to_first_token_ms", s.time_to_first_token_ms},
            {"stop_reason", std::string(stop_reason_name(r.stop_reason))}};
}

int run(const GenerateOptions& opt) {
    std::string prompt = opt.prompt;
    if (!opt.prompt_file.empty()) {
        std::ifstream in(opt.prompt_file, std::ios::binary);
        if (!in) throw InvalidRequestError("cannot read prompt file " + opt.prompt_file);
        std::ostringstream ss;
        ss << in.rdbuf();
        prompt = ss.str();
    }

    const LoadedModel loaded = LoadedModel::load(opt.model_path);
    std::vector<int32_t> prompt_ids;
    if (opt.chat) {
        std::vector<ChatMessage> messages;
        if (!opt.system_prompt.empty()) messages.push_back({"system", opt.system_prompt});
        messages.push_back({"user", prompt});
        prompt_ids = loaded.tokenize_chat(messages, /*add_generation_prompt=*/true);
    } else {
        prompt_ids = loaded.tokenize_prompt(prompt);
    }

    ContextParams cparams;
    cparams.n_ctx = opt.n_ctx;
    cparams.n_threads = opt.n_threads;
    cparams.n_seq_max = 1;
    cparams.use_kv_cache = !opt.no_kv_cache;
    Context context(loaded.model, cparams);

    GenerationParams gparams;
    gparams.n_predict = opt.n_predict;
    gparams.sampling = opt.sampling;
    gparams.stop_strings = opt.stop;
    gparams.n_batch = opt.n_batch;

    if (opt.echo && !opt.json) {
        std::fputs(prompt.c_str(), stdout);
        std::fflush(stdout);
    }
    TextCallback stream;
    if (!opt.json) {
        stream = [](std::string_view delta) {
            std::fwrite(delta.data(), 1, delta.size(), stdout);
            std::fflush(stdout);
            return true;
        };
    }
    SpeculativeOptions spec;
    std::unique_ptr<DraftSource> source;
    std::optional<SpeculativeStats> spec_stats;
    GenerationResult result;
    if (speculative_options(opt, loaded, spec, source)) {
        SpeculativeResult r = generate_speculative(context, *loaded.vocab, prompt_ids, gparams, spec, stream);
        result = std::move(r.generation);
        spec_stats = r.speculative;
    } else {
        result = generate(context, *loaded.vocab, prompt_ids, gparams, stream);
    }

    if (opt.json) {
        nlohmann::json out = {{"prompt_tokens", result.prompt_tokens},
                              {"tokens", result.tokens},
                              {"text", result.text},
                              {"stats", stats_json(result.stats, result)}};
        out["stats"]["seed"] = result.seed;
        if (spec_stats) {
            const SpeculativeStats& x = *spec_stats;
            out["stats"]["speculative"] = {{"source", opt.spec},
                                           {"drafted", x.n_drafted},
                                           {"accepted", x.n_accepted},
                                           {"acceptance_rate", x.acceptance_rate()},
                                           {"verify_passes", x.n_verify_passes},
                                           {"tokens_per_verify_pass", x.tokens_per_verify_pass()},
                                           {"forced_tokens", x.n_forced},
                                           {"forward_passes", x.n_forward_passes},
                                           {"forward_passes_per_token", x.forward_passes_per_token()},
                                           {"draft_ms", x.draft_ms},
                                           {"verify_ms", x.verify_ms}};
        }
        // Invalid UTF-8 (a model can emit a lone byte token) is replaced rather than aborting the dump.
        std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        const GenerationStats& s = result.stats;
        std::fputc('\n', stdout);
        std::fflush(stdout);
        std::fprintf(stderr,
                     "[prompt %d tokens, prefill %.1f tok/s | generated %d tokens, decode %.1f tok/s | "
                     "time to first token %.1f ms | stop: %s]\n",
                     s.n_prompt_tokens, s.prefill_tokens_per_second(), s.n_generated,
                     s.decode_tokens_per_second(), s.time_to_first_token_ms,
                     std::string(stop_reason_name(result.stop_reason)).c_str());
        if (spec_stats) {
            const SpeculativeStats& x = *spec_stats;
            std::fprintf(stderr,
                         "[spec %s: drafted %lld, accepted %lld (%.0f%%), %.2f tokens per verify pass | forced %lld | "
                         "%lld forward passes, %.2f per token]\n",
                         opt.spec.c_str(), static_cast<long long>(x.n_drafted), static_cast<long long>(x.n_accepted),
                         100.0 * x.acceptance_rate(), x.tokens_per_verify_pass(), static_cast<long long>(x.n_forced),
                         static_cast<long long>(x.n_forward_passes), x.forward_passes_per_token());
        }
    }
    return 0;
}

}  // namespace

CommandRunner add_generate_command(CLI::App& app) {
    auto opt = std::make_shared<GenerateOptions>();
    auto* cmd = app.add_subcommand("generate", "Generate text from a prompt");
    cmd->add_option("-m,--model", opt->model_path, "GGUF model file")->required();
    auto* p = cmd->add_option("-p,--prompt", opt->prompt, "Prompt text");
    auto* f = cmd->add_option("-f,--file", opt->prompt_file, "Read the prompt from a file");
    p->excludes(f);
    cmd->add_option("-n,--n-predict", opt->n_predict, "Tokens to generate (-1: until the context is full)")
        ->capture_default_str();
    cmd->add_option("--temp", opt->sampling.temperature, "Temperature (0: greedy)")->capture_default_str();
    cmd->add_option("--top-k", opt->sampling.top_k, "Top-k (0: off)")->capture_default_str();
    cmd->add_option("--top-p", opt->sampling.top_p, "Top-p (1: off)")->capture_default_str();
    cmd->add_option("--min-p", opt->sampling.min_p, "Min-p (0: off)")->capture_default_str();
    cmd->add_option("--repeat-penalty", opt->sampling.repeat_penalty, "Repetition penalty (1: off)")
        ->capture_default_str();
    cmd->add_option("--repeat-last-n", opt->sampling.repeat_last_n, "Tokens the penalties look back over")
        ->capture_default_str();
    cmd->add_option("--frequency-penalty", opt->sampling.frequency_penalty)->capture_default_str();
    cmd->add_option("--presence-penalty", opt->sampling.presence_penalty)->capture_default_str();
    cmd->add_option("-s,--seed", opt->sampling.seed, "RNG seed (same seed and settings: same output)");
    cmd->add_option("-t,--threads", opt->n_threads, "CPU threads (0: all cores)")->capture_default_str();
    cmd->add_option("-c,--ctx-size", opt->n_ctx, "Context length (0: the model's)")->capture_default_str();
    cmd->add_option("-b,--batch-size", opt->n_batch, "Prompt tokens per forward pass")->capture_default_str();
    cmd->add_option("--stop", opt->stop, "Stop before this string (repeatable)");
    cmd->add_flag("--chat", opt->chat, "Wrap the prompt in the model's chat template as a user message");
    cmd->add_option("--system", opt->system_prompt, "System prompt (with --chat)");
    cmd->add_flag("--json", opt->json, "Print one JSON object with ids, text and stats");
    cmd->add_flag("--echo", opt->echo, "Print the prompt before the generated text");
    cmd->add_flag("--no-kv-cache", opt->no_kv_cache,
                  "Recompute the whole sequence for every token (the slow baseline)");
    cmd->add_option("--spec", opt->spec,
                    "Speculative decoding: none, lookup (prompt lookup), lookahead (Jacobi guesses), draft:PATH (draft "
                    "model), tree:PATH (draft model, tree drafts), draft-lookup:PATH (prompt lookup drafts for the "
                    "draft model) or staged:PATH (both)")
        ->capture_default_str();
    cmd->add_option("--draft-k", opt->draft_k, "Guesses verified per pass: a number, or auto (adaptive, up to 8)")
        ->capture_default_str();
    cmd->add_option("--draft-threshold", opt->draft_threshold,
                    "Draft model: stop drafting when its probability of a guess is below this (0: off)")
        ->capture_default_str();
    cmd->add_flag("--draft-threshold-adapt", opt->draft_threshold_adapt,
                  "Move the draft threshold with the recent acceptance rate");
    cmd->add_option("--draft-threads", opt->draft_threads, "CPU threads of the draft model")->capture_default_str();
    auto* g = cmd->add_option("--grammar", opt->grammar_file, "Constrain the output to a GBNF grammar file");
    cmd->add_option("--json-schema", opt->json_schema_file, "Constrain the output to a JSON schema file")->excludes(g);
    cmd->add_flag("--no-force-tokens", opt->no_force_tokens,
                  "With a grammar: sample even the tokens the grammar determines (one pass each)");
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
