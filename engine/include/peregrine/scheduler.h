// Continuous batching: which tokens of which requests go into the next forward pass.
//
// The engine loop is three calls (vLLM v1's split):
//     SchedulerOutput out = scheduler.schedule();      // decide
//     RunnerOutput ran     = runner.execute(out);       // run the model, sample
//     scheduler.update(out, ran);                       // account, detect finished requests
// and one rule: every request's computed tokens catch up with its known tokens (prompt + generated)
// under a token budget per step. A new prompt is a long catch-up (chunked prefill when it exceeds the
// budget), a running sequence a catch-up of one token (decode), a preempted one a catch-up from zero
// (recompute). Running sequences are served before waiting ones, so a long prompt never stalls decodes.
//
// Order is first come, first served: waiting requests are admitted strictly in arrival order (the head
// of the queue is never skipped), and when KV blocks run out the NEWEST running sequence is preempted:
// its blocks are freed and it waits again at its arrival position, to be recomputed later (the prefix
// cache often makes that cheap). The oldest request always progresses, so nothing starves. A request
// that cannot fit in the pool even alone finishes with StopReason::ContextFull instead of looping.
//
// The scheduler owns no model and no storage; it sees the KV cache through KvBudget, so it can be tested
// with a fake one (tests/engine/scheduler).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "peregrine/generation.h"

namespace peregrine {

// What the scheduler needs from a KV cache. Context provides it for real runs (see engine.h).
class KvBudget {
public:
    virtual ~KvBudget() = default;
    virtual int32_t free_blocks() const = 0;                              // allocatable now
    virtual int32_t blocks_needed(int32_t seq, int32_t new_len) const = 0;  // to grow seq to new_len
    // Attaches cached full blocks holding a prefix of `tokens` to the new sequence `seq`; returns the
    // positions reused (0: nothing attached, seq not created).
    virtual int32_t reuse_prefix(int32_t seq, std::span<const int32_t> tokens) = 0;
    virtual void remove(int32_t seq) = 0;                                  // frees its blocks
};

enum class SchedulingMode {
    Continuous,  // a finished sequence's slot is refilled at the next step
    Static,      // a batch is admitted when nothing runs and runs until its longest member ends
};

struct SchedulerConfig {
    int max_sequences = 4;        // sequences in the batch at once (Context::n_seq_max must be at least this)
    int max_batch_tokens = 512;   // rows per forward pass
    int max_seq_len = 512;        // positions per sequence (the context size)
    SchedulingMode mode = SchedulingMode::Continuous;
};

struct SequenceRequest {
    uint64_t id = 0;                  // unique among live requests
    std::vector<int32_t> prompt;      // not empty, shorter than max_seq_len
    int max_new_tokens = 256;         // < 0: until the context is full
    std::vector<int32_t> stop_tokens; // sampling one finishes the request (EndOfGeneration), not kept
    // 0, or a request whose prompt must be computed before this one starts: parallel samples of one
    // prompt wait for the first, then find its full blocks in the prefix cache instead of recomputing.
    uint64_t prefix_source = 0;
};

// One request's rows in a step: tokens at positions pos, pos + 1, ... of sequence seq_id.
struct ScheduledChunk {
    uint64_t request_id = 0;
    int32_t seq_id = 0;
    int32_t pos = 0;
    std::vector<int32_t> tokens;
    bool sample = false;  // the chunk ends at the last known token: its logits give the next token
};

struct SchedulerOutput {
    std::vector<ScheduledChunk> chunks;   // oldest request first
    std::vector<uint64_t> preempted;      // sequences freed during this schedule() (recomputed later)
    std::vector<uint64_t> finished;       // requests ended during this schedule() (ContextFull)
    int n_rows() const;
    bool empty() const { return chunks.empty(); }
};

struct RunnerOutput {
    struct Sampled {
        uint64_t request_id;
        int32_t token;
        // Tokens known to follow `token` without sampling (a grammar's only continuation): appended after
        // it, one by one under the same stop rules, and computed as extra rows of the request's next step.
        std::vector<int32_t> forced = {};
        bool end = false;  // nothing may follow these tokens (a complete grammar): EndOfGeneration
    };
    std::vector<Sampled> sampled;  // one per chunk with sample = true
};

// What happened to a request in a step (update()) or when schedule()/finish() ended it.
struct RequestProgress {
    uint64_t request_id = 0;
    std::vector<int32_t> new_tokens;   // the tokens added this step: the sampled one, then any forced ones
                                       // (empty on a finish without one)
    bool finished = false;
    StopReason stop_reason = StopReason::Length;
    int n_prompt_tokens = 0;
    int n_cached_prompt_tokens = 0;    // prompt positions taken from the prefix cache at first admission
    int n_generated = 0;
    int n_preemptions = 0;
};

class Scheduler {
public:
    // `kv` must outlive the scheduler. Throws InvalidRequestError for a config out of range.
    Scheduler(const SchedulerConfig& config, KvBudget& kv);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Queues a request. Throws InvalidRequestError for an empty prompt, one that leaves no room to
    // generate (>= max_seq_len), a token id < 0 or a duplicate id.
    void add(SequenceRequest request);
    // Ends a request now (cancel, stop string), freeing its blocks. Returns its final progress, or
    // finished = false when the id is unknown (already finished).
    RequestProgress finish(uint64_t request_id, StopReason reason);

    SchedulerOutput schedule();
    // Applies a step's results: computed tokens advance, sampled tokens are appended, and requests that
    // reached a stop token, max_new_tokens or the context end finish and free their blocks. Returns the
    // progress of every request that sampled a token, in chunk order, then of those schedule() ended.
    std::vector<RequestProgress> update(const SchedulerOutput& out, const RunnerOutput& ran);

    bool has_work() const { return !waiting_.empty() || !running_.empty(); }
    int n_waiting() const { return static_cast<int>(waiting_.size()); }
    int n_running() const { return static_cast<int>(running_.size()); }
    uint64_t n_preemptions() const { return n_preemptions_; }
    bool contains(uint64_t request_id) const { return entries_.count(request_id) != 0; }
    // Known tokens (prompt + generated) of a live request; empty when unknown.
    std::span<const int32_t> tokens(uint64_t request_id) const;
    const SchedulerConfig& config() const { return config_; }

private:
    struct Entry;

    bool schedule_running(SchedulerOutput& out, int& budget, int32_t& reserved);
    void schedule_waiting(SchedulerOutput& out, int& budget, int32_t& reserved, bool batch_was_empty);
    bool waits_for_source(const Entry& e) const;
    // Largest n <= want such that the sequence can grow by n tokens within `available` blocks.
    int32_t tokens_that_fit(const Entry& e, int32_t want, int32_t available) const;
    ScheduledChunk make_chunk(Entry& e, int32_t n);
    void preempt(Entry& e, SchedulerOutput& out);
    RequestProgress release(Entry& e, StopReason reason);
    RequestProgress append(Entry& e, const RunnerOutput::Sampled& sampled);
    void insert_waiting(Entry* e);
    void insert_running(Entry* e);

    SchedulerConfig config_;
    KvBudget& kv_;
    std::map<uint64_t, std::unique_ptr<Entry>> entries_;
    std::deque<Entry*> waiting_;        // by arrival
    std::vector<Entry*> running_;       // by arrival; the back is the newest (first to be preempted)
    std::vector<int32_t> free_seq_ids_; // KV sequence ids not in use
    std::vector<RequestProgress> ended_in_schedule_;
    uint64_t next_arrival_ = 0;
    uint64_t n_preemptions_ = 0;
};

}  // namespace peregrine
