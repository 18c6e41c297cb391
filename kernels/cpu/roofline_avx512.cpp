// Peak-rate probes of roofline.h on the AVX-512 path. Rules for this file are in simd_kernels.h.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx512 {
namespace {

constexpr int kAccumulators = 12;  // more than latency x throughput of the FMA / VNNI units
constexpr int kIterations = 1 << 14;

}  // namespace

int64_t int8_peak_burst(int64_t* checksum) {
    __m512i acc[kAccumulators];
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_set1_epi32(k);
    __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
    __asm__("" : "+v"(a), "+v"(b));  // opaque operands: the compiler cannot fold the chain
    for (int i = 0; i < kIterations; ++i) {
        for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
    }
    __m512i sum = acc[0];
    for (int k = 1; k < kAccumulators; ++k) sum = _mm512_add_epi32(sum, acc[k]);
    *checksum += _mm512_reduce_add_epi32(sum);
    return int64_t{kIterations} * kAccumulators * 64;
}

int64_t f32_peak_burst(int64_t* checksum) {
    __m512 acc[kAccumulators];
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
    __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
    __asm__("" : "+v"(a), "+v"(b));
    for (int i = 0; i < kIterations; ++i) {
        for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    }
    __m512 sum = acc[0];
    for (int k = 1; k < kAccumulators; ++k) sum = _mm512_add_ps(sum, acc[k]);
    *checksum += static_cast<int64_t>(_mm512_reduce_add_ps(sum));
    return int64_t{kIterations} * kAccumulators * 16;
}

uint64_t stream_read(const uint8_t* data, size_t bytes) {
    // Four sequential streams (the quarters of the buffer) read in lockstep, as the matmul tiles read
    // four weight rows: one stream per core leaves DRAM bandwidth unused on the EPYC we tune for.
    __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    const size_t quarter = bytes / 4 / 64 * 64;
    for (size_t i = 0; i < quarter; i += 64) {
        for (int k = 0; k < 4; ++k) acc[k] = _mm512_add_epi64(acc[k], _mm512_loadu_si512(data + k * quarter + i));
    }
    for (size_t i = 4 * quarter; i + 64 <= bytes; i += 64) acc[0] = _mm512_add_epi64(acc[0], _mm512_loadu_si512(data + i));
    const __m512i sum = _mm512_add_epi64(_mm512_add_epi64(acc[0], acc[1]), _mm512_add_epi64(acc[2], acc[3]));
    return static_cast<uint64_t>(_mm512_reduce_add_epi64(sum));
}

}  // namespace peregrine::kernels::cpu::avx512
