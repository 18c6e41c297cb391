// Token sampling: turns one step's raw logits into the next token id.
//
// The chain, in this order:
//   1. penalties   repeat (llama.cpp), frequency and presence (OpenAI) over the last repeat_last_n
//                  accepted tokens. They edit logits, so they come first and every later stage (greedy
//                  included) sees the penalised values.
//   2. top-k       keep the k highest logits. Temperature is a monotone rescaling, so cutting here gives
//                  the same set as cutting after it, and the softmax then runs over k tokens, not 150k.
//   3. softmax     p_i = exp((logit_i - max) / temperature) / sum. Temperature is applied BEFORE top-p and
//                  min-p (unlike llama.cpp's default chain, which applies it last): the usual expectation,
//                  and the one the OpenAI API documents, is that top_p = 0.9 keeps 90% of the mass of the
//                  distribution actually sampled from, i.e. the tempered one.
//   4. top-p       keep the smallest prefix of the ranked tokens whose mass reaches top_p.
//   5. min-p       keep tokens with p >= min_p * p_max.
//   6. sample      renormalise the survivors and draw one with the sampler's own RNG.
// temperature <= 0 means greedy: the argmax of the penalised logits (ties go to the lowest id); stages 2-6
// cannot change that choice, so they are skipped.
//
// Ranking is by (probability or logit descending, id ascending), a strict total order, so every cut is
// exact on ties and the result does not depend on how the standard library orders equal elements.
// The RNG is std::mt19937_64 (its output sequence is fixed by the C++ standard) with a hand-written
// conversion to [0, 1), so one seed gives the same tokens with any standard library.
//
// Logits: -inf marks a masked token (never chosen). NaN is treated as masked too (it cannot be ranked;
// a warning is logged once per sampler). +inf counts as larger than every finite logit; several +inf
// logits share the mass equally. If nothing is left to choose from, sample() throws InvalidRequestError.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace peregrine {

// SamplingParams::seed value that asks for a seed from the OS (std::random_device).
inline constexpr uint64_t kSeedFromOs = 0xFFFFFFFFFFFFFFFFull;

struct SamplingParams {
    float temperature = 0.8f;        // <= 0: greedy (argmax, ties -> lowest id). Must be finite.
    int top_k = 40;                  // <= 0: off
    float top_p = 0.95f;             // >= 1: off; must be > 0
    float min_p = 0.05f;             // <= 0: off; must be <= 1
    float repeat_penalty = 1.0f;     // 1: off; logit > 0 ? logit / p : logit * p. Must be > 0.
    int repeat_last_n = 64;          // window of accepted tokens all three penalties look at; 0: off
    float frequency_penalty = 0.0f;  // logit -= count * frequency_penalty (count within the window)
    float presence_penalty = 0.0f;   // logit -= presence_penalty if the token is in the window
    uint64_t seed = kSeedFromOs;     // kSeedFromOs: random seed from the OS; anything else: deterministic
};

// Throws InvalidRequestError naming the first invalid parameter (NaN or infinite floats, top_p <= 0,
// min_p > 1, repeat_penalty <= 0, repeat_last_n < 0).
void validate_sampling_params(const SamplingParams& params);

class Sampler {
public:
    // Throws InvalidRequestError for invalid params or n_vocab <= 0. Allocates its buffers once, here.
    Sampler(const SamplingParams& params, int32_t n_vocab);

    // Chooses the next token from raw logits (n_vocab floats). Does not modify the input and does not
    // accept the token (call accept() for that). Throws InvalidRequestError if logits.size() != n_vocab
    // or every logit is masked.
    int32_t sample(std::span<const float> logits);

    // Tells the sampler a token became part of the context (prompt tokens too, for penalties).
    // Throws InvalidRequestError for ids outside [0, n_vocab).
    void accept(int32_t token);

    // Forgets the history and the last distribution; re-seeds with the same seed (so the same calls
    // produce the same tokens again).
    void reset();

    uint64_t seed() const { return seed_; }  // the seed actually used (the OS one if kSeedFromOs was asked)
    const SamplingParams& params() const { return params_; }
    int32_t n_vocab() const { return n_vocab_; }

    // The distribution the last sample() drew from, after the whole chain: fills `probs` (resized to
    // n_vocab) with the renormalised probability of each surviving token and 0 elsewhere; greedy gives a
    // one-hot vector. Throws Error if sample() has not been called since construction or reset().
    void last_distribution(std::vector<float>& probs) const;

private:
    struct Candidate {
        int32_t id;
        float logit;  // after penalties
        float prob;   // after softmax; renormalised over the survivors at the end of the chain
    };

    void load_logits(std::span<const float> logits);  // fills candidates_ with every id, sanitised
    void apply_penalties();
    int32_t pick_greedy();
    void keep_top_k();
    void softmax_with_temperature();
    void keep_min_p();
    void keep_top_p();
    int32_t draw();
    double uniform01();  // [0, 1), 53 random bits

    SamplingParams params_;
    int32_t n_vocab_;
    uint64_t seed_;
    std::mt19937_64 rng_;

    // Accepted tokens: a ring of the last repeat_last_n ids, and how often each id occurs in it.
    std::vector<int32_t> window_;     // grows up to repeat_last_n, then wraps
    size_t window_next_ = 0;          // where the next id goes once the ring is full
    std::vector<int32_t> window_counts_;  // (n_vocab) occurrences inside the window

    std::vector<Candidate> candidates_;  // (<= n_vocab) reused by every sample(); survivors of the last one
    int32_t last_greedy_ = -1;           // the token of the last sample() when it was greedy
    bool have_last_ = false;
    bool warned_nan_ = false;
};

}  // namespace peregrine
