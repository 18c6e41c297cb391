#include "peregrine/scheduler.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine {

struct Scheduler::Entry {
    SequenceRequest request;
    std::vector<int32_t> tokens;  // prompt, then every generated token
    int32_t n_prompt = 0;
    int32_t computed = 0;         // positions whose K/V is in the cache; always < tokens.size()
    int32_t seq = -1;             // KV sequence while running, -1 while waiting
    uint64_t arrival = 0;
    bool admitted_before = false;
    int cached_prompt = 0;
    int preemptions = 0;

    int n_generated() const { return static_cast<int>(tokens.size()) - n_prompt; }
};

int SchedulerOutput::n_rows() const {
    int n = 0;
    for (const ScheduledChunk& c : chunks) n += static_cast<int>(c.tokens.size());
    return n;
}

Scheduler::Scheduler(const SchedulerConfig& config, KvBudget& kv) : config_(config), kv_(kv) {
    if (config.max_sequences < 1 || config.max_batch_tokens < 1 || config.max_seq_len < 2) {
        throw InvalidRequestError(fmt::format("scheduler: max_sequences {}, max_batch_tokens {} and max_seq_len {} "
                                              "must be at least 1, 1 and 2", config.max_sequences,
                                              config.max_batch_tokens, config.max_seq_len));
    }
    // Handed out from the back: 0 first.
    for (int32_t s = config.max_sequences - 1; s >= 0; --s) free_seq_ids_.push_back(s);
}

Scheduler::~Scheduler() {
    for (Entry* e : running_) kv_.remove(e->seq);
}

void Scheduler::add(SequenceRequest request) {
    if (request.prompt.empty()) throw InvalidRequestError(fmt::format("request {}: the prompt is empty", request.id));
    if (static_cast<int64_t>(request.prompt.size()) >= config_.max_seq_len) {
        throw InvalidRequestError(fmt::format("request {}: the prompt has {} tokens but the context holds {}",
                                              request.id, request.prompt.size(), config_.max_seq_len));
    }
    if (request.max_new_tokens == 0) {
        throw InvalidRequestError(fmt::format("request {}: max_new_tokens is 0", request.id));
    }
    for (int32_t t : request.prompt) {
        if (t < 0) throw InvalidRequestError(fmt::format("request {}: token id {} in the prompt", request.id, t));
    }
    if (entries_.count(request.id) != 0) {
        throw InvalidRequestError(fmt::format("request {} is already queued or running", request.id));
    }
    // Only an older request can be waited for; anything else would block the queue's head for good.
    if (request.prefix_source != 0 && entries_.count(request.prefix_source) == 0) request.prefix_source = 0;

    auto e = std::make_unique<Entry>();
    e->tokens = request.prompt;
    e->n_prompt = static_cast<int32_t>(request.prompt.size());
    e->arrival = next_arrival_++;
    e->request = std::move(request);
    Entry* raw = e.get();
    entries_.emplace(raw->request.id, std::move(e));
    insert_waiting(raw);
}

void Scheduler::insert_waiting(Entry* e) {
    const auto at = std::upper_bound(waiting_.begin(), waiting_.end(), e,
                                     [](const Entry* a, const Entry* b) { return a->arrival < b->arrival; });
    waiting_.insert(at, e);
}

void Scheduler::insert_running(Entry* e) {
    const auto at = std::upper_bound(running_.begin(), running_.end(), e,
                                     [](const Entry* a, const Entry* b) { return a->arrival < b->arrival; });
    running_.insert(at, e);
}

std::span<const int32_t> Scheduler::tokens(uint64_t request_id) const {
    const auto it = entries_.find(request_id);
    if (it == entries_.end()) return {};
    return it->second->tokens;
}

int32_t Scheduler::tokens_that_fit(const Entry& e, int32_t want, int32_t available) const {
    if (available < 0) return 0;
    // blocks_needed grows with the length, so the answer is found by bisection.
    int32_t lo = 0;
    int32_t hi = want;
    while (lo < hi) {
        const int32_t mid = lo + (hi - lo + 1) / 2;
        if (kv_.blocks_needed(e.seq, e.computed + mid) <= available) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

ScheduledChunk Scheduler::make_chunk(Entry& e, int32_t n) {
    ScheduledChunk c;
    c.request_id = e.request.id;
    c.seq_id = e.seq;
    c.pos = e.computed;
    c.tokens.assign(e.tokens.begin() + e.computed, e.tokens.begin() + e.computed + n);
    c.sample = e.computed + n == static_cast<int32_t>(e.tokens.size());
    return c;
}

void Scheduler::preempt(Entry& e, SchedulerOutput& out) {
    kv_.remove(e.seq);
    free_seq_ids_.push_back(e.seq);
    e.seq = -1;
    e.computed = 0;
    ++e.preemptions;
    ++n_preemptions_;
    running_.erase(std::find(running_.begin(), running_.end(), &e));
    insert_waiting(&e);
    out.preempted.push_back(e.request.id);
}

RequestProgress Scheduler::release(Entry& e, StopReason reason) {
    if (e.seq >= 0) {
        kv_.remove(e.seq);
        free_seq_ids_.push_back(e.seq);
    }
    std::erase(running_, &e);
    std::erase(waiting_, &e);
    RequestProgress p;
    p.request_id = e.request.id;
    p.finished = true;
    p.stop_reason = reason;
    p.n_prompt_tokens = e.n_prompt;
    p.n_cached_prompt_tokens = e.cached_prompt;
    p.n_generated = e.n_generated();
    p.n_preemptions = e.preemptions;
    entries_.erase(e.request.id);  // destroys e
    return p;
}

RequestProgress Scheduler::finish(uint64_t request_id, StopReason reason) {
    const auto it = entries_.find(request_id);
    if (it == entries_.end()) {
        RequestProgress p;
        p.request_id = request_id;
        return p;
    }
    return release(*it->second, reason);
}

// Running sequences, oldest first, each catching up as far as the budget and the free blocks allow.
// Returns false when something was preempted (then no waiting request is admitted in this step).
bool Scheduler::schedule_running(SchedulerOutput& out, int& budget, int32_t& reserved) {
    bool preempted = false;
    for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
        Entry& e = *running_[i];
        const int32_t want = std::min<int32_t>(static_cast<int32_t>(e.tokens.size()) - e.computed, budget);
        int32_t n = tokens_that_fit(e, want, kv_.free_blocks() - reserved);
        // Make room by preempting the newest sequences, never an older one than e.
        while (n == 0 && running_.back() != &e) {
            preempt(*running_.back(), out);
            preempted = true;
            n = tokens_that_fit(e, want, kv_.free_blocks() - reserved);
        }
        if (n == 0) {
            if (running_.size() == 1 && reserved == 0) {
                // Alone with the whole pool and still no room: it can never continue.
                RequestProgress p = release(e, StopReason::ContextFull);
                out.finished.push_back(p.request_id);
                ended_in_schedule_.push_back(p);
            } else {
                preempt(e, out);
                preempted = true;
            }
            break;  // e was the newest: nothing after it is left to schedule
        }
        reserved += kv_.blocks_needed(e.seq, e.computed + n);
        budget -= n;
        out.chunks.push_back(make_chunk(e, n));
    }
    return !preempted;
}

bool Scheduler::waits_for_source(const Entry& e) const {
    if (e.request.prefix_source == 0) return false;
    const auto it = entries_.find(e.request.prefix_source);
    return it != entries_.end() && it->second->computed < it->second->n_prompt;
}

// Waiting requests in arrival order while there is a free slot, budget and blocks. Each admitted
// request leaves one free block per running sequence, so the sequences already decoding can grow
// in the next step without preempting the newcomer straight away.
void Scheduler::schedule_waiting(SchedulerOutput& out, int& budget, int32_t& reserved, bool batch_was_empty) {
    if (config_.mode == SchedulingMode::Static && !batch_was_empty) return;
    while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < config_.max_sequences) {
        Entry& e = *waiting_.front();
        if (waits_for_source(e)) break;
        e.seq = free_seq_ids_.back();
        const int32_t reused = kv_.reuse_prefix(e.seq, e.tokens);
        e.computed = reused;
        const int32_t want = std::min<int32_t>(static_cast<int32_t>(e.tokens.size()) - e.computed, budget);
        const int32_t watermark = static_cast<int32_t>(running_.size());
        const int32_t n = tokens_that_fit(e, want, kv_.free_blocks() - reserved - watermark);
        if (n == 0) {
            kv_.remove(e.seq);  // gives the attached prefix blocks back to the cache
            e.seq = -1;
            e.computed = 0;
            break;
        }
        free_seq_ids_.pop_back();
        if (!e.admitted_before) e.cached_prompt = std::min(reused, e.n_prompt);
        e.admitted_before = true;
        waiting_.pop_front();
        insert_running(&e);
        reserved += kv_.blocks_needed(e.seq, e.computed + n);
        budget -= n;
        out.chunks.push_back(make_chunk(e, n));
    }
}

SchedulerOutput Scheduler::schedule() {
    SchedulerOutput out;
    int budget = config_.max_batch_tokens;
    int32_t reserved = 0;  // blocks the chunks already chosen will take when they run
    const bool batch_was_empty = running_.empty();
    if (schedule_running(out, budget, reserved)) schedule_waiting(out, budget, reserved, batch_was_empty);
    // Admission order can differ from arrival order after a preemption; the runner wants oldest first.
    std::sort(out.chunks.begin(), out.chunks.end(), [&](const ScheduledChunk& a, const ScheduledChunk& b) {
        return entries_.at(a.request_id)->arrival < entries_.at(b.request_id)->arrival;
    });
    return out;
}

// The step's tokens for one request, one by one, each under the stop rules: a stop token ends the request
// (and is not kept), then max_new_tokens, then the context end; after the last one, a runner's `end`.
RequestProgress Scheduler::append(Entry& e, const RunnerOutput::Sampled& sampled) {
    std::vector<int32_t> added;
    const auto& stops = e.request.stop_tokens;
    for (size_t k = 0; k <= sampled.forced.size(); ++k) {
        const int32_t token = k == 0 ? sampled.token : sampled.forced[k - 1];
        if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
            RequestProgress p = release(e, StopReason::EndOfGeneration);
            p.new_tokens = std::move(added);
            return p;
        }
        e.tokens.push_back(token);
        added.push_back(token);
        std::optional<StopReason> stop;
        if (e.request.max_new_tokens > 0 && e.n_generated() >= e.request.max_new_tokens) {
            stop = StopReason::Length;
        } else if (static_cast<int64_t>(e.tokens.size()) >= config_.max_seq_len) {
            stop = StopReason::ContextFull;
        } else if (sampled.end && k == sampled.forced.size()) {
            stop = StopReason::EndOfGeneration;
        }
        if (stop) {
            RequestProgress p = release(e, *stop);
            p.new_tokens = std::move(added);
            return p;
        }
    }
    RequestProgress p;
    p.request_id = e.request.id;
    p.n_prompt_tokens = e.n_prompt;
    p.n_cached_prompt_tokens = e.cached_prompt;
    p.n_generated = e.n_generated();
    p.n_preemptions = e.preemptions;
    p.new_tokens = std::move(added);
    return p;
}

std::vector<RequestProgress> Scheduler::update(const SchedulerOutput& out, const RunnerOutput& ran) {
    std::vector<RequestProgress> progress;
    for (const ScheduledChunk& chunk : out.chunks) {
        const auto it = entries_.find(chunk.request_id);
        if (it == entries_.end()) continue;  // ended after schedule()
        Entry& e = *it->second;
        e.computed += static_cast<int32_t>(chunk.tokens.size());
        if (!chunk.sample) continue;
        const auto s = std::find_if(ran.sampled.begin(), ran.sampled.end(),
                                    [&](const RunnerOutput::Sampled& x) { return x.request_id == chunk.request_id; });
        if (s == ran.sampled.end()) {
            throw Error(fmt::format("scheduler: the runner sampled no token for request {}", chunk.request_id));
        }
        progress.push_back(append(e, *s));
    }
    for (RequestProgress& p : ended_in_schedule_) progress.push_back(std::move(p));
    ended_in_schedule_.clear();
    return progress;
}

}  // namespace peregrine
