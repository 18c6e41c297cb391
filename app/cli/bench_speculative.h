// `peregrine-cli bench --spec ...`: decode speed of greedy generation on a real prompt without
// speculation and with each requested draft source and K, measured in one process (median and range of
// repetitions after a warm-up run; repetitions go round the configurations forwards, then backwards),
// with acceptance, tokens per verification pass, forward passes per token and a check that every
// configuration produced the baseline's tokens ("vs base": against no speculation, the median of the
// per-repetition ratios; the 1-minute load average before and after is printed too). With
// --json-schema: guided generation without, then with forced tokens (forward passes per output token;
// "vs base" of the forced row: against sampling every token).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace peregrine::cli {

struct SpecBenchOptions {
    std::string model_path;
    std::string prompt_file;
    int n_gen = 64;
    int repetitions = 3;
    int n_threads = 0;
    std::vector<std::string> specs;    // none, lookup, lookahead, draft:PATH, tree:PATH, draft-lookup:PATH, staged:PATH
    std::vector<std::string> draft_ks; // numbers or "auto"
    float draft_threshold = 0;         // also run draft sources with threshold drafting (adaptive) from here
    int draft_threads = 1;
    std::string json_schema_file;
    bool json = false;

    bool requested() const { return !specs.empty() || !json_schema_file.empty(); }
};

// Registers --spec, --draft-k, --draft-threshold, --draft-threads, -f/--prompt-file and --json-schema on
// the bench command; the model, -n, -r, -t and --json come from bench's own options.
void add_speculative_bench_options(CLI::App& bench, SpecBenchOptions& options);
int run_speculative_bench(const SpecBenchOptions& options);

}  // namespace peregrine::cli
