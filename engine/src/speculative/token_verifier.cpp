#include "speculative/token_verifier.h"

#include <algorithm>

namespace peregrine {

TokenVerifier::TokenVerifier(Sampler& sampler, uint64_t seed)
    : sampler_(sampler), greedy_(sampler.params().temperature <= 0.0f), rng_(seed ^ 0x9e3779b97f4a7c15ull) {}

double TokenVerifier::uniform01() { return double(rng_() >> 11) * 0x1.0p-53; }

int32_t TokenVerifier::choose(std::span<const float> logits, int32_t guess, const float* q) {
    // The sampler's draw is what plain generation would produce here; it is the answer for greedy and
    // for positions without a guess.
    const int32_t own = sampler_.sample(logits);
    if (greedy_ || guess < 0) return own;

    sampler_.last_distribution(p_);
    const size_t d = size_t(guess);
    const double pd = p_[d];
    const double qd = q ? double(q[d]) : 1.0;
    if (qd > 0.0 && uniform01() * qd < pd) return guess;

    // Rejected: draw from the residual max(0, p - q), which is p with the guess's share taken away.
    double total = 0.0;
    for (size_t i = 0; i < p_.size(); ++i) {
        const double r = std::max(0.0, double(p_[i]) - (q ? double(q[i]) : (i == d ? 1.0 : 0.0)));
        p_[i] = float(r);
        total += r;
    }
    // p == q (or rounding made them so): the guess would always have been kept; p's own draw is exact.
    if (total <= 0.0) return own;
    double u = uniform01() * total;
    int32_t last_nonzero = -1;
    for (size_t i = 0; i < p_.size(); ++i) {
        if (p_[i] <= 0.0f) continue;
        last_nonzero = int32_t(i);
        u -= p_[i];
        if (u < 0.0) return int32_t(i);
    }
    return last_nonzero;  // u landed on the rounding slack at the very end
}

}  // namespace peregrine
