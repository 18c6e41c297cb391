// AVX-512 activation quantizers for Q8_0 and Q8_K, byte-identical with quantize.cpp's scalar ones (which
// document the rules). Compiled with AVX-512 flags: only quantize.cpp's dispatcher calls these (rules in
// simd_kernels.h).
//
// What keeps the bytes identical:
//  * the block maximum skips NaN as the scalar `a > amax ? a : amax` does: vmaxps returns its second
//    operand when either is NaN, so the running maximum is always the second operand;
//  * scales are computed with the same scalar float operations, values with the same single multiply;
//  * rounding uses the same 1.5 * 2^23 trick as round_nearest_even, read back from the mantissa bits, and
//    values are truncated to a byte (vpmovdb) as the scalar static_cast<int8_t> does. Any input,
//    NaN and infinity included, gives the scalar's bytes.
//
// GCC 12's AVX-512 headers start unmasked operations from a deliberately uninitialised vector and then
// warn about it once inlined (a false positive, fixed in later GCC); the warnings point into the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstring>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx512 {
namespace {

__m512 abs_ps(__m512 v) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff))); }

// round_nearest_even on 16 lanes.
__m512i round_even(__m512 v) {
    const __m512 shifted = _mm512_add_ps(v, _mm512_set1_ps(12582912.f));
    const __m512i mantissa = _mm512_and_si512(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x007fffff));
    return _mm512_sub_epi32(mantissa, _mm512_set1_epi32(0x00400000));
}

uint16_t to_half(float f) {
    return static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0));
}

}  // namespace

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
        const __m512 v0 = _mm512_loadu_ps(x);
        const __m512 v1 = _mm512_loadu_ps(x + 16);
        const __m512 running = _mm512_max_ps(abs_ps(v0), _mm512_setzero_ps());
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs_ps(v1), running));
        const uint16_t d = to_half(amax / 127.f);
        std::memcpy(&y[i].d, &d, sizeof(d));
        const float id = amax != 0.f ? 127.f / amax : 0.f;
        const __m512 scale = _mm512_set1_ps(id);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm512_cvtepi32_epi8(round_even(_mm512_mul_ps(v0, scale))));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16), _mm512_cvtepi32_epi8(round_even(_mm512_mul_ps(v1, scale))));
    }
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        __m512 v[16];
        __m512 running = _mm512_setzero_ps();
        for (int k = 0; k < 16; ++k) {
            v[k] = _mm512_loadu_ps(x + 16 * k);
            running = _mm512_max_ps(abs_ps(v[k]), running);
        }
        const float amax = _mm512_reduce_max_ps(running);
        if (amax == 0.f) {
            std::memset(&y[i], 0, sizeof(BlockQ8_K));
            continue;
        }
        // The signed value of largest magnitude: the first element whose |x| equals the maximum.
        float max_value = 0.f;
        for (int k = 0; k < 16; ++k) {
            const __mmask16 at = _mm512_cmp_ps_mask(abs_ps(v[k]), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (at != 0) {
                max_value = x[16 * k + __builtin_ctz(at)];
                break;
            }
        }
        const float iscale = -127.f / max_value;
        const __m512 scale = _mm512_set1_ps(iscale);
        for (int k = 0; k < 16; ++k) {
            const __m512i q = _mm512_min_epi32(round_even(_mm512_mul_ps(scale, v[k])), _mm512_set1_epi32(127));
            const __m128i bytes = _mm512_cvtepi32_epi8(q);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16 * k), bytes);
            // The sum of the stored bytes (sign-extended back, as the scalar sums the int8 values).
            y[i].bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(bytes)));
        }
        y[i].d = 1.f / iscale;
    }
}

}  // namespace peregrine::kernels::cpu::avx512
