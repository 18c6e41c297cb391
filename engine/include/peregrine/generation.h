// The generation loop shared by the CLI, the app and the server: prefill a prompt, then sample one token
// at a time until a stop condition, streaming complete UTF-8 text as it goes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "peregrine/sampling.h"

namespace peregrine {

class Context;
class Vocab;

enum class StopReason { Length, EndOfGeneration, StopString, Cancelled, ContextFull };
std::string_view stop_reason_name(StopReason reason);

struct GenerationParams {
    int n_predict = 256;                    // < 0: until the context is full
    SamplingParams sampling;
    std::vector<std::string> stop_strings;  // generation ends before the first occurrence
    bool stop_at_eog = true;                // end-of-generation tokens (EOS, EOT, <|im_end|>...) stop
    int n_batch = 512;                      // prompt tokens per forward pass (bounds scratch memory)
    int32_t seq_id = 0;
};

struct GenerationStats {
    int n_prompt_tokens = 0;
    int n_generated = 0;
    double prefill_ms = 0;          // prompt forward passes (time to the first token's logits)
    double decode_ms = 0;           // everything after the first token
    double time_to_first_token_ms = 0;
    double prefill_tokens_per_second() const;
    double decode_tokens_per_second() const;
};

struct GenerationResult {
    std::vector<int32_t> prompt_tokens;
    std::vector<int32_t> tokens;    // generated ids (the stopping EOG token is not included)
    std::string text;               // generated text, stop string removed
    StopReason stop_reason = StopReason::Length;
    uint64_t seed = 0;              // the sampler's seed (the random one when none was given)
    GenerationStats stats;
};

// Receives each new piece of text (always complete UTF-8) and the token that completed it; returning
// false stops generation (StopReason::Cancelled) and keeps what was produced so far.
using TextCallback = std::function<bool(std::string_view text_delta)>;

// Runs prompt + generation on `params.seq_id` of `context`, which must be empty for that sequence (the
// sequence is removed again at the end). Throws InvalidRequestError when the prompt does not fit the context.
GenerationResult generate(Context& context, const Vocab& vocab, std::span<const int32_t> prompt,
                          const GenerationParams& params, const TextCallback& on_text = {});

}  // namespace peregrine
