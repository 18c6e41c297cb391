#include "speculative/draft_length_controller.h"

#include <algorithm>
#include <cmath>

#include "peregrine/log.h"

namespace peregrine {
namespace {

constexpr double kForget = 0.9;     // weight of the past in the acceptance counts, per pass
constexpr int kFirstProbe = 16;     // passes at K = 0 before the first probe with K = 1
constexpr int kMaxProbeGap = 512;
constexpr double kProbeBudget = 0.01;  // probes may cost this share of the plain passes between them
// Speculation must promise this much more than plain decoding: the model leaves out the per-row
// sampling and bookkeeping, and a wrong estimate should err towards plain decoding.
constexpr double kRequiredGain = 1.05;
constexpr size_t kMinRealized = 8;   // passes with K > 0 before their measured rate can veto speculation
constexpr int kFirstBackoff = 32;
constexpr double kHopelessDraftRatio = 0.5;
constexpr size_t kMinPlain = 2;     // plain passes measured before the first guess, after the first one
                                    // (often slow after the prompt: it would make later passes look cheap)
constexpr int kPlainRefresh = 32;   // while speculating, one plain pass this often keeps the baseline current
constexpr int kMaxBackoff = 512;
constexpr double kOutlierFactor = 3.0;  // RunningRate: a pass counts at most this times the median pass

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

void RunningRate::add(double ms, int tokens) {
    if (tokens <= 0) return;
    ms_[next_] = ms;
    tokens_[next_] = tokens;
    next_ = (next_ + 1) % kSize;
    n_ = std::min(n_ + 1, kSize);
}

double RunningRate::ms_per_token() const {
    if (n_ == 0) return 0.0;
    std::array<double, kSize> sorted = ms_;
    std::nth_element(sorted.begin(), sorted.begin() + long(n_ / 2), sorted.begin() + long(n_));
    const double cap = kOutlierFactor * sorted[n_ / 2];
    double ms = 0;
    int tokens = 0;
    for (size_t i = 0; i < n_; ++i) {
        ms += std::min(ms_[i], cap);
        tokens += tokens_[i];
    }
    return ms / tokens;
}

DraftLengthController::DraftLengthController(int k_max, bool adaptive) : k_max_(k_max), adaptive_(adaptive) {}

double DraftLengthController::acceptance_estimate() const { return accepted_ / trials_; }

void DraftLengthController::record(const PassRecord& pass) {
    const double draft_ms = pass.draft_ms, verify_ms = pass.verify_ms;
    const int n_drafted = pass.n_drafted, n_accepted = pass.n_accepted, n_rows = pass.n_rows;
    const bool rejected = pass.rejected;
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
    // The pass's cost with its forward priced at the running medians (t1 + c per extra row), not at its
    // own time: on a loaded machine single passes swing by 2x either way, and a window of them would
    // turn off sources that pay. What the model could get wrong is still measured: the tokens really
    // emitted, the drafting time, the loop's own work, and c from real multi-row passes.
    const double forward = t1_.empty() ? verify_ms : t1_.value() + (n_rows > 1 ? c_.value() * (n_rows - 1) : 0.0);
    const double total_ms = draft_ms + forward + pass.loop_ms;
    if (pass.k > 0) {
        realized_.add(total_ms, pass.n_emitted);
    } else if (pass.n_emitted == 1) {
        if (seen_plain_) plain_.add(total_ms, 1);
        seen_plain_ = true;
    }
}

int DraftLengthController::next_k() {
    if (!adaptive_ || k_max_ <= 0) return k_max_;
    const int k = choose_k();
    passes_since_plain_ = k > 0 ? passes_since_plain_ + 1 : 0;
    return k;
}

int DraftLengthController::choose_k() {
    if (plain_.size() < kMinPlain || t1_.empty()) return 0;  // measure plain passes first
    const double t1 = std::max(t1_.value(), 1e-6);
    if (backoff_left_ > 0) {
        --backoff_left_;
        return 0;
    }
    if (passes_since_plain_ >= kPlainRefresh) return 0;
    if (realized_.size() >= kMinRealized) {
        // Both sides are the same kind of estimate (a capped mean), so a noisy machine favours neither.
        // The veto needs a measured loss, not a missed 5%: with noise, a stricter rule also turns off
        // sources that do pay, and keeping a source that merely breaks even costs nothing.
        if (realized_.ms_per_token() > plain_.ms_per_token()) {
            // Speculation, as measured, does not pay here: plain decoding for a while, then a fresh look.
            log_debug("adaptive K: {:.2f} ms per token with guesses, {:.2f} without: K = 0 for {} passes",
                      realized_.ms_per_token(), plain_.ms_per_token(), backoff_len_);
            backoff_left_ = backoff_len_ - 1;
            backoff_len_ = std::min(kMaxBackoff, backoff_len_ * 2);
            realized_ = RunningRate();
            return 0;
        }
        backoff_len_ = kFirstBackoff;  // it pays: a later loss starts with a short back-off again
    }
    const double alpha = acceptance_estimate();
    const double c = c_.empty() ? 0.25 * t1 : c_.value();  // until measured, guess a quarter pass per row
    // An untimed source is tried (d = 0) unless its set-up says a guess costs at least half a target pass.
    // The estimate comes from a prompt pass, which is compute-bound and so overstates a draft that runs
    // on fewer threads; only a clear loser is kept from its first try.
    const double prior = draft_cost_ratio_ >= kHopelessDraftRatio ? draft_cost_ratio_ * t1 : 0.0;
    const double d = d_.empty() ? prior : d_.value();
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
