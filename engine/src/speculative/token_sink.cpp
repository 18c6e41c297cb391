#include "speculative/token_sink.h"

namespace peregrine {
namespace {

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

TokenSink::TokenSink(const Vocab& vocab, const GenerationParams& params, Sampler& sampler,
                     const TextCallback& on_text, int n_ctx, GenerationResult& result)
    : vocab_(vocab),
      params_(params),
      sampler_(sampler),
      on_text_(on_text),
      result_(result),
      decoder_(vocab, /*special=*/false),
      filter_(params.stop_strings),
      n_ctx_(n_ctx),
      max_new_(params.n_predict < 0 ? n_ctx : params.n_predict),
      start_(Clock::now()) {
    result_.stop_reason = StopReason::Length;
    if (max_new_ <= 0) stopped_ = true;  // generate() samples nothing when n_predict is 0
}

void TokenSink::prompt_done() { result_.stats.prefill_ms = ms_between(start_, Clock::now()); }

int TokenSink::remaining() const { return max_new_ - static_cast<int>(result_.tokens.size()); }

void TokenSink::emit(std::string_view delta) {
    if (delta.empty() || cancelled_) return;
    if (on_text_ && !on_text_(delta)) cancelled_ = true;
}

void TokenSink::stop(StopReason reason) {
    if (stopped_) return;
    result_.stop_reason = reason;
    stopped_ = true;
}

bool TokenSink::push(int32_t token) {
    if (stopped_) return false;
    if (result_.tokens.empty()) {
        const auto now = Clock::now();
        result_.stats.time_to_first_token_ms = ms_between(start_, now);
        decode_start_ = now;
    }
    if (params_.stop_at_eog && vocab_.is_eog(token)) {
        stop(StopReason::EndOfGeneration);
        return false;
    }
    sampler_.accept(token);
    result_.tokens.push_back(token);
    const StopStringFilter::Step step = filter_.push(decoder_.push(token));
    emit(step.emit);
    if (step.stopped) {
        stop(StopReason::StopString);
        return false;
    }
    if (cancelled_) {
        stop(StopReason::Cancelled);
        return false;
    }
    if (static_cast<int>(result_.tokens.size()) >= max_new_) {
        stop(StopReason::Length);
        return false;
    }
    // The token sits at this position; plain decoding would now feed it at that position.
    const int64_t pos = static_cast<int64_t>(result_.prompt_tokens.size() + result_.tokens.size()) - 1;
    if (pos + 1 >= n_ctx_) {
        stop(StopReason::ContextFull);
        return false;
    }
    return true;
}

void TokenSink::finish() {
    if (result_.stop_reason != StopReason::StopString) emit(filter_.finish(decoder_.flush()));
    result_.text = filter_.text();
    result_.stats.n_generated = static_cast<int>(result_.tokens.size());
    if (!result_.tokens.empty()) result_.stats.decode_ms = ms_between(decode_start_, Clock::now());
}

}  // namespace peregrine
