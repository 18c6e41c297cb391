#include "bench_speculative.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "peregrine/context.h"
#include "peregrine/error.h"
#include "peregrine/generation.h"
#include "peregrine/grammar.h"
#include "peregrine/loaded_model.h"
#include "peregrine/speculative.h"

namespace peregrine::cli {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InvalidRequestError("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

std::pair<double, double> range_of(const std::vector<double>& v) {
    if (v.empty()) return {0.0, 0.0};
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return {*lo, *hi};
}

// The 1-minute load average (Linux), or -1: the benchmark says how busy the machine was.
double load_average() {
    std::ifstream in("/proc/loadavg");
    double load = -1;
    if (!(in >> load)) return -1;
    return load;
}

struct Config {
    std::string label;
    std::string spec;  // none, lookup, draft:PATH
    int k = 0;
    bool adaptive = false;
    float threshold = 0;
    bool grammar = false;
    bool force = true;
};

// One configuration with its draft source (kept for all repetitions) and what it measured.
struct Run {
    Config config;
    std::unique_ptr<DraftSource> source;
    std::vector<double> tps;
    SpeculativeStats stats;  // of the last repetition
    std::vector<int32_t> tokens;
};

class SpecBench {
public:
    explicit SpecBench(const SpecBenchOptions& opt) : opt_(opt), target_(LoadedModel::load(opt.model_path)) {
        prompt_ = target_.tokenize_prompt(read_text(opt.prompt_file));
        ContextParams cp;
        cp.n_ctx = static_cast<int>(prompt_.size()) + opt.n_gen + 8;
        cp.n_threads = opt.n_threads;
        cp.n_seq_max = 1;
        context_ = std::make_unique<Context>(target_.model, cp);
        params_.n_predict = opt.n_gen;
        params_.sampling.temperature = 0;
        params_.stop_at_eog = false;  // every configuration generates exactly n_gen tokens
        if (!opt.json_schema_file.empty()) grammar_ = Grammar::from_json_schema(read_text(opt.json_schema_file));
    }

    std::unique_ptr<DraftSource> make_source(const Config& c) {
        if (c.spec == "lookup") return make_prompt_lookup_source();
        if (c.spec == "lookahead") return make_lookahead_source();
        DraftModelParams dp;
        const std::string path = parse_draft_model_spec(c.spec, dp);
        if (path.empty()) {
            if (c.spec == "none") return nullptr;
            throw InvalidRequestError("--spec must be none, lookup, lookahead or draft:PATH (staged speculation: "
                                      "tree:PATH, draft-lookup:PATH, staged:PATH), not '" + c.spec + "'");
        }
        const LoadedModel draft = LoadedModel::load(path);
        check_draft_vocabulary(*target_.vocab, *draft.vocab);
        dp.n_ctx = context_->n_ctx();
        dp.n_threads = opt_.draft_threads;
        dp.min_probability = c.threshold;
        dp.adaptive_threshold = c.threshold > 0;
        return make_draft_model_source(draft.model, dp);
    }

    void measure_once(Run& run, bool keep) {
        const Config& c = run.config;
        GenerationResult r;
        if (c.spec == "none" && !c.grammar) {
            r = generate(*context_, *target_.vocab, prompt_, params_);
            run.stats = {};
            run.stats.n_generated = r.stats.n_generated;
            run.stats.n_forward_passes = r.stats.n_generated;  // the prompt pass, then one per later token
        } else {
            SpeculativeOptions so;
            so.draft = run.source.get();
            so.draft_k = c.k;
            so.adaptive_k = c.adaptive;
            if (c.grammar) so.grammar = grammar_;
            so.force_grammar_tokens = c.force;
            SpeculativeResult s = generate_speculative(*context_, *target_.vocab, prompt_, params_, so);
            r = std::move(s.generation);
            run.stats = s.speculative;
        }
        run.tokens = r.tokens;
        if (keep) run.tps.push_back(r.stats.decode_tokens_per_second());
    }

    int run() {
        std::vector<Config> configs;
        for (const std::string& spec : opt_.specs) {
            if (spec == "none") {
                configs.push_back({"none", "none"});
                continue;
            }
            DraftModelParams probe;
            const std::string draft_path = parse_draft_model_spec(spec, probe);
            // Labels name the draft model's file, not its whole path.
            const std::string name =
                draft_path.empty() ? spec
                                   : spec.substr(0, spec.size() - draft_path.size()) +
                                         std::filesystem::path(draft_path).filename().string();
            for (const std::string& k : opt_.draft_ks) {
                Config c{name + " k=" + k, spec};
                c.adaptive = k == "auto";
                c.k = c.adaptive ? 8 : std::stoi(k);
                configs.push_back(c);
                // Threshold drafting is compared on the plain chain (draft:PATH) only.
                if (opt_.draft_threshold > 0 && !draft_path.empty() && !probe.tree && !probe.lookup_drafts &&
                    !c.adaptive) {
                    Config t = c;
                    t.threshold = opt_.draft_threshold;
                    t.label += " threshold";
                    configs.push_back(t);
                }
            }
        }
        if (configs.empty() || configs.front().spec != "none") configs.insert(configs.begin(), {"none", "none"});
        if (grammar_) {
            // The guided rows compare with each other: the first is their baseline. Forcing changes how the
            // fixed text is split into tokens, so their token lists are not compared.
            configs.push_back({"json-schema, every token sampled", "none", 0, false, 0, true, false});
            configs.push_back({"json-schema, forced tokens", "none", 0, false, 0, true, true});
        }

        std::vector<Run> runs;
        for (const Config& c : configs) runs.push_back({c, make_source(c), {}, {}, {}});
        // Repetitions go round the configurations, forwards and then backwards, so a change in the
        // machine's load hits all of them alike; repetition 0 warms caches and is dropped.
        const double load_before = load_average();
        for (int rep = 0; rep <= opt_.repetitions; ++rep) {
            if (rep % 2 == 0) {
                for (Run& r : runs) measure_once(r, rep > 0);
            } else {
                for (auto it = runs.rbegin(); it != runs.rend(); ++it) measure_once(*it, true);
            }
            if (!opt_.json) std::fprintf(stderr, "repetition %d of %d done\r", rep, opt_.repetitions);
        }
        const double load_after = load_average();

        nlohmann::json out = {{"model", opt_.model_path}, {"prompt_tokens", prompt_.size()}, {"n_gen", opt_.n_gen},
                              {"repetitions", opt_.repetitions}, {"threads", opt_.n_threads},
                              {"draft_threads", opt_.draft_threads}, {"load_average_before", load_before},
                              {"load_average_after", load_after}, {"configs", nlohmann::json::array()}};
        if (!opt_.json) {
            std::printf("model %s, prompt %zu tokens, generate %d (greedy), median of %d runs, load average %.1f -> %.1f\n",
                        opt_.model_path.c_str(), prompt_.size(), opt_.n_gen, opt_.repetitions, load_before,
                        load_after);
            std::printf("  %-36s %12s %13s %8s %13s %10s %12s %12s %6s\n", "configuration", "decode tok/s", "min..max",
                        "vs base", "min..max", "accepted", "tok/verify", "passes/tok", "same");
        }
        const std::vector<int32_t>& baseline = runs.front().tokens;
        const Run* base = &runs.front();
        for (const Run& r : runs) {
            const Config& c = r.config;
            if (c.grammar && !c.force) base = &r;
            const bool same = c.grammar || r.tokens == baseline;
            const double tps = median(r.tps);
            // "vs base": the median of the ratios within each repetition (the two runs were measured
            // moments apart, under the same load), with their range.
            std::vector<double> ratios;
            for (size_t i = 0; i < r.tps.size() && i < base->tps.size(); ++i) {
                if (base->tps[i] > 0) ratios.push_back(r.tps[i] / base->tps[i]);
            }
            const double ratio = median(ratios);
            const auto [lo, hi] = range_of(r.tps);
            const auto [ratio_lo, ratio_hi] = range_of(ratios);
            const SpeculativeStats& st = r.stats;
            out["configs"].push_back({{"config", c.label}, {"decode_tps", tps}, {"decode_tps_samples", r.tps},
                                      {"vs_none", ratio}, {"vs_none_samples", ratios}, {"drafted", st.n_drafted},
                                      {"accepted", st.n_accepted},
                                      {"acceptance_rate", st.acceptance_rate()},
                                      {"tokens_per_verify_pass", st.tokens_per_verify_pass()}, {"forced", st.n_forced},
                                      {"forward_passes_per_token", st.forward_passes_per_token()}, {"same_tokens", same}});
            if (!opt_.json) {
                char range[32], ratio_range[32];
                std::snprintf(range, sizeof range, "%.1f..%.1f", lo, hi);
                std::snprintf(ratio_range, sizeof ratio_range, "%.2f..%.2f", ratio_lo, ratio_hi);
                std::printf("  %-36s %12.1f %13s %7.2fx %13s %9.0f%% %12.2f %12.2f %6s\n", c.label.c_str(), tps, range,
                            ratio, ratio_range,
                            100.0 * st.acceptance_rate(), st.tokens_per_verify_pass(), st.forward_passes_per_token(),
                            c.grammar ? "-" : same ? "yes" : "NO");
            }
        }
        if (opt_.json) std::puts(out.dump(2).c_str());
        return 0;
    }

private:
    const SpecBenchOptions& opt_;
    LoadedModel target_;
    std::vector<int32_t> prompt_;
    std::unique_ptr<Context> context_;
    GenerationParams params_;
    std::shared_ptr<const Grammar> grammar_;
};

}  // namespace

void add_speculative_bench_options(CLI::App& cmd, SpecBenchOptions& o) {
    cmd.add_option("--spec", o.specs,
                   "Compare speculative decoding on -f's prompt: none, lookup, lookahead, draft:PATH, tree:PATH, "
                   "draft-lookup:PATH, staged:PATH (list; tree/draft-lookup/staged: staged speculation)")
        ->delimiter(',');
    cmd.add_option("--draft-k", o.draft_ks, "Guesses per pass for --spec (list of numbers or auto)")
        ->delimiter(',')
        ->default_val(std::vector<std::string>{"4"});
    cmd.add_option("--draft-threshold", o.draft_threshold,
                   "Also run draft:PATH with adaptive threshold drafting starting at this probability");
    cmd.add_option("--draft-threads", o.draft_threads, "CPU threads of a draft model")->capture_default_str();
    cmd.add_option("-f,--prompt-file", o.prompt_file, "Prompt text for --spec / --json-schema");
    cmd.add_option("--json-schema", o.json_schema_file,
                   "Guided generation on -f's prompt: forward passes per token with and without forced tokens");
}

int run_speculative_bench(const SpecBenchOptions& options) {
    if (options.prompt_file.empty()) throw InvalidRequestError("bench --spec/--json-schema needs -f/--prompt-file");
    SpecBench bench(options);
    return bench.run();
}

}  // namespace peregrine::cli
