#include "peregrine/roofline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "kernels/cpu/roofline.h"

namespace peregrine {
namespace {

namespace kc = kernels::cpu;

constexpr double kProbeSeconds = 0.25;
constexpr int kReadPasses = 6;

// Runs fn(ith) on n threads started together; returns the per-thread results.
template <typename Fn>
std::vector<double> run_together(int n, Fn&& fn) {
    n = std::max(1, n);
    std::vector<double> results(static_cast<size_t>(n));
    std::atomic<int> ready{0};
    const auto body = [&](int ith) {
        ready.fetch_add(1);
        while (ready.load() < n) std::this_thread::yield();
        results[static_cast<size_t>(ith)] = fn(ith);
    };
    std::vector<std::thread> threads;
    for (int ith = 1; ith < n; ++ith) threads.emplace_back(body, ith);
    body(0);
    for (auto& t : threads) t.join();
    return results;
}

double sum(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s;
}

}  // namespace

double measure_read_bandwidth(int n_threads, size_t buffer_bytes) {
    n_threads = std::max(1, n_threads);
    const size_t slice = buffer_bytes / static_cast<size_t>(n_threads) / 4096 * 4096;
    auto buffer = std::make_unique_for_overwrite<uint8_t[]>(slice * static_cast<size_t>(n_threads));
    // Each thread first writes its own slice, so its pages are mapped (and near it on NUMA machines).
    run_together(n_threads, [&](int ith) {
        std::memset(buffer.get() + slice * static_cast<size_t>(ith), ith + 1, slice);
        return 0.0;
    });
    double best = 0;
    for (int pass = 0; pass < kReadPasses; ++pass) {
        const auto start = std::chrono::steady_clock::now();
        std::atomic<uint64_t> sink{0};
        const auto seconds = run_together(n_threads, [&](int ith) {
            sink += kc::stream_read(buffer.get() + slice * static_cast<size_t>(ith), slice);
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        });
        const double slowest = *std::max_element(seconds.begin(), seconds.end());
        best = std::max(best, static_cast<double>(slice) * n_threads / slowest);
    }
    return best;
}

double measure_int8_peak(int n_threads) {
    return 2.0 * sum(run_together(n_threads, [](int) { return kc::peak_int8_macs_per_second(kProbeSeconds); }));
}

double measure_f32_peak(int n_threads) {
    return 2.0 * sum(run_together(n_threads, [](int) { return kc::peak_f32_fmas_per_second(kProbeSeconds); }));
}

}  // namespace peregrine
