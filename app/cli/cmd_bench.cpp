// `peregrine-cli bench`: prefill and decode speed on a model, llama-bench style (synthetic prompt of
// random token ids, greedy-free: tokens are fed, not sampled), with optional baselines measured in the
// same process so every figure comes with a ratio.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "commands.h"
#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/model.h"

namespace peregrine::cli {
namespace {

struct BenchOptions {
    std::string model_path;
    int n_prompt = 128;
    int n_gen = 64;
    int repetitions = 3;
    int n_threads = 0;
    int n_batch = 512;
    bool compare_no_kv_cache = false;
    bool json = false;
};

struct Figures {
    double prefill_tps = 0;
    double decode_tps = 0;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

// One configuration: `repetitions` runs of prefill(n_prompt) then n_gen single-token decodes.
Figures measure(const std::shared_ptr<const Model>& model, const BenchOptions& opt, bool use_kv_cache) {
    ContextParams cparams;
    cparams.n_ctx = opt.n_prompt + opt.n_gen + 1;
    cparams.n_threads = opt.n_threads;
    cparams.n_seq_max = 1;
    cparams.use_kv_cache = use_kv_cache;
    Context context(model, cparams);
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> token(0, model->info().n_vocab - 1);

    std::vector<double> prefill, decode;
    for (int rep = 0; rep < opt.repetitions + 1; ++rep) {  // the first run warms caches and is dropped
        context.remove_sequence(0);
        Batch batch;
        const auto t0 = std::chrono::steady_clock::now();
        for (int begin = 0; begin < opt.n_prompt; begin += opt.n_batch) {
            batch.rows.clear();
            const int end = std::min(opt.n_prompt, begin + opt.n_batch);
            for (int i = begin; i < end; ++i) batch.add(0, i, token(rng), i + 1 == opt.n_prompt);
            context.decode(batch);
        }
        const auto t1 = std::chrono::steady_clock::now();
        for (int i = 0; i < opt.n_gen; ++i) {
            batch.rows.clear();
            batch.add(0, opt.n_prompt + i, token(rng), true);
            context.decode(batch);
        }
        const auto t2 = std::chrono::steady_clock::now();
        if (rep == 0) continue;
        prefill.push_back(opt.n_prompt / std::chrono::duration<double>(t1 - t0).count());
        decode.push_back(opt.n_gen / std::chrono::duration<double>(t2 - t1).count());
    }
    return {median(prefill), median(decode)};
}

int run(const BenchOptions& opt) {
    const auto model = Model::load(opt.model_path);
    const Figures cached = measure(model, opt, true);
    nlohmann::json out = {{"model", opt.model_path}, {"n_prompt", opt.n_prompt}, {"n_gen", opt.n_gen},
                          {"repetitions", opt.repetitions}, {"threads", opt.n_threads},
                          {"kv_cache", {{"prefill_tps", cached.prefill_tps}, {"decode_tps", cached.decode_tps}}}};
    if (!opt.json) {
        std::printf("model %s, prompt %d, generate %d, median of %d runs\n", opt.model_path.c_str(), opt.n_prompt,
                    opt.n_gen, opt.repetitions);
        std::printf("  kv cache        prefill %10.1f tok/s   decode %10.1f tok/s\n", cached.prefill_tps,
                    cached.decode_tps);
    }
    if (opt.compare_no_kv_cache) {
        const Figures naive = measure(model, opt, false);
        const double ratio = naive.decode_tps > 0 ? cached.decode_tps / naive.decode_tps : 0.0;
        out["no_kv_cache"] = {{"prefill_tps", naive.prefill_tps}, {"decode_tps", naive.decode_tps}};
        out["decode_speedup_kv_cache_vs_none"] = ratio;
        if (!opt.json) {
            std::printf("  no kv cache     prefill %10.1f tok/s   decode %10.1f tok/s\n", naive.prefill_tps,
                        naive.decode_tps);
            std::printf("  decode speed-up of the KV cache: %.2fx\n", ratio);
        }
    }
    if (opt.json) std::puts(out.dump(2).c_str());
    return 0;
}

}  // namespace

CommandRunner add_bench_command(CLI::App& app) {
    auto opt = std::make_shared<BenchOptions>();
    auto* cmd = app.add_subcommand("bench", "Measure prefill and decode tokens/s");
    cmd->add_option("-m,--model", opt->model_path, "GGUF model file")->required();
    cmd->add_option("-p,--n-prompt", opt->n_prompt, "Prompt tokens")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("-n,--n-gen", opt->n_gen, "Generated tokens")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("-r,--repetitions", opt->repetitions, "Measured runs (median reported)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("-t,--threads", opt->n_threads, "CPU threads (0: all cores)")->capture_default_str();
    cmd->add_option("-b,--batch-size", opt->n_batch, "Prompt tokens per forward pass")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--compare-no-kv-cache", opt->compare_no_kv_cache,
                  "Also run the recompute-everything baseline and print the ratio");
    cmd->add_flag("--json", opt->json, "Print JSON");
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
