// `peregrine-cli bench --concurrency 1,4,16 [--mixed-lengths]`: many streams through the engine's
// scheduler. For each concurrency C, the same workload (C * rounds requests of random prompt tokens,
// greedy, EOS ignored so every request generates exactly its length) runs three ways in one process:
//   continuous     the scheduler refills a finished sequence's slot at the next step (C slots)
//   static         a batch of C is admitted only when the previous one has ended (same scheduler)
//   one-at-a-time  one slot: requests run one after the other
// and reports aggregate generated tokens/s, time to first token and inter-token latency (p50, p99),
// then the ratios the issue asks for: continuous at the largest C over concurrency 1, and
// continuous over static. With --serving-repetitions R each concurrency runs its modes R times, in an
// order rotated every repetition (the machine's load drifts), and reports each mode's median run. The
// "engine" column is the share of the step time spent outside the model's forward pass (scheduling,
// sampling, callbacks); "dec ms/row" is the forward time per row of the steps with no prompt rows
// (pure decode steps), to compare with a prefill forward of as many rows (`bench -p C`).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace peregrine::cli {

struct ServingBenchOptions {
    std::string model_path;
    std::vector<int> concurrency;   // empty: not requested
    bool mixed_lengths = false;     // generation lengths from n/4 to 2n, prompt lengths from p/2 to 2p
    int rounds = 2;                 // requests per stream
    int repetitions = 1;            // runs of every mode per concurrency (median reported)
    std::vector<std::string> modes; // continuous, static, one-at-a-time; empty: all three
    int n_prompt = 64;
    int n_gen = 64;
    int n_threads = 0;
    int max_batch_tokens = 512;
    bool json = false;

    bool requested() const { return !concurrency.empty(); }
};

// Registers --concurrency, --mixed-lengths and --rounds on the bench command; the model, -p, -n, -t
// and --json come from bench's own options.
void add_serving_bench_options(CLI::App& bench, ServingBenchOptions& options);
int run_serving_bench(const ServingBenchOptions& options);

}  // namespace peregrine::cli
