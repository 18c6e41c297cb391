// Shared helpers for the speculative decoding tests: the golden prompts (shared/golden/generate), models
// loaded once per file, and plain greedy decoding with the margin of every step.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/generation.h"
#include "peregrine/loaded_model.h"
#include "peregrine/speculative.h"
#include "support/test_paths.h"

namespace peregrine::test {

struct GoldenCase {
    std::vector<int32_t> prompt;
    int n_predict = 0;
    int stable_len = 0;  // golden stable_prefix_len at the recommended threshold for a llama.cpp-arithmetic engine
    double threshold = 0;
};

inline std::vector<GoldenCase> golden_cases(const std::string& name) {
    const auto golden = nlohmann::json::parse(read_file(golden_path("generate/" + name + ".json")));
    const double threshold =
        golden.at("settings").at("recommended_threshold").at("engine_with_llama_cpp_arithmetic").get<double>();
    std::vector<GoldenCase> out;
    for (const auto& c : golden.at("cases")) {
        GoldenCase g;
        g.prompt = c.at("prompt_ids").get<std::vector<int32_t>>();
        g.n_predict = golden.at("settings").at("n_predict").get<int>();
        g.threshold = threshold;
        for (const auto& [key, value] : c.at("stable_prefix_len").items()) {
            if (std::abs(std::stod(key) - threshold) < 1e-12) g.stable_len = value.get<int>();
        }
        out.push_back(std::move(g));
    }
    return out;
}

inline const LoadedModel& loaded(const std::string& file) {
    static std::map<std::string, LoadedModel> cache;
    auto it = cache.find(file);
    if (it == cache.end()) it = cache.emplace(file, LoadedModel::load(model_path(file))).first;
    return it->second;
}

inline ContextParams test_context(int n_ctx = 512) {
    ContextParams p;
    p.n_ctx = n_ctx;
    p.n_threads = 1;  // the models are tiny; two spinning pools (target and draft) on a shared CPU are not
    p.n_seq_max = 1;
    return p;
}

inline GenerationParams greedy_params(int n) {
    GenerationParams p;
    p.n_predict = n;
    p.sampling.temperature = 0;
    return p;
}

// Plain greedy decoding as generate() does it (prompt in one pass, then one row per pass), with the gap
// between the two largest logits at every step.
struct PlainRun {
    std::vector<int32_t> tokens;
    std::vector<double> margins;
};

inline PlainRun plain_greedy(Context& ctx, const std::vector<int32_t>& prompt, int n) {
    PlainRun run;
    Batch b;
    for (size_t i = 0; i < prompt.size(); ++i) b.add(0, int32_t(i), prompt[i], i + 1 == prompt.size());
    std::span<const float> logits = ctx.decode(b);
    for (int step = 0; step < n; ++step) {
        std::vector<float> l(logits.begin(), logits.end());
        const auto best = std::max_element(l.begin(), l.end());
        const int32_t token = int32_t(best - l.begin());
        const float top = *best;
        *best = -INFINITY;
        run.margins.push_back(double(top) - double(*std::max_element(l.begin(), l.end())));
        run.tokens.push_back(token);
        if (step + 1 == n) break;
        b.clear();
        b.add(0, int32_t(prompt.size()) + step, token, true);
        logits = ctx.decode(b);
    }
    ctx.remove_sequence(0);
    return run;
}

}  // namespace peregrine::test
