// Chooses how many guesses (K) the next verification pass takes.
//
// Fixed mode always answers k_max. Adaptive mode keeps three running estimates and picks the K with the
// highest expected tokens per millisecond:
//   alpha  per-guess acceptance rate (each accepted guess is a success, the first rejected one a failure;
//          a geometric model, with a weak prior of 0.5 and exponential forgetting so it follows the text);
//   verify cost of a pass of n rows, t1 + c * (n - 1): t1 from single-row passes, c from the others;
//   draft cost per guess d (near 0 for prompt lookup, a draft-model forward for a draft model; before it
//          is measured, estimated from the source's set-up against the target's prompt pass);
// (the timings as medians of the recent passes).
// A pass with K guesses yields (1 - alpha^(K+1)) / (1 - alpha) tokens on average and costs
// t1 + (c + d) * K, against 1 token per t1 without speculation; speculation must promise 5% more to be
// chosen. When K = 0 wins the controller still probes with K = 1 now and then, so a change in the text
// (a repetitive stretch) is noticed: first after 16 passes, then as rarely as keeps the probes' measured
// cost below 1% of the passes between them (at most every 512 passes; never again if even that is too
// much, as for a draft model that must catch up on every token it skipped).
// The model can be wrong (rows cost more than their median says, per-token work outside the forward,
// a loaded machine), so what speculation actually delivers is checked too. Every pass reports its whole
// cost (drafting, the forward, and the loop's own work of settling and rolling back its tokens) and the
// tokens it emitted; the forward is priced at the running medians t1 + c * (rows - 1), because single
// passes on a loaded machine swing by 2x either way and a window of them would veto sources that pay.
// Passes run with K > 0 give a rate over the last kSize of them (total ms / total
// tokens: a mean, not a median of per-pass ratios, because a lookup source that alternates 9-token and
// 1-token passes is fast although its typical pass is not); plain passes (K = 0) give the same kind of
// rate. The first 3 passes are plain and the first of them is not counted (the first pass after the
// prompt is often slow, and one sample of it made speculation look good); while speculating every 32nd
// pass is plain, so the baseline follows the machine's load. Once 8 passes with K > 0 cost more per
// token than plain passes, K is 0 for a back-off of 32 passes, doubling each time up to 512, before the
// model may choose K > 0 again (with fresh samples). A losing source thus costs a few passes per back-off.
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
    size_t size() const { return n_; }
    double value() const;  // 0 when empty

private:
    std::array<double, kSize> samples_{};
    size_t n_ = 0, next_ = 0;
};

// Milliseconds per token over the last kSize passes: sum of their ms / sum of their tokens. A pass counts
// at most 3x the window's median pass, so one preempted pass does not decide alone.
class RunningRate {
public:
    static constexpr size_t kSize = 15;
    void add(double ms, int tokens);
    size_t size() const { return n_; }
    double ms_per_token() const;  // 0 when empty

private:
    std::array<double, kSize> ms_{};
    std::array<int, kSize> tokens_{};
    size_t n_ = 0, next_ = 0;
};

// What one verification pass did and cost.
struct PassRecord {
    int k = 0;              // guesses asked of the source (0: a plain pass)
    int n_drafted = 0;      // guesses verified
    int n_accepted = 0;     // of those, kept
    bool rejected = false;  // verification stopped at a rejected guess (not: all kept, or generation ended)
    double draft_ms = 0;    // in the source's propose
    double verify_ms = 0;   // in the target's forward
    int n_rows = 0;         // rows of that forward
    double loop_ms = 0;     // the rest: choosing and emitting the pass's tokens, the rollback
    int n_emitted = 0;      // tokens the pass emitted
};

class DraftLengthController {
public:
    DraftLengthController(int k_max, bool adaptive);

    int next_k();
    // The cost of a guess against a one-row target pass, estimated before any guess is timed (the loop
    // measures the source's begin(), a draft model's prompt prefill, against the target's). From 0.5 on
    // it stands in for the draft cost until that is measured, so a draft model as costly as the target
    // is never tried, not even once: its first proposal would have to catch up on every token since
    // the prompt, which costs more than a short answer can win back.
    void set_draft_cost_ratio(double ratio) { draft_cost_ratio_ = ratio; }
    void record(const PassRecord& pass);

    double acceptance_estimate() const;
    // Passes still forced to K = 0 by the measured rates (for tests and logs).
    int backoff_left() const { return backoff_left_; }

private:
    int choose_k();

    int k_max_;
    bool adaptive_;
    double accepted_ = 1.0, trials_ = 2.0;  // decayed counts behind alpha
    RunningMedian t1_;  // ms of a one-row pass
    RunningMedian c_;   // ms per extra row
    RunningMedian d_;   // ms per guess drafted
    double draft_cost_ratio_ = 0;
    RunningRate realized_;    // whole cost per emitted token of passes with K > 0
    RunningRate plain_;       // the same for passes with K = 0 (one token each)
    bool seen_plain_ = false; // the first plain pass (slow after the prompt) is not in plain_
    int passes_since_plain_ = 0;
    int backoff_left_ = 0;    // passes still forced to K = 0
    int backoff_len_ = 32;    // the next back-off (kFirstBackoff, doubling)
    static constexpr int kNeverProbe = 1 << 30;
    int steps_without_k_ = 0;
    int probe_gap_ = 16;    // passes at K = 0 between probes
    bool probing_ = false;  // the last K was a probe
};

}  // namespace peregrine
