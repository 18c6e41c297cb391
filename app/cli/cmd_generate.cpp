// `peregrine-cli generate`: stream a completion (or a chat reply) to stdout, stats to stderr.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "commands.h"
#include "peregrine/context.h"
#include "peregrine/error.h"
#include "peregrine/generation.h"
#include "peregrine/loaded_model.h"

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
};

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
    const GenerationResult result = generate(context, *loaded.vocab, prompt_ids, gparams, stream);

    if (opt.json) {
        nlohmann::json out = {{"prompt_tokens", result.prompt_tokens},
                              {"tokens", result.tokens},
                              {"text", result.text},
                              {"stats", stats_json(result.stats, result)}};
        out["stats"]["seed"] = result.seed;
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
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
