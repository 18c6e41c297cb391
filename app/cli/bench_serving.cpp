#include "bench_serving.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>

#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/engine.h"
#include "peregrine/loaded_model.h"

namespace peregrine::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Mode {
    const char* name;
    SchedulingMode scheduling;
    bool one_slot;  // one-at-a-time: a single sequence, whatever the concurrency
};

constexpr Mode kModes[] = {{"continuous", SchedulingMode::Continuous, false},
                           {"static", SchedulingMode::Static, false},
                           {"one-at-a-time", SchedulingMode::Continuous, true}};

struct Workload {
    std::vector<std::vector<int32_t>> prompts;
    std::vector<int> lengths;  // tokens each request generates
    int n_ctx = 0;
};

struct Result {
    double seconds = 0;
    uint64_t tokens = 0;
    uint64_t steps = 0;
    double step_ms = 0;     // every step, whole
    double forward_ms = 0;  // of which Context::decode
    // Steps without prompt rows (pure decode steps): their forward time and rows, so the per-row cost of
    // a decode step can be compared with a plain prefill forward of as many rows.
    double decode_forward_ms = 0;
    uint64_t decode_rows = 0;
    double decode_ms_per_row() const {
        return decode_rows > 0 ? decode_forward_ms / static_cast<double>(decode_rows) : 0;
    }
    // The same process's baseline for that: one forward of C rows of a single new sequence with logits
    // for its last row only (the shape `bench -p C` times), run in the same Context right after the mode.
    double prefill_ms_per_row = 0;
    std::vector<double> ttft_ms, itl_ms;
    double engine_share() const { return step_ms > 0 ? (step_ms - forward_ms) / step_ms : 0; }
    double tokens_per_second() const { return seconds > 0 ? static_cast<double>(tokens) / seconds : 0; }
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// The same requests for every mode of one concurrency: random token ids (the model's output does not
// matter, only the shapes), lengths fixed up front.
Workload make_workload(const ServingBenchOptions& opt, int n_requests, int32_t n_vocab) {
    Workload w;
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> token(std::min<int32_t>(3, n_vocab - 1), n_vocab - 1);
    int max_len = 0;
    for (int i = 0; i < n_requests; ++i) {
        const int p = opt.mixed_lengths ? std::max(1, opt.n_prompt * (1 + (i * 3) % 4) / 2) : opt.n_prompt;
        const int n = opt.mixed_lengths ? std::max(1, opt.n_gen * (1 + (i * 5) % 8) / 4) : opt.n_gen;
        std::vector<int32_t> prompt(static_cast<size_t>(p));
        for (int32_t& t : prompt) t = token(rng);
        w.prompts.push_back(std::move(prompt));
        w.lengths.push_back(n);
        max_len = std::max(max_len, p + n);
    }
    w.n_ctx = max_len + 8;
    return w;
}

// Median over three forwards of `rows` rows of one fresh sequence (logits for the last row only), in the
// Context the mode ran in, once all its requests are done (every sequence id is free again).
double prefill_forward_ms_per_row(Context& context, int rows) {
    rows = std::min(rows, context.n_ctx());
    Batch batch;
    for (int i = 0; i < rows; ++i) batch.add(0, i, 3 + i, i + 1 == rows);
    std::vector<double> ms;
    for (int rep = 0; rep < 3; ++rep) {
        const auto start = Clock::now();
        context.decode(batch);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        context.remove_sequence(0);
    }
    std::sort(ms.begin(), ms.end());
    return ms[1] / rows;
}

Result run_mode(const LoadedModel& model, const ServingBenchOptions& opt, const Workload& w, int concurrency,
                const Mode& mode) {
    EngineParams ep;
    ep.context.n_ctx = w.n_ctx;
    ep.context.n_threads = opt.n_threads;
    ep.context.n_seq_max = mode.one_slot ? 1 : concurrency;
    ep.context.prefix_cache = false;  // random prompts share nothing; keep the pool's behaviour plain
    ep.max_batch_tokens = opt.max_batch_tokens;
    ep.scheduling = mode.scheduling;
    Result result;
    bool timing = false;
    ep.on_step = [&](const StepStats& st) {
        if (!timing) return;
        ++result.steps;
        result.step_ms += st.ms;
        result.forward_ms += st.forward_ms;
        if (st.n_prompt_rows == 0) {
            result.decode_forward_ms += st.forward_ms;
            result.decode_rows += static_cast<uint64_t>(st.n_rows);
        }
    };
    EngineCore core(model, ep);

    const auto request = [&](size_t i) {
        EngineRequest r;
        r.prompt = w.prompts[i];
        r.max_tokens = w.lengths[i];
        r.sampling.temperature = 0;
        r.stop_at_eog = false;
        return r;
    };
    // Warm-up: touches the weights and grows the scratch buffers before the clock starts.
    core.submit(0, request(0), {});
    while (core.has_work()) core.step();

    timing = true;
    std::vector<Clock::time_point> last(w.prompts.size());
    std::vector<bool> started(w.prompts.size(), false);
    const auto t0 = Clock::now();
    for (size_t i = 0; i < w.prompts.size(); ++i) {
        core.submit(i + 1, request(i), [&, i](const RequestUpdate& u) {
            if (u.tokens.empty()) return;
            const auto now = Clock::now();
            if (!started[i]) {
                result.ttft_ms.push_back(std::chrono::duration<double, std::milli>(now - t0).count());
                started[i] = true;
            } else {
                result.itl_ms.push_back(std::chrono::duration<double, std::milli>(now - last[i]).count());
            }
            last[i] = now;
            result.tokens += u.tokens.size();
        });
    }
    while (core.has_work()) core.step();
    result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    result.prefill_ms_per_row = prefill_forward_ms_per_row(core.context(), concurrency);
    return result;
}

nlohmann::json result_json(const Result& r) {
    return {{"tokens", r.tokens},
            {"seconds", r.seconds},
            {"tokens_per_second", r.tokens_per_second()},
            {"ttft_ms_p50", percentile(r.ttft_ms, 50)},
            {"ttft_ms_p99", percentile(r.ttft_ms, 99)},
            {"itl_ms_p50", percentile(r.itl_ms, 50)},
            {"itl_ms_p99", percentile(r.itl_ms, 99)},
            {"steps", r.steps},
            {"engine_share", r.engine_share()},
            {"decode_ms_per_row", r.decode_ms_per_row()},
            {"prefill_ms_per_row", r.prefill_ms_per_row}};
}

}  // namespace

void add_serving_bench_options(CLI::App& bench, ServingBenchOptions& options) {
    bench.add_option("--concurrency", options.concurrency,
                     "Serving benchmark: concurrent streams to test, e.g. 1,4,16 (continuous vs static batching vs "
                     "one at a time)")
        ->delimiter(',')
        ->check(CLI::Range(1, 1024));
    bench.add_flag("--mixed-lengths", options.mixed_lengths,
                   "Serving benchmark: prompts from p/2 to 2p and generations from n/4 to 2n tokens");
    bench.add_option("--rounds", options.rounds, "Serving benchmark: requests per stream")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    bench.add_option("--serving-repetitions", options.repetitions,
                     "Serving benchmark: runs of every mode per concurrency, in rotated order (medians reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    bench.add_option("--serving-modes", options.modes,
                     "Serving benchmark: modes to run (continuous, static, one-at-a-time; default all)")
        ->delimiter(',')
        ->check(CLI::IsMember({"continuous", "static", "one-at-a-time"}));
}

int run_serving_bench(const ServingBenchOptions& opt) {
    const LoadedModel model = LoadedModel::load(opt.model_path);
    nlohmann::json out = {{"model", opt.model_path}, {"n_prompt", opt.n_prompt}, {"n_gen", opt.n_gen},
                          {"mixed_lengths", opt.mixed_lengths}, {"rounds", opt.rounds}, {"threads", opt.n_threads},
                          {"repetitions", opt.repetitions},
                          {"runs", nlohmann::json::array()}};
    if (!opt.json) {
        std::printf("model %s, prompt %d, generate %d%s, %d requests per stream, %d threads, %d repetitions\n",
                    opt.model_path.c_str(), opt.n_prompt, opt.n_gen, opt.mixed_lengths ? " (mixed lengths)" : "",
                    opt.rounds, opt.n_threads, opt.repetitions);
        std::printf("%11s %-14s %10s %17s %10s %10s %10s %10s %7s %10s %10s\n", "concurrency", "mode", "tok/s",
                    "(min..max)", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99", "engine", "dec ms/row", "pp ms/row");
    }
    std::map<std::pair<int, std::string>, double> tps;
    std::map<std::pair<int, std::string>, double> row_cost;  // decode step's forward per row / prefill's
    for (int c : opt.concurrency) {
        const Workload w = make_workload(opt, c * opt.rounds, model.vocab->n_tokens());
        // With one slot all three modes are the same: concurrency 1 runs continuous only.
        std::vector<const Mode*> modes;
        for (const Mode& mode : kModes) {
            const bool wanted = opt.modes.empty() || std::find(opt.modes.begin(), opt.modes.end(), mode.name) != opt.modes.end();
            if (c == 1 ? &mode == &kModes[0] : wanted) modes.push_back(&mode);
        }
        const size_t n_modes = modes.size();
        std::vector<std::vector<Result>> runs(n_modes);
        for (int rep = 0; rep < opt.repetitions; ++rep) {
            for (size_t k = 0; k < n_modes; ++k) {
                const size_t m = (k + static_cast<size_t>(rep)) % n_modes;
                runs[m].push_back(run_mode(model, opt, w, c, *modes[m]));
            }
        }
        for (size_t m = 0; m < n_modes; ++m) {
            const Mode& mode = *modes[m];
            std::vector<Result>& rs = runs[m];
            std::sort(rs.begin(), rs.end(), [](const Result& a, const Result& b) {
                return a.tokens_per_second() < b.tokens_per_second();
            });
            const Result& r = rs[(rs.size() - 1) / 2];  // the median run (the lower one of an even count)
            tps[{c, mode.name}] = r.tokens_per_second();
            if (!mode.one_slot && r.decode_rows > 0 && r.prefill_ms_per_row > 0) {
                row_cost[{c, mode.name}] = r.decode_ms_per_row() / r.prefill_ms_per_row;
            }
            nlohmann::json j = result_json(r);
            j["concurrency"] = c;
            j["mode"] = mode.name;
            j["tokens_per_second_min"] = rs.front().tokens_per_second();
            j["tokens_per_second_max"] = rs.back().tokens_per_second();
            out["runs"].push_back(j);
            if (!opt.json) {
                std::printf("%11d %-14s %10.1f %17s %8.1fms %8.1fms %8.1fms %8.1fms %6.1f%% %8.2fms %8.2fms\n", c,
                            mode.name, r.tokens_per_second(),
                            fmt::format("({:.1f}..{:.1f})", rs.front().tokens_per_second(),
                                        rs.back().tokens_per_second()).c_str(),
                            percentile(r.ttft_ms, 50), percentile(r.ttft_ms, 99), percentile(r.itl_ms, 50),
                            percentile(r.itl_ms, 99), 100.0 * r.engine_share(), r.decode_ms_per_row(),
                            r.prefill_ms_per_row);
                std::fflush(stdout);
            }
        }
    }
    const int top = *std::max_element(opt.concurrency.begin(), opt.concurrency.end());
    const double single = tps.count({1, "continuous"}) ? tps[{1, "continuous"}] : 0;
    nlohmann::json ratios = nlohmann::json::object();
    if (single > 0 && top > 1 && tps[{top, "continuous"}] > 0) {
        ratios[fmt::format("continuous_c{}_over_c1", top)] = tps[{top, "continuous"}] / single;
    }
    for (int c : opt.concurrency) {
        if (tps[{c, "continuous"}] <= 0) continue;
        if (c > 1 && tps[{c, "static"}] > 0) {
            ratios[fmt::format("continuous_over_static_c{}", c)] = tps[{c, "continuous"}] / tps[{c, "static"}];
        }
        if (c > 1 && tps[{c, "one-at-a-time"}] > 0) {
            ratios[fmt::format("continuous_over_one_at_a_time_c{}", c)] = tps[{c, "continuous"}] / tps[{c, "one-at-a-time"}];
        }
    }
    for (const auto& [key, value] : row_cost) {
        if (key.first > 1) ratios[fmt::format("decode_row_over_prefill_row_{}_c{}", key.second, key.first)] = value;
    }
    out["ratios"] = ratios;
    if (opt.json) {
        std::puts(out.dump(2).c_str());
    } else {
        for (const auto& [name, value] : ratios.items()) std::printf("%s: %.2fx\n", name.c_str(), value.get<double>());
    }
    return 0;
}

}  // namespace peregrine::cli
