// A persistent pool of worker threads for the CPU backend. Each op is one parallel region: run(fn)
// calls fn(ith, nth) on nth threads (the calling thread is ith 0) and returns when all have finished,
// so an op's results are complete before the next op starts (ggml's fork/join per node).
//
// Waiting, between the ops of a forward pass and between forward passes:
//  * a worker polls for the next op with pause instructions for up to 100 us (ops follow each other
//    within microseconds while a model runs, so the wake-up never goes through the kernel then, and the
//    core is not handed to another process mid-pass; the budget shrinks when waits outlast it, which is
//    when the machine has more runnable threads than cores), then keeps polling with sched_yield for a
//    few milliseconds (so a thread the OS descheduled does not stall everyone spinning on it, and an idle
//    app stops costing CPU), and only then sleeps on a condition variable.
//  * the caller waits for the workers the same way, but never sleeps: the op is already running.
// Starting an op is one atomic increment plus, only when some worker is asleep, a notify.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace peregrine::backend {

class ThreadPool {
public:
    explicit ThreadPool(int n_threads);   // n_threads >= 1; starts n_threads - 1 workers
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Runs fn(ith, nth) for ith in [0, nth) with nth = min(size(), max_threads), one call per thread.
    // The first exception thrown by any call is rethrown here after every thread has finished.
    template <typename Fn>
    void run(Fn&& fn, int max_threads = 1 << 30) {
        using F = std::remove_reference_t<Fn>;
        run_erased([](void* f, int ith, int nth) { (*static_cast<F*>(f))(ith, nth); },
                   const_cast<void*>(static_cast<const void*>(&fn)), max_threads);
    }

private:
    using Trampoline = void (*)(void*, int, int);
    void run_erased(Trampoline call, void* fn, int max_threads);
    void worker_loop(int ith);
    void call_guarded(int ith, int nth);
    // Returns when generation_ differs from `seen` (polls, yields, then sleeps).
    void wait_for_job(int ith, uint64_t seen);

    int n_threads_;
    struct alignas(64) SpinBudget {  // one cache line each: every thread updates its own after a wait
        std::chrono::nanoseconds value;
    };
    std::vector<SpinBudget> spin_;  // per thread (0: the caller): its current pause budget
    std::vector<std::thread> workers_;

    std::mutex mutex_;                  // only for sleeping workers
    std::condition_variable wake_;
    std::atomic<int> sleepers_{0};      // workers inside wake_.wait (or about to be)
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};       // workers that have not finished the current op
    std::atomic<bool> stop_{false};

    // The current job; written by the caller before generation_ is bumped.
    Trampoline call_ = nullptr;
    void* fn_ = nullptr;
    int nth_ = 1;
    std::exception_ptr error_;
    std::mutex error_mutex_;
};

// The [begin, end) share of n items for thread ith of nth (contiguous, sizes differ by at most one).
inline std::pair<int64_t, int64_t> split_range(int64_t n, int ith, int nth) {
    const int64_t base = n / nth;
    const int64_t extra = n % nth;
    const int64_t begin = ith * base + std::min<int64_t>(ith, extra);
    return {begin, begin + base + (ith < extra ? 1 : 0)};
}

}  // namespace peregrine::backend
