#include <algorithm>
#include <chrono>
#include <exception>

#include <fmt/format.h>

#include "generation/stop_string_filter.h"
#include "peregrine/engine.h"
#include "peregrine/error.h"
#include "peregrine/log.h"
#include "peregrine/vocab.h"
#include "scheduler/model_runner.h"

namespace peregrine {
namespace {

constexpr int kMaxSamples = 64;

}  // namespace

// The scheduler's view of the context's KV cache.
class EngineCore::ContextKv : public KvBudget {
public:
    explicit ContextKv(Context& context) : context_(context) {}
    int32_t free_blocks() const override { return context_.kv_free_blocks(); }
    int32_t blocks_needed(int32_t seq, int32_t new_len) const override {
        return context_.kv_blocks_needed(seq, new_len);
    }
    int32_t reuse_prefix(int32_t seq, std::span<const int32_t> tokens) override {
        return context_.reuse_prefix(seq, tokens);
    }
    void remove(int32_t seq) override { context_.remove_sequence(seq); }

private:
    Context& context_;
};

// One sample of a request: its text stream (UTF-8 assembly, stop strings held back).
struct EngineCore::Sample {
    uint64_t group_id;
    int index;
    StreamDecoder decoder;
    StopStringFilter filter;
    uint64_t seed;
    int n_prompt;
    int n_forced_reported = 0;
};

struct EngineCore::Group {
    UpdateCallback on_update;
    int n_prompt = 0;
    int n_live = 0;                 // samples not finished yet
    std::vector<uint64_t> sample_ids;
    bool cancelled = false;
};

EngineCore::EngineCore(const LoadedModel& model, const EngineParams& params) : model_(model), params_(params) {
    if (!model_.model || !model_.vocab) throw InvalidRequestError("engine: no model loaded");
    context_ = std::make_unique<Context>(model_.model, params_.context);
    if (!context_->uses_kv_cache()) {
        throw InvalidRequestError("engine: batching needs the KV cache (use_kv_cache = false is a single-sequence "
                                  "baseline)");
    }
    kv_ = std::make_unique<ContextKv>(*context_);
    runner_ = std::make_unique<ModelRunner>(*context_);
    SchedulerConfig sc;
    sc.max_sequences = params_.context.n_seq_max;
    sc.max_batch_tokens = params_.max_batch_tokens;
    sc.max_seq_len = context_->n_ctx();
    sc.mode = params_.scheduling;
    scheduler_ = std::make_unique<Scheduler>(sc, *kv_);
    totals_.max_sequences = sc.max_sequences;
}

EngineCore::~EngineCore() {
    // The scheduler frees its sequences through kv_, so it goes before the context.
    scheduler_.reset();
}

void EngineCore::validate(const EngineRequest& request) const {
    const int n_ctx = context_->n_ctx();
    const int32_t n_vocab = model_.vocab->n_tokens();
    if (request.prompt.empty()) throw InvalidRequestError("the prompt is empty: nothing to generate from");
    if (static_cast<int64_t>(request.prompt.size()) >= n_ctx) {
        throw InvalidRequestError(fmt::format("the prompt has {} tokens but the context holds {}", request.prompt.size(),
                                              n_ctx));
    }
    for (int32_t t : request.prompt) {
        if (t < 0 || t >= n_vocab) {
            throw InvalidRequestError(fmt::format("prompt token id {} is outside the vocabulary [0, {})", t, n_vocab));
        }
    }
    if (request.max_tokens == 0) throw InvalidRequestError("max_tokens is 0: nothing to generate");
    if (request.n < 1 || request.n > kMaxSamples) {
        throw InvalidRequestError(fmt::format("n = {} is outside [1, {}]", request.n, kMaxSamples));
    }
    validate_sampling_params(request.sampling);
}

void EngineCore::submit(uint64_t request_id, const EngineRequest& request, UpdateCallback on_update) {
    validate(request);
    if (groups_.count(request_id) != 0) {
        throw InvalidRequestError(fmt::format("request id {} is already in use", request_id));
    }
    auto group = std::make_unique<Group>();
    group->on_update = std::move(on_update);
    group->n_prompt = static_cast<int>(request.prompt.size());
    std::vector<int32_t> stop_tokens;
    if (request.stop_at_eog) stop_tokens = model_.vocab->eog_ids();
    GuidedParams guided;
    if (request.grammar) {
        // One pass over the vocabulary, on the first guided request only.
        if (!grammar_vocabulary_) grammar_vocabulary_ = std::make_shared<const GrammarVocabulary>(*model_.vocab);
        guided.grammar = request.grammar;
        guided.vocabulary = grammar_vocabulary_;
        guided.force_tokens = request.force_grammar_tokens;
    }

    for (int i = 0; i < request.n; ++i) {
        const uint64_t id = next_sample_id_++;
        SamplingParams sampling = request.sampling;
        if (sampling.seed != kSeedFromOs) sampling.seed += static_cast<uint64_t>(i);
        runner_->add_request(id, sampling, request.prompt, guided);
        SequenceRequest sr;
        sr.id = id;
        sr.prompt = request.prompt;
        sr.max_new_tokens = request.max_tokens;
        sr.stop_tokens = stop_tokens;
        sr.prefix_source = i == 0 ? 0 : group->sample_ids.front();
        try {
            scheduler_->add(std::move(sr));
        } catch (...) {
            runner_->remove_request(id);
            for (uint64_t s : group->sample_ids) {
                scheduler_->finish(s, StopReason::Cancelled);
                runner_->remove_request(s);
                samples_.erase(s);
            }
            throw;
        }
        samples_.emplace(id, std::make_unique<Sample>(Sample{request_id, i, StreamDecoder(*model_.vocab, false),
                                                             StopStringFilter(request.stop_strings),
                                                             runner_->seed(id), group->n_prompt}));
        group->sample_ids.push_back(id);
        ++group->n_live;
    }
    groups_.emplace(request_id, std::move(group));
}

void EngineCore::deliver(Sample& sample, RequestUpdate update) {
    const auto g = groups_.find(sample.group_id);
    if (g == groups_.end()) return;
    Group& group = *g->second;
    update.request_id = sample.group_id;
    update.index = sample.index;
    update.seed = sample.seed;
    if (update.n_prompt_tokens == 0) update.n_prompt_tokens = group.n_prompt;
    if (update.finished) {
        --group.n_live;
        update.all_finished = group.n_live == 0;
    }
    totals_.generated_tokens += update.tokens.size();
    // The callback may cancel this or another request; keep what it needs before calling.
    const UpdateCallback callback = group.on_update;
    const bool last = update.all_finished;
    if (last) {
        ++totals_.requests_finished;
        if (group.cancelled) ++totals_.requests_cancelled;
        groups_.erase(g);
    }
    if (callback) {
        try {
            callback(update);
        } catch (const std::exception& e) {
            log_warn("engine: the update callback of request {} threw: {}", update.request_id, e.what());
        }
    }
}

// Turns a request's progress into text and a callback; a stop string found here ends the request.
void EngineCore::report(const RequestProgress& progress) {
    const auto it = samples_.find(progress.request_id);
    if (it == samples_.end()) return;
    Sample& sample = *it->second;
    RequestUpdate update;
    update.tokens = progress.new_tokens;
    update.finished = progress.finished;
    update.stop_reason = progress.stop_reason;
    update.n_prompt_tokens = progress.n_prompt_tokens;
    update.n_cached_prompt_tokens = progress.n_cached_prompt_tokens;
    update.n_generated = progress.n_generated;
    for (size_t k = 0; k < progress.new_tokens.size(); ++k) {
        const StopStringFilter::Step step = sample.filter.push(sample.decoder.push(progress.new_tokens[k]));
        update.text += step.emit;
        if (step.stopped) {
            // As in generate(), a stop string wins over the limit reached by the same token; forced tokens
            // after it are dropped.
            if (!update.finished) scheduler_->finish(progress.request_id, StopReason::StopString);
            const int dropped = static_cast<int>(progress.new_tokens.size() - k - 1);
            update.tokens.resize(k + 1);
            update.n_generated = progress.n_generated - dropped;
            update.finished = true;
            update.stop_reason = StopReason::StopString;
            break;
        }
    }
    update.n_forced = std::min(runner_->n_forced(progress.request_id), update.n_generated);
    totals_.forced_tokens += static_cast<uint64_t>(update.n_forced - sample.n_forced_reported);
    sample.n_forced_reported = update.n_forced;
    if (update.finished && update.stop_reason != StopReason::StopString && update.stop_reason != StopReason::Cancelled) {
        update.text += sample.filter.finish(sample.decoder.flush());
    }
    if (update.finished) runner_->remove_request(progress.request_id);
    std::unique_ptr<Sample> keep;
    if (update.finished) {
        keep = std::move(it->second);
        samples_.erase(it);
    }
    deliver(keep ? *keep : sample, std::move(update));
}

void EngineCore::cancel(uint64_t request_id) {
    const auto g = groups_.find(request_id);
    if (g == groups_.end()) return;
    g->second->cancelled = true;
    const std::vector<uint64_t> ids = g->second->sample_ids;
    for (uint64_t id : ids) {
        if (samples_.count(id) == 0) continue;  // this sample already finished
        RequestProgress p = scheduler_->finish(id, StopReason::Cancelled);
        p.request_id = id;
        p.finished = true;
        p.stop_reason = StopReason::Cancelled;
        report(p);
    }
}

void EngineCore::cancel_all() {
    std::vector<uint64_t> ids;
    for (const auto& [id, group] : groups_) ids.push_back(id);
    for (uint64_t id : ids) cancel(id);
}

bool EngineCore::has_work() const { return scheduler_->has_work(); }

void EngineCore::fail_step(const SchedulerOutput& out, const std::string& error) {
    log_warn("engine: a forward pass failed, ending its {} requests: {}", out.chunks.size(), error);
    for (const ScheduledChunk& c : out.chunks) fail_request(c.request_id, error);
}

// Ends one sample with an error (finished, Cancelled, error set).
void EngineCore::fail_request(uint64_t sample_id, const std::string& error) {
    const auto it = samples_.find(sample_id);
    if (it == samples_.end()) return;
    RequestProgress p = scheduler_->finish(sample_id, StopReason::Cancelled);
    std::unique_ptr<Sample> sample = std::move(it->second);
    samples_.erase(it);
    runner_->remove_request(sample_id);
    RequestUpdate update;
    update.finished = true;
    update.stop_reason = StopReason::Cancelled;
    update.error = error;
    update.n_generated = p.n_generated;
    update.n_cached_prompt_tokens = p.n_cached_prompt_tokens;
    deliver(*sample, std::move(update));
}

StepStats EngineCore::step() {
    StepStats st;
    if (!scheduler_->has_work()) return st;
    const auto start = std::chrono::steady_clock::now();
    const SchedulerOutput out = scheduler_->schedule();
    st.n_rows = out.n_rows();
    st.n_sequences = static_cast<int>(out.chunks.size());
    st.n_preempted = static_cast<int>(out.preempted.size());
    for (const ScheduledChunk& c : out.chunks) {
        const auto it = samples_.find(c.request_id);
        const int n_prompt = it == samples_.end() ? 0 : it->second->n_prompt;
        st.n_prompt_rows += std::clamp(n_prompt - c.pos, 0, static_cast<int>(c.tokens.size()));
    }
    RunnerOutput ran;
    std::vector<RunnerFailure> failed;
    try {
        ran = runner_->execute(out, failed);
    } catch (const std::exception& e) {
        fail_step(out, e.what());
        return st;
    }
    for (const RunnerFailure& f : failed) fail_request(f.request_id, f.error);
    for (const RequestProgress& p : scheduler_->update(out, ran)) report(p);
    st.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    st.forward_ms = runner_->last_forward_ms();
    ++totals_.steps;
    totals_.rows += static_cast<uint64_t>(st.n_rows);
    totals_.prompt_rows += static_cast<uint64_t>(st.n_prompt_rows);
    totals_.preemptions += static_cast<uint64_t>(st.n_preempted);
    if (params_.on_step) params_.on_step(st);
    return st;
}

EngineStats EngineCore::stats() const {
    EngineStats s = totals_;
    s.n_running = scheduler_->n_running();
    s.n_waiting = scheduler_->n_waiting();
    s.kv = context_->kv_stats();
    return s;
}

Context& EngineCore::context() { return *context_; }

}  // namespace peregrine
