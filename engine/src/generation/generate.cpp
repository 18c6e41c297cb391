#include "peregrine/generation.h"

#include <algorithm>
#include <chrono>

#include "generation/stop_string_filter.h"
#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/error.h"
#include "peregrine/log.h"
#include "peregrine/vocab.h"

namespace peregrine {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Removes the sequence when generation ends however it ends, so a cancelled or failed request leaves
// no KV blocks behind.
struct SequenceGuard {
    Context& context;
    int32_t seq_id;
    ~SequenceGuard() { context.remove_sequence(seq_id); }
};

}  // namespace

std::string_view stop_reason_name(StopReason reason) {
    switch (reason) {
        case StopReason::Length: return "length";
        case StopReason::EndOfGeneration: return "eog";
        case StopReason::StopString: return "stop_string";
        case StopReason::Cancelled: return "cancelled";
        case StopReason::ContextFull: return "context_full";
    }
    return "unknown";
}

double GenerationStats::prefill_tokens_per_second() const {
    return prefill_ms > 0 ? n_prompt_tokens * 1000.0 / prefill_ms : 0.0;
}

double GenerationStats::decode_tokens_per_second() const {
    // The first generated token comes from the prompt's logits; each later one costs one forward pass.
    const int passes = std::max(0, n_generated - 1);
    return decode_ms > 0 ? passes * 1000.0 / decode_ms : 0.0;
}

GenerationResult generate(Context& context, const Vocab& vocab, std::span<const int32_t> prompt,
                          const GenerationParams& params, const TextCallback& on_text) {
    const int32_t seq = params.seq_id;
    const int n_ctx = context.n_ctx();
    if (prompt.empty()) throw InvalidRequestError("the prompt is empty: nothing to generate from");
    if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
        throw InvalidRequestError("the prompt has " + std::to_string(prompt.size()) +
                                  " tokens but the context holds " + std::to_string(n_ctx) +
                                  " (raise -c/--ctx-size or shorten the prompt)");
    }
    if (context.sequence_length(seq) != 0) {
        throw InvalidRequestError("sequence " + std::to_string(seq) + " is already in use");
    }
    if (params.n_batch <= 0) throw InvalidRequestError("n_batch must be positive");

    GenerationResult result;
    result.prompt_tokens.assign(prompt.begin(), prompt.end());
    result.stats.n_prompt_tokens = static_cast<int>(prompt.size());

    SequenceGuard guard{context, seq};
    Sampler sampler(params.sampling, vocab.n_tokens());
    result.seed = sampler.seed();
    for (int32_t t : prompt) sampler.accept(t);
    StreamDecoder decoder(vocab, /*special=*/false);
    StopStringFilter filter(params.stop_strings);

    bool cancelled = false;
    auto emit = [&](std::string_view delta) {
        if (delta.empty() || cancelled) return;
        if (on_text && !on_text(delta)) cancelled = true;
    };

    const auto start = Clock::now();
    // Prefill in chunks; only the last row of the last chunk needs logits.
    std::span<const float> logits;
    Batch batch;
    for (size_t begin = 0; begin < prompt.size(); begin += params.n_batch) {
        const size_t end = std::min(prompt.size(), begin + static_cast<size_t>(params.n_batch));
        batch.rows.clear();
        for (size_t i = begin; i < end; ++i) {
            batch.add(seq, static_cast<int32_t>(i), prompt[i], i + 1 == prompt.size());
        }
        logits = context.decode(batch);
    }
    result.stats.prefill_ms = ms_since(start);

    const int max_new = params.n_predict < 0 ? n_ctx : params.n_predict;
    int32_t pos = static_cast<int32_t>(prompt.size());
    Clock::time_point decode_start;
    result.stop_reason = StopReason::Length;
    while (static_cast<int>(result.tokens.size()) < max_new) {
        const int32_t token = sampler.sample(logits);
        if (result.tokens.empty()) {
            result.stats.time_to_first_token_ms = ms_since(start);
            decode_start = Clock::now();
        }
        if (params.stop_at_eog && vocab.is_eog(token)) {
            result.stop_reason = StopReason::EndOfGeneration;
            break;
        }
        sampler.accept(token);
        result.tokens.push_back(token);

        const StopStringFilter::Step step = filter.push(decoder.push(token));
        emit(step.emit);
        if (step.stopped) {
            result.stop_reason = StopReason::StopString;
            break;
        }
        if (cancelled) {
            result.stop_reason = StopReason::Cancelled;
            break;
        }
        if (static_cast<int>(result.tokens.size()) >= max_new) break;
        if (pos + 1 >= n_ctx) {
            result.stop_reason = StopReason::ContextFull;
            break;
        }
        batch.rows.clear();
        batch.add(seq, pos, token, true);
        logits = context.decode(batch);
        ++pos;
    }
    if (result.stop_reason != StopReason::StopString) {
        emit(filter.finish(decoder.flush()));
    }
    result.text = filter.text();
    result.stats.n_generated = static_cast<int>(result.tokens.size());
    if (!result.tokens.empty()) result.stats.decode_ms = ms_since(decode_start);
    log_debug("generated {} tokens, stop: {}", result.tokens.size(), stop_reason_name(result.stop_reason));
    return result;
}

}  // namespace peregrine
