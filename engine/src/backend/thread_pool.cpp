#include "backend/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace peregrine::backend {
namespace {

// How long a waiting thread pause-polls before it starts yielding, at most: longer than the gap between
// two ops of a forward pass and than the imbalance between two threads' shares of one op. Yielding
// earlier costs dearly on a busy machine: the core goes to another process for a whole time slice while
// the other threads of the op wait for the yielder (measured: 2 threads decoding at 1.05 cores' worth).
// But when the thread waited for is itself off its core (more runnable threads than cores), spinning is
// pure loss (tiny models: 25x slower with a fixed 100 us spin), so each thread adapts its own budget:
// halved after a wait the spin did not cover, doubled after one it did, between the two bounds.
constexpr auto kMaxSpin = std::chrono::microseconds(100);
constexpr auto kMinSpin = std::chrono::microseconds(2);
// How long an idle worker then keeps yield-polling before it sleeps: longer than the pause between two
// decode steps of a generation (sampling, detokenising), short enough that an idle app costs nothing.
constexpr auto kIdleYieldTime = std::chrono::milliseconds(5);
constexpr int kPollsPerClockRead = 64;

inline void cpu_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Polls `done` with pause instructions for up to `spin` (adapted as above), then with yields for up to
// `yield_for` (forever when negative). Returns done()'s last value.
template <typename Done>
bool poll(Done&& done, std::chrono::nanoseconds& spin, std::chrono::steady_clock::duration yield_for) {
    for (int i = 0; i < kPollsPerClockRead; ++i) {  // the common case: done within a microsecond or so
        if (done()) return true;
        cpu_pause();
    }
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0;; ++i) {
        if (done()) {
            spin = std::min<std::chrono::nanoseconds>(kMaxSpin, spin * 2);
            return true;
        }
        cpu_pause();
        if (i % kPollsPerClockRead == kPollsPerClockRead - 1 && std::chrono::steady_clock::now() - start > spin) break;
    }
    spin = std::max<std::chrono::nanoseconds>(kMinSpin, spin / 2);
    const auto deadline = std::chrono::steady_clock::now() + yield_for;
    for (int i = 0;; ++i) {
        if (done()) return true;
        std::this_thread::yield();
        // Reading the clock costs about as much as a yield; every 16th is often enough.
        if (yield_for.count() >= 0 && i % 16 == 15 && std::chrono::steady_clock::now() > deadline) return done();
    }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), spin_(static_cast<size_t>(n_threads_), SpinBudget{kMaxSpin}) {
    workers_.reserve(static_cast<size_t>(n_threads_ - 1));
    for (int ith = 1; ith < n_threads_; ++ith) workers_.emplace_back([this, ith] { worker_loop(ith); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    {
        std::lock_guard lock(mutex_);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::call_guarded(int ith, int nth) {
    try {
        call_(fn_, ith, nth);
    } catch (...) {
        std::lock_guard lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
    }
}

void ThreadPool::run_erased(Trampoline call, void* fn, int max_threads) {
    const int nth = std::clamp(max_threads, 1, n_threads_);
    if (nth == 1) {
        call(fn, 0, 1);
        return;
    }
    call_ = call;
    fn_ = fn;
    nth_ = nth;
    error_ = nullptr;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    // seq_cst on both sides pairs with wait_for_job: either the worker sees the new generation before it
    // sleeps, or this load sees it counted as a sleeper and wakes it.
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
        { std::lock_guard lock(mutex_); }  // a worker between its check and wait() holds the mutex
        wake_.notify_all();
    }
    call_guarded(0, nth);
    poll([this] { return pending_.load(std::memory_order_acquire) == 0; }, spin_[0].value, std::chrono::steady_clock::duration(-1));
    if (error_) std::rethrow_exception(error_);
}

void ThreadPool::wait_for_job(int ith, uint64_t seen) {
    const auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (poll(changed, spin_[static_cast<size_t>(ith)].value, kIdleYieldTime)) return;
    std::unique_lock lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    wake_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

void ThreadPool::worker_loop(int ith) {
    uint64_t seen = 0;
    for (;;) {
        wait_for_job(ith, seen);
        seen = generation_.load(std::memory_order_acquire);
        if (stop_.load(std::memory_order_relaxed)) return;
        // Threads beyond this job's nth still check in so the caller can count them.
        if (ith < nth_) call_guarded(ith, nth_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

}  // namespace peregrine::backend
