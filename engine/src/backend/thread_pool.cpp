#include "backend/thread_pool.h"

#include <algorithm>

namespace peregrine::backend {
namespace {

// Polls before sleeping on a condition variable: ops of one forward pass follow each other within
// microseconds, and a futex wake-up per op would dominate small models. The poll yields the core every
// few iterations, so a thread waiting for one that the OS has descheduled (more threads than free cores)
// hands its core over instead of burning it.
constexpr int kSpinIterations = 2048;
constexpr int kYieldEvery = 64;

inline void cpu_relax(int iteration) {
    if (iteration % kYieldEvery == kYieldEvery - 1) {
        std::this_thread::yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    workers_.reserve(static_cast<size_t>(n_threads_ - 1));
    for (int ith = 1; ith < n_threads_; ++ith) workers_.emplace_back([this, ith] { worker_loop(ith); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stop_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
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
    {
        std::lock_guard lock(mutex_);
        call_ = call;
        fn_ = fn;
        nth_ = nth;
        error_ = nullptr;
        pending_.store(n_threads_ - 1, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    call_guarded(0, nth);

    for (int i = 0; i < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++i) cpu_relax(i);
    if (pending_.load(std::memory_order_acquire) != 0) {
        std::unique_lock lock(mutex_);
        finished_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    if (error_) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop(int ith) {
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
            cpu_relax(spins);
            ++spins;
        }
        if (generation_.load(std::memory_order_acquire) == seen) {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stop_.load(std::memory_order_relaxed)) return;
        // Threads beyond this job's nth still check in so the caller can count them.
        if (ith < nth_) call_guarded(ith, nth_);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard lock(mutex_);
            finished_.notify_one();
        }
    }
}

}  // namespace peregrine::backend
