// Executes a SchedulerOutput: one Context::decode for all scheduled chunks, then one token sampled for
// every chunk that ends at its request's last known token. It keeps each request's Sampler (penalty
// window and RNG) and, for guided requests, its GrammarMatcher for the request's whole life, so a
// preempted and recomputed request continues the same random sequence and parse; it decides nothing
// about which rows run.
//
// Guided requests: the row's logits are masked to the tokens the grammar allows before sampling, and
// after the sampled token every token the grammar determines (its only continuation) is appended without
// sampling (RunnerOutput::Sampled::forced), so the scheduler feeds them as extra rows of the next step.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/grammar.h"
#include "peregrine/sampling.h"
#include "peregrine/scheduler.h"

namespace peregrine {

struct GuidedParams {
    std::shared_ptr<const Grammar> grammar;  // null: unconstrained
    std::shared_ptr<const GrammarVocabulary> vocabulary;
    bool force_tokens = true;
};

// A request the runner could not serve in a step (its grammar allows no token of the vocabulary); the
// other requests of the step are unaffected.
struct RunnerFailure {
    uint64_t request_id;
    std::string error;
};

class ModelRunner {
public:
    explicit ModelRunner(Context& context);

    // Creates the request's sampler (throws InvalidRequestError for bad sampling parameters) and feeds
    // it the prompt, as generate() does, so penalties see the same history.
    void add_request(uint64_t request_id, const SamplingParams& sampling, std::span<const int32_t> prompt,
                     const GuidedParams& guided = {});
    void remove_request(uint64_t request_id);
    uint64_t seed(uint64_t request_id) const;  // the seed the request's sampler uses
    int n_forced(uint64_t request_id) const;   // tokens the grammar determined so far

    // Throws what Context::decode throws (the cache is then unchanged). Requests that fail on their own
    // are listed in `failed` and get no Sampled entry.
    RunnerOutput execute(const SchedulerOutput& out, std::vector<RunnerFailure>& failed);
    double last_forward_ms() const { return last_forward_ms_; }  // Context::decode in the last execute()

private:
    struct Request {
        std::unique_ptr<Sampler> sampler;
        std::optional<GrammarMatcher> grammar;
        bool force_tokens = true;
        int n_forced = 0;
    };

    RunnerOutput::Sampled choose(uint64_t request_id, Request& r, std::span<const float> logits);

    Context& context_;
    std::map<uint64_t, Request> requests_;
    Batch batch_;                // reused, so steady decoding does not allocate
    std::vector<float> masked_;  // one logits row under a grammar's mask
    double last_forward_ms_ = 0;
};

}  // namespace peregrine
