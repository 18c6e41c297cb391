// A persistent pool of worker threads for the CPU backend. Each op is one parallel region: run(fn)
// calls fn(ith, nth) on nth threads (the calling thread is ith 0) and returns when all have finished,
// so an op's results are complete before the next op starts (ggml's fork/join per node).
#pragma once

#include <atomic>
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

    int n_threads_;
    std::vector<std::thread> workers_;

    std::mutex mutex_;
    std::condition_variable wake_;      // workers wait here for a new generation
    std::condition_variable finished_;  // the caller waits here for pending_ == 0
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
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
