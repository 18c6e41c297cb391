// Decides the token of one position from the target's logits and the guess a draft made for it, so the
// output is exactly what the target alone would produce (greedy) or is distributed exactly as the
// target's sampling distribution p (sampling):
//   greedy:   the target's own choice (the caller keeps the guess when they are equal);
//   sampling: keep the guess d with probability min(1, p(d) / q(d)); otherwise draw from max(0, p - q)
//             normalised. q is the distribution the guess was drawn from; a deterministic guess (prompt
//             lookup) is a one-hot q, so it is kept with probability p(d) and otherwise replaced by a draw
//             from p without d.
// p comes from the request's own Sampler (penalties, top-k/p, min-p, temperature), whose history holds
// exactly the tokens before this position, so the chain is the one plain generation applies.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "peregrine/sampling.h"

namespace peregrine {

class TokenVerifier {
public:
    // The acceptance coin flips use their own generator, seeded from `seed`, so a run is reproducible.
    TokenVerifier(Sampler& sampler, uint64_t seed);

    // guess < 0: no guess, a plain draw from the target. q: n_vocab floats, or null for a one-hot q.
    int32_t choose(std::span<const float> logits, int32_t guess, const float* q);

private:
    double uniform01();  // [0, 1), 53 random bits

    Sampler& sampler_;
    bool greedy_;
    std::mt19937_64 rng_;
    std::vector<float> p_;  // (n_vocab) the target's distribution at this position
};

}  // namespace peregrine
