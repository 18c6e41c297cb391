// Where generated tokens go, one at a time, with generate()'s exact stop semantics: an end-of-generation
// token stops (and is not kept), otherwise the token is accepted by the sampler, decoded to text, checked
// for stop strings, streamed, and then the cancel flag, n_predict and the context end are checked in that
// order. A speculative pass may produce several tokens; they go through here one by one, so a stop in
// the middle of accepted guesses ends generation at exactly the same token as plain decoding would.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "generation/stop_string_filter.h"
#include "peregrine/generation.h"
#include "peregrine/sampling.h"
#include "peregrine/vocab.h"

namespace peregrine {

class TokenSink {
public:
    TokenSink(const Vocab& vocab, const GenerationParams& params, Sampler& sampler, const TextCallback& on_text,
              int n_ctx, GenerationResult& result);

    // Call when the prompt's forward passes are done (starts the time-to-first-token clock's second half).
    void prompt_done();
    // Returns false when generation has ended (result.stop_reason says why); no further tokens may come.
    bool push(int32_t token);
    // Ends generation early for a reason found outside push() (e.g. the grammar is complete).
    void stop(StopReason reason);
    bool stopped() const { return stopped_; }
    // Flushes held-back text and fills result.text and the timing stats.
    void finish();
    int remaining() const;  // tokens still allowed by n_predict

private:
    using Clock = std::chrono::steady_clock;
    const Vocab& vocab_;
    const GenerationParams& params_;
    Sampler& sampler_;
    const TextCallback& on_text_;
    GenerationResult& result_;
    StreamDecoder decoder_;
    StopStringFilter filter_;
    int n_ctx_;
    int max_new_;
    bool cancelled_ = false;
    bool stopped_ = false;
    Clock::time_point start_;
    Clock::time_point decode_start_;

    void emit(std::string_view delta);
};

}  // namespace peregrine
