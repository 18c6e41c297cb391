#include "scheduler/model_runner.h"

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine {

ModelRunner::ModelRunner(Context& context) : context_(context) {}

void ModelRunner::add_request(uint64_t request_id, const SamplingParams& sampling, std::span<const int32_t> prompt) {
    auto sampler = std::make_unique<Sampler>(sampling, context_.model().info().n_vocab);
    for (int32_t t : prompt) sampler->accept(t);
    samplers_[request_id] = std::move(sampler);
}

void ModelRunner::remove_request(uint64_t request_id) { samplers_.erase(request_id); }

uint64_t ModelRunner::seed(uint64_t request_id) const {
    const auto it = samplers_.find(request_id);
    return it == samplers_.end() ? 0 : it->second->seed();
}

RunnerOutput ModelRunner::execute(const SchedulerOutput& out) {
    RunnerOutput ran;
    if (out.chunks.empty()) return ran;
    batch_.clear();
    for (const ScheduledChunk& c : out.chunks) {
        for (size_t i = 0; i < c.tokens.size(); ++i) {
            batch_.add(c.seq_id, c.pos + static_cast<int32_t>(i), c.tokens[i], c.sample && i + 1 == c.tokens.size());
        }
    }
    const std::span<const float> logits = context_.decode(batch_);
    const size_t n_vocab = static_cast<size_t>(context_.model().info().n_vocab);
    size_t row = 0;  // index among the rows that want logits, which come in chunk order
    for (const ScheduledChunk& c : out.chunks) {
        if (!c.sample) continue;
        const auto it = samplers_.find(c.request_id);
        if (it == samplers_.end()) throw Error(fmt::format("model runner: no sampler for request {}", c.request_id));
        const int32_t token = it->second->sample(logits.subspan(row * n_vocab, n_vocab));
        it->second->accept(token);
        ran.sampled.push_back({c.request_id, token});
        ++row;
    }
    return ran;
}

}  // namespace peregrine
