// `peregrine-cli bench`: prefill (ppN) and decode (tgN) speed, measured like llama.cpp's llama-bench so the
// numbers line up: random token ids, a fresh context per repetition, one warm-up before the measured
// repetitions; pp is one prompt of N tokens from an empty context, tg is N single-token decodes starting at
// position `depth` (0 unless -d). Each figure is also quoted against the machine's measured limits:
//   decode:  bytes read per token (every weight matrix once, token_embd's one row, and the KV cache read
//            at the test's middle position) x tok/s / streaming read bandwidth;
//   prefill: operations per token (2 per multiply-accumulate of every matrix and of attention; the output
//            projection once per prompt) x tok/s / peak int8 dot-product rate (F32/F16/BF16 weights:
//            peak f32 FMA rate).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "bench_serving.h"
#include "bench_speculative.h"
#include "commands.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/fusion.h"
#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/error.h"
#include "peregrine/model.h"
#include "peregrine/roofline.h"

namespace peregrine::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
    std::string model_path;
    std::vector<int> n_prompt{512};
    std::vector<int> n_gen{128};
    std::vector<int> threads;
    std::vector<int> depth{0};
    int repetitions = 5;
    int n_batch = 512;
    bool compare_no_kv_cache = false;
    std::vector<std::string> fusion;  // "on"/"off": each test once per setting, alternating per repetition
    bool roof = true;
    bool json = false;
};

struct Stats {
    std::vector<double> samples;
    double median = 0, mean = 0, stddev = 0, min = 0, max = 0;
};

Stats stats_of(std::vector<double> v) {
    Stats s;
    s.samples = v;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    s.median = n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    s.min = v.front();
    s.max = v.back();
    for (double x : v) s.mean += x / static_cast<double>(n);
    for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
    s.stddev = n > 1 ? std::sqrt(s.stddev / static_cast<double>(n - 1)) : 0.0;
    return s;
}

// What one token costs, from the model's shapes and tensor sizes.
struct Costs {
    double weight_bytes_per_token = 0;  // decode: every matrix once (token_embd: one row)
    double kv_bytes_per_position = 0;   // f16 K and V of one position, all layers
    double matrix_macs_per_token = 0;   // every matrix except the output projection and token_embd
    double output_macs = 0;             // the vocabulary projection of one row
    double attention_macs_per_position = 0;  // q.k and w.v of one query against one cached position
    bool float_weights = false;         // most weight bytes are F32/F16/BF16
};

Costs costs_of(const Model& model) {
    const ModelInfo& hp = model.info();
    Costs c;
    double float_bytes = 0, all_bytes = 0;
    for (const auto& t : model.gguf().tensors()) {
        const bool embedding = t.name == "token_embd.weight";
        const bool output = t.name == "output.weight" || (hp.tied_output && embedding);
        if (embedding && !hp.tied_output) {
            c.weight_bytes_per_token += static_cast<double>(t.n_bytes) / static_cast<double>(t.dims[1]);
        } else {
            c.weight_bytes_per_token += static_cast<double>(t.n_bytes);
        }
        if (t.dims.size() == 2 && !embedding && !output) {
            c.matrix_macs_per_token += static_cast<double>(t.dims[0]) * static_cast<double>(t.dims[1]);
        }
        if (output) c.output_macs = static_cast<double>(t.dims[0]) * static_cast<double>(t.dims[1]);
        if (t.dims.size() == 2) {
            all_bytes += static_cast<double>(t.n_bytes);
            if (t.type == TensorType::F32 || t.type == TensorType::F16 || t.type == TensorType::BF16) {
                float_bytes += static_cast<double>(t.n_bytes);
            }
        }
    }
    c.kv_bytes_per_position = 2.0 * 2.0 * hp.n_layer * hp.n_embd_kv();
    c.attention_macs_per_position = 2.0 * hp.n_layer * hp.n_head * hp.head_dim;
    c.float_weights = float_bytes > 0.5 * all_bytes;
    return c;
}

struct Machine {
    std::string cpu;
    std::string path;
    std::map<int, double> read_bandwidth;  // bytes/s by thread count
    std::map<int, double> int8_peak;       // ops/s
    std::map<int, double> f32_peak;        // FLOP/s
};

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "unknown CPU";
}

uint64_t peak_rss_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
}

struct TestResult {
    std::string name;        // pp512, tg128, tg128@d1024
    int threads = 0, n_prompt = 0, n_gen = 0, depth = 0;
    bool kv_cache = true;
    Stats tps;
    double roof_fraction = 0;  // of the roof named by roof_kind
    std::string roof_kind;     // "memory", "int8", "f32"
    std::vector<double> token_seconds;  // tg, first measured repetition: each decode's time
};

class Bench {
public:
    Bench(const BenchOptions& opt, std::shared_ptr<const Model> model)
        : opt_(opt), model_(std::move(model)), rng_(1234),
          token_(0, model_->info().n_vocab - 1), costs_(costs_of(*model_)) {}

    TestResult run_pp(int threads, int n_prompt, int depth, int repetitions = 0) {
        TestResult r = make_result(fmt::format("pp{}", n_prompt) + depth_suffix(depth), threads, n_prompt, 0, depth, true);
        Context ctx(model_, context_params(threads, depth + n_prompt, true));
        prompt(ctx, 0, std::min(n_prompt, opt_.n_batch));  // warm-up
        std::vector<double> tps;
        for (int rep = 0; rep < (repetitions > 0 ? repetitions : opt_.repetitions); ++rep) {
            progress(r, rep);
            ctx.remove_sequence(0);
            if (depth > 0) prompt(ctx, 0, depth);
            const auto t0 = Clock::now();
            prompt(ctx, depth, n_prompt);
            tps.push_back(n_prompt / seconds_since(t0));
        }
        r.tps = stats_of(tps);
        const double ops = 2.0 * (costs_.matrix_macs_per_token + costs_.output_macs / n_prompt +
                                  costs_.attention_macs_per_position * (depth + n_prompt / 2.0));
        const auto& peak = costs_.float_weights ? machine_.f32_peak : machine_.int8_peak;
        r.roof_kind = costs_.float_weights ? "f32" : "int8";
        if (peak.count(threads)) r.roof_fraction = ops * r.tps.median / peak.at(threads);
        return r;
    }

    TestResult run_tg(int threads, int n_gen, int depth, bool kv_cache, int repetitions = 0) {
        TestResult r = make_result(fmt::format("tg{}", n_gen) + depth_suffix(depth), threads, 0, n_gen, depth, kv_cache);
        Context ctx(model_, context_params(threads, depth + n_gen, kv_cache));
        decode_one(ctx, 0);  // warm-up
        std::vector<double> tps;
        for (int rep = 0; rep < (repetitions > 0 ? repetitions : opt_.repetitions); ++rep) {
            progress(r, rep);
            ctx.remove_sequence(0);
            if (depth > 0) prompt(ctx, 0, depth);
            std::vector<double> each;
            const auto t0 = Clock::now();
            for (int i = 0; i < n_gen; ++i) {
                const auto ti = Clock::now();
                decode_one(ctx, depth + i);
                each.push_back(seconds_since(ti));
            }
            tps.push_back(n_gen / seconds_since(t0));
            if (rep == 0) r.token_seconds = each;
        }
        r.tps = stats_of(tps);
        const double bytes = costs_.weight_bytes_per_token + costs_.kv_bytes_per_position * (depth + n_gen / 2.0);
        r.roof_kind = "memory";
        if (machine_.read_bandwidth.count(threads)) r.roof_fraction = bytes * r.tps.median / machine_.read_bandwidth.at(threads);
        return r;
    }

    void measure_machine(const std::set<int>& thread_counts) {
        machine_.cpu = cpu_model_name();
        machine_.path = kernels::cpu::cpu_path_name(kernels::cpu::cpu_path());
        for (int t : thread_counts) {
            std::fprintf(stderr, "measuring the machine's limits with %d thread(s)...\r", t);
            machine_.read_bandwidth[t] = measure_read_bandwidth(t);
            machine_.int8_peak[t] = measure_int8_peak(t);
            machine_.f32_peak[t] = measure_f32_peak(t);
        }
        std::fprintf(stderr, "%60s\r", "");
    }

    const Machine& machine() const { return machine_; }
    const Costs& costs() const { return costs_; }

private:
    static TestResult make_result(std::string name, int threads, int n_prompt, int n_gen, int depth, bool kv_cache) {
        TestResult r;
        r.name = std::move(name);
        r.threads = threads;
        r.n_prompt = n_prompt;
        r.n_gen = n_gen;
        r.depth = depth;
        r.kv_cache = kv_cache;
        return r;
    }
    static std::string depth_suffix(int depth) { return depth > 0 ? fmt::format("@d{}", depth) : ""; }
    static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

    ContextParams context_params(int threads, int n_tokens, bool kv_cache) const {
        ContextParams p;
        p.n_ctx = n_tokens + 1;
        p.n_threads = threads;
        p.n_seq_max = 1;
        p.use_kv_cache = kv_cache;
        return p;
    }

    // Positions [from, from + n) of sequence 0 in passes of n_batch rows; only the last row wants logits.
    void prompt(Context& ctx, int from, int n) {
        Batch batch;
        for (int begin = from; begin < from + n; begin += opt_.n_batch) {
            batch.rows.clear();
            const int end = std::min(from + n, begin + opt_.n_batch);
            for (int i = begin; i < end; ++i) batch.add(0, i, token_(rng_), i + 1 == from + n);
            ctx.decode(batch);
        }
    }

    void decode_one(Context& ctx, int pos) {
        Batch batch;
        batch.add(0, pos, token_(rng_), true);
        ctx.decode(batch);
    }

    void progress(const TestResult& r, int rep) const {
        std::fprintf(stderr, "%-14s t=%d  repetition %d/%d   \r", r.name.c_str(), r.threads, rep + 1, opt_.repetitions);
    }

    const BenchOptions& opt_;
    std::shared_ptr<const Model> model_;
    std::mt19937 rng_;
    std::uniform_int_distribution<int32_t> token_;
    Costs costs_;
    Machine machine_;
};

std::string human_bytes(double bytes) {
    if (bytes >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", bytes / (1024.0 * 1024 * 1024));
    return fmt::format("{:.2f} MiB", bytes / (1024.0 * 1024));
}

void print_table(const Model& model, const std::string& model_name, const std::vector<TestResult>& results) {
    const ModelInfo& hp = model.info();
    const std::string model_col = fmt::format("{} {}", hp.architecture, model_name);
    std::printf("| %-30s | %10s | %8s | %7s | %7s | %13s | %20s | %11s |\n", "model", "size", "params", "backend", "threads",
                "test", "t/s (median ± sd)", "% of roof");
    std::printf("| %s | %s: | %s: | %s | %s: | %s: | %s: | %s: |\n", std::string(30, '-').c_str(), std::string(9, '-').c_str(),
                std::string(7, '-').c_str(), std::string(7, '-').c_str(), std::string(6, '-').c_str(),
                std::string(12, '-').c_str(), std::string(19, '-').c_str(), std::string(10, '-').c_str());
    for (const auto& r : results) {
        const std::string tps = fmt::format("{:.2f} ± {:.2f}", r.tps.median, r.tps.stddev);
        const std::string roof = r.roof_fraction > 0 ? fmt::format("{:.0f}% {}", 100 * r.roof_fraction, r.roof_kind) : "";
        std::printf("| %-30s | %10s | %6.2f B | %7s | %7d | %13s | %20s | %11s |\n", model_col.substr(0, 30).c_str(),
                    human_bytes(static_cast<double>(hp.weight_bytes)).c_str(), static_cast<double>(hp.n_params) / 1e9,
                    r.kv_cache ? "CPU" : "CPU no-KV", r.threads, r.name.c_str(), tps.c_str(), roof.c_str());
    }
}

json to_json(const TestResult& r) {
    json j = {{"test", r.name}, {"threads", r.threads}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen},
              {"depth", r.depth}, {"kv_cache", r.kv_cache}, {"samples_tps", r.tps.samples},
              {"median_tps", r.tps.median}, {"mean_tps", r.tps.mean}, {"stddev_tps", r.tps.stddev},
              {"min_tps", r.tps.min}, {"max_tps", r.tps.max}};
    if (r.roof_fraction > 0) j["roof"] = {{"kind", r.roof_kind}, {"fraction", r.roof_fraction}};
    return j;
}

// Decode speed over the first and the last eighth of a tg run's tokens (the no-KV-cache baseline slows
// down as the sequence it recomputes grows).
std::pair<double, double> first_and_last_tps(const std::vector<double>& token_seconds) {
    const size_t k = std::max<size_t>(1, token_seconds.size() / 8);
    double first = 0, last = 0;
    for (size_t i = 0; i < k; ++i) {
        first += token_seconds[i];
        last += token_seconds[token_seconds.size() - 1 - i];
    }
    return {static_cast<double>(k) / first, static_cast<double>(k) / last};
}

int run(const BenchOptions& opt) {
    const auto model = Model::load(opt.model_path);
    std::vector<int> thread_counts = opt.threads;
    if (thread_counts.empty()) thread_counts.push_back(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    Bench bench(opt, model);
    if (opt.roof) bench.measure_machine({thread_counts.begin(), thread_counts.end()});

    std::vector<TestResult> results;
    std::vector<std::string> fusion_ratios;
    // One test, or with --fusion one result per setting: single repetitions alternating between the
    // settings (the order flipped every round), so load changes hit both alike.
    const auto run_test = [&](auto&& run_one) {
        if (opt.fusion.empty()) return results.push_back(run_one(0));
        std::vector<TestResult> per(opt.fusion.size());
        for (int rep = 0; rep < opt.repetitions; ++rep) {
            for (size_t k = 0; k < opt.fusion.size(); ++k) {
                const size_t f = rep % 2 == 0 ? k : opt.fusion.size() - 1 - k;
                kernels::cpu::set_fusion_enabled(opt.fusion[f] == "on");
                TestResult one = run_one(1);
                if (per[f].tps.samples.empty()) per[f] = one;
                else per[f].tps.samples.push_back(one.tps.samples.front());
            }
        }
        kernels::cpu::set_fusion_enabled(true);
        for (size_t f = 0; f < per.size(); ++f) {
            const double first = per[f].tps.median;
            per[f].tps = stats_of(per[f].tps.samples);
            if (first > 0) per[f].roof_fraction *= per[f].tps.median / first;
            per[f].name += " fuse=" + opt.fusion[f];
        }
        if (per.size() == 2 && per[1].tps.median > 0) {
            fusion_ratios.push_back(fmt::format("{} / {} t={}: {:.3f}x", per[0].name, per[1].name, per[0].threads,
                                                per[0].tps.median / per[1].tps.median));
        }
        for (auto& r : per) results.push_back(std::move(r));
    };
    for (int t : thread_counts) {
        for (int d : opt.depth) {
            for (int p : opt.n_prompt) {
                if (p > 0) run_test([&](int reps) { return bench.run_pp(t, p, d, reps); });
            }
            for (int n : opt.n_gen) {
                if (n > 0) run_test([&](int reps) { return bench.run_tg(t, n, d, true, reps); });
            }
        }
    }
    json baseline;
    if (opt.compare_no_kv_cache) {
        for (int t : thread_counts) {
            for (int n : opt.n_gen) {
                if (n <= 0) continue;
                TestResult naive = bench.run_tg(t, n, 0, false);
                const auto cached = std::find_if(results.begin(), results.end(), [&](const TestResult& r) {
                    return r.n_gen == n && r.threads == t && r.depth == 0 && r.kv_cache;
                });
                const auto [first, last] = first_and_last_tps(naive.token_seconds);
                baseline.push_back({{"test", naive.name}, {"threads", t}, {"no_kv_cache_median_tps", naive.tps.median},
                                    {"no_kv_cache_first_eighth_tps", first}, {"no_kv_cache_last_eighth_tps", last},
                                    {"kv_cache_median_tps", cached != results.end() ? cached->tps.median : 0.0},
                                    {"speedup", cached != results.end() ? cached->tps.median / naive.tps.median : 0.0}});
                results.push_back(std::move(naive));
            }
        }
    }
    std::fprintf(stderr, "%60s\r", "");

    const ModelInfo& hp = model->info();
    const std::string model_name = std::filesystem::path(opt.model_path).filename().string();
    const uint64_t rss = peak_rss_bytes();
    const Machine& m = bench.machine();
    if (opt.json) {
        json out = {{"model", {{"path", opt.model_path}, {"architecture", hp.architecture}, {"file_type", hp.file_type},
                               {"size_bytes", hp.weight_bytes}, {"params", hp.n_params},
                               {"weight_bytes_per_token", bench.costs().weight_bytes_per_token},
                               {"matrix_macs_per_token", bench.costs().matrix_macs_per_token},
                               {"float_weights", bench.costs().float_weights}}},
                    {"machine", {{"cpu", m.cpu}, {"path", m.path}}},
                    {"repetitions", opt.repetitions}, {"n_batch", opt.n_batch}, {"peak_rss_bytes", rss}};
        for (const auto& [t, bw] : m.read_bandwidth) {
            out["machine"]["threads"][std::to_string(t)] = {
                {"read_bandwidth_bytes_per_s", bw}, {"int8_ops_per_s", m.int8_peak.at(t)}, {"f32_flops_per_s", m.f32_peak.at(t)}};
        }
        for (const auto& r : results) out["tests"].push_back(to_json(r));
        if (!baseline.is_null()) out["no_kv_cache_baseline"] = baseline;
        if (!fusion_ratios.empty()) out["fusion_ratios"] = fusion_ratios;
        std::puts(out.dump(2).c_str());
        return 0;
    }
    std::printf("CPU: %s, kernels: %s\n", m.cpu.c_str(), m.path.c_str());
    for (const auto& [t, bw] : m.read_bandwidth) {
        std::printf("roof with %d thread(s): read %.1f GB/s, int8 %.2f TOP/s, f32 %.0f GFLOP/s\n", t, bw / 1e9,
                    m.int8_peak.at(t) / 1e12, m.f32_peak.at(t) / 1e9);
    }
    std::printf("decode reads %.1f MB of weights per token; a prompt token costs %.2f GMAC\n\n",
                bench.costs().weight_bytes_per_token / 1e6, bench.costs().matrix_macs_per_token / 1e9);
    print_table(*model, model_name, results);
    for (const auto& b : baseline) {
        std::printf("\nno KV cache, %s t=%d: %.2f tok/s (first eighth of the tokens %.2f, last eighth %.2f); "
                    "the KV cache decodes %.1fx faster\n",
                    b["test"].get<std::string>().c_str(), b["threads"].get<int>(), b["no_kv_cache_median_tps"].get<double>(),
                    b["no_kv_cache_first_eighth_tps"].get<double>(), b["no_kv_cache_last_eighth_tps"].get<double>(),
                    b["speedup"].get<double>());
    }
    for (const auto& line : fusion_ratios) std::printf("\nfusion: %s", line.c_str());
    if (!fusion_ratios.empty()) std::printf("\n");
    std::printf("\npeak RSS %s (weights %s, mapped from the file)\n", human_bytes(static_cast<double>(rss)).c_str(),
                human_bytes(static_cast<double>(hp.weight_bytes)).c_str());
    return 0;
}

}  // namespace

CommandRunner add_bench_command(CLI::App& app) {
    auto opt = std::make_shared<BenchOptions>();
    auto* cmd = app.add_subcommand("bench", "Measure prefill and decode tokens/s (llama-bench style)");
    cmd->add_option("-m,--model", opt->model_path, "GGUF model file")->required();
    cmd->add_option("-p,--n-prompt", opt->n_prompt, "Prompt lengths of the pp tests (0: none)")
        ->delimiter(',')->capture_default_str()->check(CLI::NonNegativeNumber);
    cmd->add_option("-n,--n-gen", opt->n_gen, "Token counts of the tg tests (0: none)")
        ->delimiter(',')->capture_default_str()->check(CLI::NonNegativeNumber);
    cmd->add_option("-t,--threads", opt->threads, "CPU thread counts (default: all cores)")
        ->delimiter(',')->check(CLI::PositiveNumber);
    cmd->add_option("-d,--depth", opt->depth, "Tokens already in the context before each test")
        ->delimiter(',')->capture_default_str()->check(CLI::NonNegativeNumber);
    cmd->add_option("-r,--repetitions", opt->repetitions, "Measured repetitions (after one warm-up)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("-b,--batch-size", opt->n_batch, "Prompt tokens per forward pass")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--compare-no-kv-cache", opt->compare_no_kv_cache,
                  "Also run the tg tests with the recompute-everything baseline and print the speed-up");
    cmd->add_option("--fusion", opt->fusion,
                    "Fusion settings to compare in one process (on,off): single repetitions alternate between them")
        ->delimiter(',')->check(CLI::IsMember({"on", "off"}));
    cmd->add_flag("!--no-roof", opt->roof, "Skip measuring the machine's bandwidth and peak rates");
    cmd->add_flag("--json", opt->json, "Print JSON");
    auto spec = std::make_shared<SpecBenchOptions>();
    add_speculative_bench_options(*cmd, *spec);
    auto serving = std::make_shared<ServingBenchOptions>();
    add_serving_bench_options(*cmd, *serving);
    return [opt, spec, serving] {
        if (serving->requested()) {
            // Many streams through the scheduler (bench_serving.h): first -p, -n and -t apply.
            serving->model_path = opt->model_path;
            if (!opt->n_prompt.empty() && opt->n_prompt.front() > 0) serving->n_prompt = opt->n_prompt.front();
            if (!opt->n_gen.empty() && opt->n_gen.front() > 0) serving->n_gen = opt->n_gen.front();
            serving->n_threads = opt->threads.empty() ? 0 : opt->threads.front();
            serving->json = opt->json;
            return run_serving_bench(*serving);
        }
        if (!spec->requested()) return run(*opt);
        // Speculative / guided decoding on a real prompt (bench_speculative.h): first -n, -t and -r apply.
        spec->model_path = opt->model_path;
        spec->n_gen = opt->n_gen.empty() ? 64 : opt->n_gen.front();
        spec->n_threads = opt->threads.empty() ? 0 : opt->threads.front();
        spec->repetitions = opt->repetitions;
        spec->json = opt->json;
        return run_speculative_bench(*spec);
    };
}

}  // namespace peregrine::cli
