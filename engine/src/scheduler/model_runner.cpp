#include "scheduler/model_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine {
namespace {

// Forced tokens appended after one sampled token, at most. A grammar whose only continuation never ends
// (root ::= "a" root) would otherwise loop; the rest is taken at the next step, still without sampling.
constexpr int kMaxForcedPerStep = 64;

}  // namespace

ModelRunner::ModelRunner(Context& context) : context_(context) {}

void ModelRunner::add_request(uint64_t request_id, const SamplingParams& sampling, std::span<const int32_t> prompt,
                              const GuidedParams& guided) {
    Request r;
    r.sampler = std::make_unique<Sampler>(sampling, context_.model().info().n_vocab);
    for (int32_t t : prompt) r.sampler->accept(t);
    if (guided.grammar) {
        if (!guided.vocabulary) throw Error("model runner: a guided request needs the grammar vocabulary");
        r.grammar.emplace(guided.grammar, guided.vocabulary);
        r.force_tokens = guided.force_tokens;
    }
    requests_[request_id] = std::move(r);
}

void ModelRunner::remove_request(uint64_t request_id) { requests_.erase(request_id); }

uint64_t ModelRunner::seed(uint64_t request_id) const {
    const auto it = requests_.find(request_id);
    return it == requests_.end() ? 0 : it->second.sampler->seed();
}

int ModelRunner::n_forced(uint64_t request_id) const {
    const auto it = requests_.find(request_id);
    return it == requests_.end() ? 0 : it->second.n_forced;
}

// The token of the row (forced by the grammar, or sampled from the masked logits) and the grammar's
// forced continuation after it. Throws InvalidRequestError when the grammar allows no token.
RunnerOutput::Sampled ModelRunner::choose(uint64_t request_id, Request& r, std::span<const float> logits) {
    RunnerOutput::Sampled s{request_id, -1};
    if (!r.grammar) {
        s.token = r.sampler->sample(logits);
        r.sampler->accept(s.token);
        return s;
    }
    GrammarMatcher& g = *r.grammar;
    const int32_t forced = r.force_tokens ? g.forced_token() : -1;
    if (forced >= 0) {
        s.token = forced;
        ++r.n_forced;
    } else {
        masked_.assign(logits.begin(), logits.end());
        g.apply_mask(masked_);
        if (std::none_of(masked_.begin(), masked_.end(), [](float l) { return l > -HUGE_VALF; })) {
            throw InvalidRequestError("the grammar allows no token of this vocabulary here");
        }
        s.token = r.sampler->sample(masked_);
    }
    if (!g.accept_token(s.token)) throw Error("internal error: the grammar refused a token it allowed");
    r.sampler->accept(s.token);
    while (!g.finished() && r.force_tokens && static_cast<int>(s.forced.size()) < kMaxForcedPerStep) {
        const int32_t next = g.forced_token();
        if (next < 0 || !g.accept_token(next)) break;
        r.sampler->accept(next);
        s.forced.push_back(next);
        ++r.n_forced;
    }
    s.end = g.finished();
    return s;
}

RunnerOutput ModelRunner::execute(const SchedulerOutput& out, std::vector<RunnerFailure>& failed) {
    RunnerOutput ran;
    last_forward_ms_ = 0;
    if (out.chunks.empty()) return ran;
    batch_.clear();
    for (const ScheduledChunk& c : out.chunks) {
        for (size_t i = 0; i < c.tokens.size(); ++i) {
            batch_.add(c.seq_id, c.pos + static_cast<int32_t>(i), c.tokens[i], c.sample && i + 1 == c.tokens.size());
        }
    }
    const auto start = std::chrono::steady_clock::now();
    const std::span<const float> logits = context_.decode(batch_);
    last_forward_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const size_t n_vocab = static_cast<size_t>(context_.model().info().n_vocab);
    size_t row = 0;  // index among the rows that want logits, which come in chunk order
    for (const ScheduledChunk& c : out.chunks) {
        if (!c.sample) continue;
        const auto it = requests_.find(c.request_id);
        if (it == requests_.end()) throw Error(fmt::format("model runner: no sampler for request {}", c.request_id));
        try {
            ran.sampled.push_back(choose(c.request_id, it->second, logits.subspan(row * n_vocab, n_vocab)));
        } catch (const InvalidRequestError& e) {
            failed.push_back({c.request_id, e.what()});
        }
        ++row;
    }
    return ran;
}

}  // namespace peregrine
