#include "speculative/draft_length_controller.h"

#include <algorithm>
#include <cmath>

namespace peregrine {
namespace {

constexpr double kForget = 0.9;     // weight of the past in the acceptance counts, per pass
constexpr int kFirstProbe = 16;     // passes at K = 0 before the first probe with K = 1
constexpr int kMaxProbeGap = 512;
constexpr double kProbeBudget = 0.01;  // probes may cost this share of the plain passes between them
// Speculation must promise this much more than plain decoding: the model leaves out the per-row
// sampling and bookkeeping, and a wrong estimate should err towards plain decoding.
constexpr double kRequiredGain = 1.05;

}  // namespace

void RunningMedian::add(double x) {
    samples_[next_] = x;
    next_ = (next_ + 1) % kSize;
    n_ = std::min(n_ + 1, kSize);
}

double RunningMedian::value() const {
    if (n_ == 0) return 0.0;
    std::array<double, kSize> copy = samples_;
    std::nth_element(copy.begin(), copy.begin() + long(n_ / 2), copy.begin() + long(n_));
    return copy[n_ / 2];
}

DraftLengthController::DraftLengthController(int k_max, bool adaptive) : k_max_(k_max), adaptive_(adaptive) {}

double DraftLengthController::acceptance_estimate() const { return accepted_ / trials_; }

void DraftLengthController::record(int n_drafted, int n_accepted, bool rejected, double draft_ms, double verify_ms,
                                   int n_rows) {
    if (probing_) {
        probing_ = false;
        // What the probe cost beyond a plain pass, against the plain passes before it. A draft model
        // catches up on every token since its last proposal, so its probes grow with the gap and can
        // never fit the budget: then probing stops (speculation stays off for this request).
        const double t1 = std::max(t1_.value(), 1e-6);
        const double cost = std::max(0.0, draft_ms + verify_ms - t1);
        const double share = cost / (probe_gap_ * t1);
        if (share > kProbeBudget) {
            if (probe_gap_ >= kMaxProbeGap) {
                probe_gap_ = kNeverProbe;
            } else {
                probe_gap_ = int(std::min<double>(kMaxProbeGap, std::ceil(probe_gap_ * share / kProbeBudget)));
            }
        }
    }
    if (n_drafted > 0) {
        accepted_ = kForget * accepted_ + n_accepted;
        trials_ = kForget * trials_ + n_accepted + (rejected ? 1 : 0);
        trials_ = std::max(trials_, accepted_ + 1e-3);  // keeps alpha < 1
        d_.add(draft_ms / n_drafted);
    } else if (draft_ms > 0) {
        d_.add(draft_ms);  // a proposal that guessed nothing (threshold drafting) still cost its time
    }
    if (n_rows == 1) {
        t1_.add(verify_ms);
    } else if (n_rows > 1 && !t1_.empty()) {
        c_.add(std::max(0.0, (verify_ms - t1_.value()) / (n_rows - 1)));
    }
}

int DraftLengthController::next_k() {
    if (!adaptive_ || k_max_ <= 0) return k_max_;
    if (t1_.empty()) return 0;  // measure a plain pass first
    const double t1 = std::max(t1_.value(), 1e-6);
    const double alpha = acceptance_estimate();
    const double c = c_.empty() ? 0.25 * t1 : c_.value();  // until measured, guess a quarter pass per row
    const double d = d_.value();
    const double plain_rate = 1.0 / t1;
    int best_k = 0;
    double best_rate = plain_rate * kRequiredGain;
    double alpha_pow = alpha;  // alpha^(K+1) for K = 0
    for (int k = 1; k <= k_max_; ++k) {
        alpha_pow *= alpha;
        const double tokens = (1.0 - alpha_pow) / (1.0 - alpha);
        const double rate = tokens / (t1 + (c + d) * k);
        if (rate > best_rate) {
            best_rate = rate;
            best_k = k;
        }
    }
    if (best_k > 0) {
        steps_without_k_ = 0;
        return best_k;
    }
    // A source whose guesses cost more than the probe budget of a plain pass (a draft model, which also
    // has to catch up on every skipped token) is not probed at all.
    if (d > kProbeBudget * t1) probe_gap_ = kNeverProbe;
    if (probe_gap_ != kNeverProbe && ++steps_without_k_ >= probe_gap_) {
        steps_without_k_ = 0;
        probing_ = true;
        return 1;
    }
    return 0;
}

}  // namespace peregrine
