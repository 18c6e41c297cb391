// The sampling chain documented in peregrine/sampling.h. Every stage works in place on candidates_,
// which is sized to n_vocab once in the constructor, so sample() never allocates.
#include "peregrine/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "peregrine/error.h"
#include "peregrine/log.h"

namespace peregrine {

namespace {

constexpr float kMaxFinite = std::numeric_limits<float>::max();
constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

[[noreturn]] void invalid_param(std::string_view name, std::string_view why, double value) {
    throw InvalidRequestError(fmt::format("sampling parameter {} = {} is invalid: {}", name, value, why));
}

void require_finite(std::string_view name, float value) {
    if (!std::isfinite(value)) invalid_param(name, "must be a finite number", value);
}

uint64_t seed_from_os() {
    std::random_device device;
    uint64_t seed = (uint64_t(device()) << 32) ^ uint64_t(device());
    // kSeedFromOs itself would read as "ask the OS" if someone passed seed() back in as a parameter.
    return seed == kSeedFromOs ? 0 : seed;
}

}  // namespace

void validate_sampling_params(const SamplingParams& p) {
    require_finite("temperature", p.temperature);
    require_finite("top_p", p.top_p);
    if (p.top_p <= 0.0f) invalid_param("top_p", "must be > 0 (>= 1 turns it off)", p.top_p);
    require_finite("min_p", p.min_p);
    if (p.min_p > 1.0f) invalid_param("min_p", "must be <= 1 (<= 0 turns it off)", p.min_p);
    require_finite("repeat_penalty", p.repeat_penalty);
    if (p.repeat_penalty <= 0.0f) invalid_param("repeat_penalty", "must be > 0 (1 turns it off)", p.repeat_penalty);
    if (p.repeat_last_n < 0) invalid_param("repeat_last_n", "must be >= 0 (0 turns penalties off)", p.repeat_last_n);
    require_finite("frequency_penalty", p.frequency_penalty);
    require_finite("presence_penalty", p.presence_penalty);
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab) : params_(params), n_vocab_(n_vocab) {
    validate_sampling_params(params_);
    if (n_vocab_ <= 0) throw InvalidRequestError(fmt::format("sampler n_vocab = {} must be > 0", n_vocab_));
    seed_ = params_.seed == kSeedFromOs ? seed_from_os() : params_.seed;
    rng_.seed(seed_);
    window_counts_.assign(size_t(n_vocab_), 0);
    candidates_.reserve(size_t(n_vocab_));
}

void Sampler::reset() {
    rng_.seed(seed_);
    for (int32_t token : window_) window_counts_[size_t(token)] = 0;
    window_.clear();
    window_next_ = 0;
    candidates_.clear();
    have_last_ = false;
    last_greedy_ = -1;
}

void Sampler::accept(int32_t token) {
    if (token < 0 || token >= n_vocab_)
        throw InvalidRequestError(fmt::format("accepted token id {} is outside the vocabulary [0, {})", token, n_vocab_));
    const size_t capacity = size_t(params_.repeat_last_n);
    if (capacity == 0) return;
    if (window_.size() < capacity) {
        // Grows with the context rather than reserving repeat_last_n up front, so a huge window costs
        // nothing until that many tokens really arrive.
        window_.push_back(token);
    } else {
        --window_counts_[size_t(window_[window_next_])];
        window_[window_next_] = token;
        window_next_ = (window_next_ + 1) % capacity;
    }
    ++window_counts_[size_t(token)];
}

int32_t Sampler::sample(std::span<const float> logits) {
    if (logits.size() != size_t(n_vocab_))
        throw InvalidRequestError(fmt::format("sampler got {} logits, expected n_vocab = {}", logits.size(), n_vocab_));
    have_last_ = false;
    load_logits(logits);
    apply_penalties();

    if (params_.temperature <= 0.0f) {
        last_greedy_ = pick_greedy();
        have_last_ = true;
        return last_greedy_;
    }
    last_greedy_ = -1;

    // Masked tokens take no part in ranking or softmax. remove_if keeps id order, which draw() relies
    // on when no stage below sorts.
    candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(),
                                     [](const Candidate& c) { return c.logit == kMinusInf; }),
                      candidates_.end());
    if (candidates_.empty())
        throw InvalidRequestError(fmt::format("cannot sample: all {} logits are -inf or NaN", n_vocab_));

    keep_top_k();
    softmax_with_temperature();
    // The documented order is top-p then min-p. Both keep a prefix of the same ranking and top-p's
    // cumulative mass uses the probabilities from before either cut, so the result is the shorter of
    // the two prefixes whichever runs first; running the O(n) min-p filter first leaves top-p fewer
    // tokens to sort.
    keep_min_p();
    keep_top_p();
    const int32_t token = draw();
    have_last_ = true;
    return token;
}

void Sampler::load_logits(std::span<const float> logits) {
    candidates_.resize(size_t(n_vocab_));
    bool saw_nan = false;
    for (int32_t id = 0; id < n_vocab_; ++id) {
        float logit = logits[size_t(id)];
        if (std::isnan(logit)) {
            logit = kMinusInf;
            saw_nan = true;
        } else if (logit > kMaxFinite) {
            // +inf would turn (logit - max) into NaN in the softmax; the largest finite value still
            // outranks every real logit.
            logit = kMaxFinite;
        }
        candidates_[size_t(id)] = Candidate{id, logit, 0.0f};
    }
    if (saw_nan && !warned_nan_) {
        warned_nan_ = true;
        log_warn("sampler: logits contain NaN; those tokens are treated as masked (warned once per sampler)");
    }
}

void Sampler::apply_penalties() {
    const bool any = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                     params_.presence_penalty != 0.0f;
    if (!any || window_.empty()) return;
    // Each distinct token in the window is penalised once, with its count. The count is negated while
    // the token is being visited to mark it done, then restored, so no extra buffer is needed.
    for (int32_t token : window_) {
        int32_t& count = window_counts_[size_t(token)];
        if (count <= 0) continue;
        float& logit = candidates_[size_t(token)].logit;
        if (logit != kMinusInf) {
            float penalised = logit > 0.0f ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
            penalised -= float(count) * params_.frequency_penalty + params_.presence_penalty;
            // A penalty lowers a token; it must not overflow it into "masked" or beyond +-max.
            logit = std::clamp(penalised, -kMaxFinite, kMaxFinite);
        }
        count = -count;
    }
    for (int32_t token : window_) {
        int32_t& count = window_counts_[size_t(token)];
        if (count < 0) count = -count;
    }
}

int32_t Sampler::pick_greedy() {
    int32_t best = -1;
    float best_logit = kMinusInf;
    for (const Candidate& c : candidates_) {
        if (c.logit > best_logit) {  // strict: the first (lowest) id wins ties
            best_logit = c.logit;
            best = c.id;
        }
    }
    if (best < 0) throw InvalidRequestError(fmt::format("cannot sample: all {} logits are -inf or NaN", n_vocab_));
    return best;
}

void Sampler::keep_top_k() {
    const auto by_logit = [](const Candidate& a, const Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    if (params_.top_k <= 0 || size_t(params_.top_k) >= candidates_.size()) return;
    const auto kth = candidates_.begin() + params_.top_k;
    std::nth_element(candidates_.begin(), kth, candidates_.end(), by_logit);  // O(n)
    candidates_.erase(kth, candidates_.end());
    // nth_element leaves the k survivors in an implementation-defined order; draw() walks them in a
    // fixed one so that a seed means the same token everywhere.
    std::sort(candidates_.begin(), candidates_.end(), by_logit);  // O(k log k)
}

void Sampler::softmax_with_temperature() {
    float max_logit = kMinusInf;
    for (const Candidate& c : candidates_) max_logit = std::max(max_logit, c.logit);
    // exp((logit - max) / T) rather than exp(logit / T - max / T): the latter overflows for large logits
    // and small T. The max itself gives exp(0) = 1, so the sum is never 0.
    // Divide rather than multiply by 1/T: for a denormal T, 1/T is inf and 0 * inf would be NaN.
    const float temperature = params_.temperature;
    double sum = 0.0;
    for (Candidate& c : candidates_) {
        c.prob = std::exp((c.logit - max_logit) / temperature);
        sum += c.prob;
    }
    const double inv_sum = 1.0 / sum;
    for (Candidate& c : candidates_) c.prob = float(c.prob * inv_sum);
}

void Sampler::keep_min_p() {
    if (params_.min_p <= 0.0f) return;
    float max_prob = 0.0f;
    for (const Candidate& c : candidates_) max_prob = std::max(max_prob, c.prob);
    const float threshold = params_.min_p * max_prob;
    // Order-preserving, and the max itself always passes since min_p <= 1.
    candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(),
                                     [threshold](const Candidate& c) { return c.prob < threshold; }),
                      candidates_.end());
}

void Sampler::keep_top_p() {
    if (params_.top_p >= 1.0f) return;
    const auto by_prob = [](const Candidate& a, const Candidate& b) {
        return a.prob > b.prob || (a.prob == b.prob && a.id < b.id);
    };
    // The nucleus is usually a few dozen tokens even when top-k is off and 150k remain, so sort only a
    // growing ranked prefix (O(n log chunk) per round) until its mass reaches top_p.
    const double target = params_.top_p;
    double cumulative = 0.0;
    size_t sorted = 0;
    size_t chunk = 64;
    while (sorted < candidates_.size()) {
        const size_t end = std::min(candidates_.size(), sorted + chunk);
        std::partial_sort(candidates_.begin() + ptrdiff_t(sorted), candidates_.begin() + ptrdiff_t(end),
                          candidates_.end(), by_prob);
        for (size_t i = sorted; i < end; ++i) {
            cumulative += candidates_[i].prob;
            if (cumulative >= target) {
                candidates_.erase(candidates_.begin() + ptrdiff_t(i + 1), candidates_.end());
                return;
            }
        }
        sorted = end;
        chunk *= 4;
    }
    // Rounding kept the total just under top_p: everything stays (already sorted).
}

int32_t Sampler::draw() {
    double total = 0.0;
    for (const Candidate& c : candidates_) total += c.prob;
    // total > 0: the top-ranked token has probability 1 / sum >= 1 / n_vocab and survives every cut.
    for (Candidate& c : candidates_) c.prob = float(c.prob / total);

    const double u = uniform01();
    double cumulative = 0.0;
    int32_t last_possible = -1;
    for (const Candidate& c : candidates_) {
        if (c.prob <= 0.0f) continue;  // underflowed to 0: must never be returned, not even by the fallback
        last_possible = c.id;
        cumulative += c.prob;
        if (u < cumulative) return c.id;
    }
    return last_possible;  // the renormalised floats summed to just under u
}

double Sampler::uniform01() {
    return double(rng_() >> 11) * 0x1.0p-53;
}

void Sampler::last_distribution(std::vector<float>& probs) const {
    if (!have_last_) throw Error("Sampler::last_distribution called before sample() (or after reset())");
    probs.assign(size_t(n_vocab_), 0.0f);
    if (last_greedy_ >= 0) {
        probs[size_t(last_greedy_)] = 1.0f;
        return;
    }
    for (const Candidate& c : candidates_) probs[size_t(c.id)] = c.prob;
}

}  // namespace peregrine
