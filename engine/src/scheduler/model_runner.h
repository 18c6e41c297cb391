// Executes a SchedulerOutput: one Context::decode for all scheduled chunks, then one token sampled for
// every chunk that ends at its request's last known token. It keeps each request's Sampler (penalty
// window and RNG) for the request's whole life, so a preempted and recomputed request continues the
// same random sequence; it decides nothing about which rows run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>

#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/sampling.h"
#include "peregrine/scheduler.h"

namespace peregrine {

class ModelRunner {
public:
    explicit ModelRunner(Context& context);

    // Creates the request's sampler (throws InvalidRequestError for bad sampling parameters) and feeds
    // it the prompt, as generate() does, so penalties see the same history.
    void add_request(uint64_t request_id, const SamplingParams& sampling, std::span<const int32_t> prompt);
    void remove_request(uint64_t request_id);
    uint64_t seed(uint64_t request_id) const;  // the seed the request's sampler uses

    // Throws what Context::decode throws (the cache is then unchanged).
    RunnerOutput execute(const SchedulerOutput& out);

private:
    Context& context_;
    std::map<uint64_t, std::unique_ptr<Sampler>> samplers_;
    Batch batch_;  // reused, so steady decoding does not allocate
};

}  // namespace peregrine
