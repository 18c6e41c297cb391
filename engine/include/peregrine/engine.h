// Many generations at once over one model: the request-level API that the server and the app use.
//
// EngineCore is the single-threaded core: submit() queues a request, step() runs one round of
// Scheduler::schedule -> ModelRunner::execute -> Scheduler::update and reports what each request
// produced through its callback (text deltas with stop strings held back, as generate() streams them).
// Engine wraps a core in its own thread: submit() and cancel() may be called from any thread, and
// callbacks run on the engine's thread, so they must be quick (hand the text to a queue, never block).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "peregrine/context.h"
#include "peregrine/generation.h"
#include "peregrine/grammar.h"
#include "peregrine/loaded_model.h"
#include "peregrine/sampling.h"
#include "peregrine/scheduler.h"

namespace peregrine {

struct StepStats {
    int n_rows = 0;          // rows of the forward pass
    int n_sequences = 0;     // requests with rows in it
    int n_prompt_rows = 0;   // rows at prompt positions (prefill, including recomputation)
    int n_preempted = 0;
    double ms = 0;           // schedule + forward + sampling + callbacks
    double forward_ms = 0;   // of which the model's forward pass (Context::decode); the rest is the engine's
};

struct EngineParams {
    // n_seq_max is the number of sequences decoded together; kv_pool_blocks sizes the block pool
    // (0: room for n_seq_max full-length sequences); prefix_cache keeps used blocks findable.
    ContextParams context;
    int max_batch_tokens = 512;   // rows per forward pass (decodes first, then prompt chunks)
    SchedulingMode scheduling = SchedulingMode::Continuous;
    std::function<void(const StepStats&)> on_step;  // after every step, on the stepping thread
};

struct EngineRequest {
    std::vector<int32_t> prompt;
    int max_tokens = 256;                   // < 0: until the context is full; 0 is refused
    SamplingParams sampling;
    std::vector<std::string> stop_strings;  // generation ends before the first occurrence
    bool stop_at_eog = true;
    int n = 1;                              // parallel samples; each after the first reuses the prompt's
                                            // blocks; sample i uses seed + i when a seed is given
    // Guided generation (null: unconstrained). Every sampled token is drawn from the logits masked to the
    // tokens the grammar allows (Grammar::parse / Grammar::from_json_schema), each sample has its own
    // GrammarMatcher, and a sample ends (EndOfGeneration) as soon as the grammar is complete and nothing
    // may follow. The engine builds the GrammarVocabulary once per model, on the first guided request.
    std::shared_ptr<const Grammar> grammar;
    // Where the grammar allows exactly one continuation (keys, quotes, braces of a JSON object) its tokens
    // are appended without sampling and computed as extra rows of the sample's next step, like a prompt
    // chunk: fewer forward passes per output token. false: every token is sampled (masked) in a step.
    bool force_grammar_tokens = true;
};

// Everything a request produced in one step, for one of its samples.
struct RequestUpdate {
    uint64_t request_id = 0;
    int index = 0;                  // sample, 0 .. n-1
    std::string text;               // new complete UTF-8 text (may be empty)
    std::vector<int32_t> tokens;    // new token ids
    bool finished = false;          // this sample is done
    bool all_finished = false;      // every sample of the request is done (the last update it gets)
    StopReason stop_reason = StopReason::Length;
    std::string error;              // set when the request failed (finished is then true), e.g. a grammar
                                    // that allows no token of the vocabulary
    int n_prompt_tokens = 0;
    int n_cached_prompt_tokens = 0; // prompt positions served by the prefix cache
    int n_generated = 0;            // tokens generated so far by this sample
    int n_forced = 0;               // of those, tokens the grammar determined (appended without sampling)
    uint64_t seed = 0;              // the sample's sampler seed
};

using UpdateCallback = std::function<void(const RequestUpdate&)>;

struct EngineStats {
    int n_running = 0;
    int n_waiting = 0;
    KvCacheStats kv;
    uint64_t steps = 0;
    uint64_t rows = 0;              // forward-pass rows in total
    uint64_t prompt_rows = 0;       // of those, at prompt positions
    uint64_t generated_tokens = 0;
    uint64_t forced_tokens = 0;     // of those, determined by a grammar (no sampling step of their own)
    uint64_t preemptions = 0;
    uint64_t requests_finished = 0; // every sample of the request done, cancelled ones included
    uint64_t requests_cancelled = 0;
    int max_sequences = 0;
};

class ModelRunner;

class EngineCore {
public:
    // Throws InvalidRequestError for bad parameters (see ContextParams, SchedulerConfig).
    EngineCore(const LoadedModel& model, const EngineParams& params);
    ~EngineCore();  // requests still queued or running end without a final update (Engine cancels first)
    EngineCore(const EngineCore&) = delete;
    EngineCore& operator=(const EngineCore&) = delete;

    // Throws InvalidRequestError naming what is wrong (empty or too long prompt, token ids outside the
    // vocabulary, max_tokens 0, n outside [1, 64], bad sampling parameters). Reads only what never
    // changes after construction, so it may run on any thread.
    void validate(const EngineRequest& request) const;
    // Queues a request under a new id (any id not in use); validates first.
    void submit(uint64_t request_id, const EngineRequest& request, UpdateCallback on_update);
    // Ends every sample of the request now and frees its blocks; its callback gets a final update with
    // StopReason::Cancelled. Unknown ids are ignored.
    void cancel(uint64_t request_id);
    void cancel_all();
    bool has_work() const;
    // One scheduling round. Does nothing (and returns zeros) without work.
    StepStats step();

    EngineStats stats() const;
    Context& context();
    const LoadedModel& model() const { return model_; }

private:
    struct Sample;
    struct Group;
    class ContextKv;

    void report(const RequestProgress& progress);
    void fail_step(const SchedulerOutput& out, const std::string& error);
    void fail_request(uint64_t sample_id, const std::string& error);
    void deliver(Sample& sample, RequestUpdate update);

    LoadedModel model_;
    EngineParams params_;
    std::unique_ptr<Context> context_;
    std::unique_ptr<ContextKv> kv_;
    std::unique_ptr<ModelRunner> runner_;
    std::unique_ptr<Scheduler> scheduler_;
    std::shared_ptr<const GrammarVocabulary> grammar_vocabulary_;  // built on the first guided request
    std::map<uint64_t, std::unique_ptr<Sample>> samples_;  // by scheduler request id
    std::map<uint64_t, std::unique_ptr<Group>> groups_;    // by request id
    uint64_t next_sample_id_ = 1;
    EngineStats totals_;
};

// EngineCore on a thread of its own.
class Engine {
public:
    Engine(const LoadedModel& model, const EngineParams& params);
    ~Engine();  // cancels what is left (callbacks get Cancelled) and joins the thread
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Validates on the caller's thread (throws InvalidRequestError), then queues; returns the id.
    uint64_t submit(const EngineRequest& request, UpdateCallback on_update);
    void cancel(uint64_t request_id);
    // As of the end of the last step (or the last submission/cancellation the thread applied); requests
    // submitted since then count as waiting.
    EngineStats stats() const;
    const LoadedModel& model() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace peregrine
