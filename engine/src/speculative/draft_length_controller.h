// Chooses how many guesses (K) the next verification pass takes.
//
// Fixed mode always answers k_max. Adaptive mode keeps three running estimates and picks the K with the
// highest expected tokens per millisecond:
//   alpha  per-guess acceptance rate (each accepted guess is a success, the first rejected one a failure;
//          a geometric model, with a weak prior of 0.5 and exponential forgetting so it follows the text);
//   verify cost of a pass of n rows, t1 + c * (n - 1): t1 from single-row passes, c from the others;
//   draft cost per guess d (near 0 for prompt lookup, a draft-model forward for a draft model);
// (the timings as medians of the recent passes).
// A pass with K guesses yields (1 - alpha^(K+1)) / (1 - alpha) tokens on average and costs
// t1 + (c + d) * K, against 1 token per t1 without speculation; speculation must promise 5% more to be
// chosen. When K = 0 wins the controller still probes with K = 1 now and then, so a change in the text
// (a repetitive stretch) is noticed: first after 16 passes, then as rarely as keeps the probes' measured
// cost below 1% of the passes between them (at most every 512 passes; never again if even that is too
// much, as for a draft model that must catch up on every token it skipped).
#pragma once

#include <array>
#include <cstddef>

namespace peregrine {

// The median of the last kSize samples. Timings on a shared machine have rare huge outliers (the thread
// was preempted); a median ignores them where a mean would swing K for many passes.
class RunningMedian {
public:
    static constexpr size_t kSize = 15;
    void add(double x);
    bool empty() const { return n_ == 0; }
    double value() const;  // 0 when empty

private:
    std::array<double, kSize> samples_{};
    size_t n_ = 0, next_ = 0;
};

class DraftLengthController {
public:
    DraftLengthController(int k_max, bool adaptive);

    int next_k();
    // One pass: guesses verified, guesses kept, whether verification stopped at a rejected guess (false
    // when every guess was kept or generation ended first), the time spent drafting and in the target's
    // forward, and the rows that forward had.
    void record(int n_drafted, int n_accepted, bool rejected, double draft_ms, double verify_ms, int n_rows);

    double acceptance_estimate() const;

private:
    int k_max_;
    bool adaptive_;
    double accepted_ = 1.0, trials_ = 2.0;  // decayed counts behind alpha
    RunningMedian t1_;  // ms of a one-row pass
    RunningMedian c_;   // ms per extra row
    RunningMedian d_;   // ms per guess drafted
    static constexpr int kNeverProbe = 1 << 30;
    int steps_without_k_ = 0;
    int probe_gap_ = 16;    // passes at K = 0 between probes
    bool probing_ = false;  // the last K was a probe
};

}  // namespace peregrine
