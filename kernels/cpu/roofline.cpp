#include "kernels/cpu/roofline.h"

#include <chrono>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu {
namespace {

// Runs `burst` (which returns the operations it did) until `seconds` have passed; returns ops per second.
template <typename Burst>
double rate(double seconds, Burst&& burst) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    double ops = 0;
    volatile int64_t sink = 0;
    for (;;) {
        int64_t checksum = 0;
        ops += static_cast<double>(burst(&checksum));
        sink = sink + checksum;
        const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
        if (elapsed >= seconds) return ops / elapsed;
    }
}

int64_t scalar_int8_burst(int64_t* checksum) {
    int32_t acc[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    constexpr int kIterations = 1 << 16;
    for (int i = 0; i < kIterations; ++i) {
        for (int k = 0; k < 8; ++k) acc[k] = acc[k] * 3 + static_cast<int8_t>(i + k);
    }
    for (int32_t a : acc) *checksum += a;
    return int64_t{kIterations} * 8;
}

int64_t scalar_f32_burst(int64_t* checksum) {
    float acc[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    constexpr int kIterations = 1 << 16;
    for (int i = 0; i < kIterations; ++i) {
        for (int k = 0; k < 8; ++k) acc[k] = acc[k] * 0.999f + 0.001f;
    }
    for (float a : acc) *checksum += static_cast<int64_t>(a);
    return int64_t{kIterations} * 8;
}

}  // namespace

double peak_int8_macs_per_second(double seconds) {
    switch (cpu_path()) {
        case CpuPath::Avx512: return rate(seconds, avx512::int8_peak_burst);
        case CpuPath::Avx2: return rate(seconds, avx2::int8_peak_burst);
        case CpuPath::Scalar: break;
    }
    return rate(seconds, scalar_int8_burst);
}

double peak_f32_fmas_per_second(double seconds) {
    switch (cpu_path()) {
        case CpuPath::Avx512: return rate(seconds, avx512::f32_peak_burst);
        case CpuPath::Avx2: return rate(seconds, avx2::f32_peak_burst);
        case CpuPath::Scalar: break;
    }
    return rate(seconds, scalar_f32_burst);
}

uint64_t stream_read(const uint8_t* data, size_t bytes) {
    switch (cpu_path()) {
        case CpuPath::Avx512: return avx512::stream_read(data, bytes);
        case CpuPath::Avx2: return avx2::stream_read(data, bytes);
        case CpuPath::Scalar: break;
    }
    uint64_t sum = 0;
    const auto* words = reinterpret_cast<const uint64_t*>(data);
    for (size_t i = 0; i < bytes / 8; ++i) sum += words[i];
    return sum;
}

}  // namespace peregrine::kernels::cpu
