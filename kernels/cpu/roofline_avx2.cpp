// Peak-rate probes of roofline.h on the AVX2 path. Rules for this file are in simd_kernels.h.
#include <immintrin.h>

#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx2 {
namespace {

constexpr int kAccumulators = 8;
constexpr int kIterations = 1 << 14;

}  // namespace

// vpmaddubsw (u8 x s8 pairs to s16) then vpmaddwd (s16 pairs to s32): the AVX2 kernels' int8 dot product,
// 32 multiply-accumulates per pair of instructions.
int64_t int8_peak_burst(int64_t* checksum) {
    __m256i acc[kAccumulators];
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm256_set1_epi32(k);
    __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5), ones = _mm256_set1_epi16(1);
    __asm__("" : "+x"(a), "+x"(b), "+x"(ones));  // opaque operands: the compiler cannot fold the chain
    for (int i = 0; i < kIterations; ++i) {
        for (int k = 0; k < kAccumulators; ++k) {
            __asm__("" : "+x"(a));  // a "changes": the products cannot be hoisted out of the loop
            acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
        }
    }
    __m256i sum = acc[0];
    for (int k = 1; k < kAccumulators; ++k) sum = _mm256_add_epi32(sum, acc[k]);
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
    for (int32_t v : lanes) *checksum += v;
    return int64_t{kIterations} * kAccumulators * 32;
}

int64_t f32_peak_burst(int64_t* checksum) {
    __m256 acc[kAccumulators];
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm256_set1_ps(static_cast<float>(k));
    __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
    __asm__("" : "+x"(a), "+x"(b));
    for (int i = 0; i < kIterations; ++i) {
        for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    }
    __m256 sum = acc[0];
    for (int k = 1; k < kAccumulators; ++k) sum = _mm256_add_ps(sum, acc[k]);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sum);
    for (float v : lanes) *checksum += static_cast<int64_t>(v);
    return int64_t{kIterations} * kAccumulators * 8;
}

uint64_t stream_read(const uint8_t* data, size_t bytes) {
    // Four sequential streams read in lockstep (see the AVX-512 version).
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    const size_t quarter = bytes / 4 / 64 * 64;
    for (size_t i = 0; i < quarter; i += 32) {
        for (int k = 0; k < 4; ++k) {
            acc[k] = _mm256_add_epi64(acc[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + k * quarter + i)));
        }
    }
    for (size_t i = 4 * quarter; i + 32 <= bytes; i += 32) {
        acc[0] = _mm256_add_epi64(acc[0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i)));
    }
    const __m256i s = _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]), _mm256_add_epi64(acc[2], acc[3]));
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

}  // namespace peregrine::kernels::cpu::avx2
