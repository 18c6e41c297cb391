// AVX2 activation quantizers for Q8_0 and Q8_K, byte-identical with quantize.cpp's scalar ones. Compiled
// with AVX2+FMA+F16C: only quantize.cpp's dispatcher calls these (rules in simd_kernels.h). The reasons
// the bytes match are those of quantize_avx512.cpp: NaN-skipping maximum (vmaxps keeps its second operand),
// the scalar's float operations, the 1.5 * 2^23 rounding trick and truncation to a byte.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx2 {
namespace {

__m256 abs_ps(__m256 v) { return _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7fffffff))); }

__m256i round_even(__m256 v) {
    const __m256 shifted = _mm256_add_ps(v, _mm256_set1_ps(12582912.f));
    const __m256i mantissa = _mm256_and_si256(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x007fffff));
    return _mm256_sub_epi32(mantissa, _mm256_set1_epi32(0x00400000));
}

// Maximum of 8 lanes that hold no NaN.
float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

uint16_t to_half(float f) {
    return static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0));
}

// The low byte of each int32 of four vectors (32 values), in order.
__m256i low_bytes(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i byte = _mm256_set1_epi32(0xff);
    const __m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, byte), _mm256_and_si256(b, byte));
    const __m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, byte), _mm256_and_si256(d, byte));
    // packs work per 128-bit lane: the bytes come out as a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7.
    const __m256i packed = _mm256_packus_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

int32_t hsum(__m256i v) {
    const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i s2 = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, _MM_SHUFFLE(2, 3, 0, 1))));
}

}  // namespace

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
        __m256 v[4];
        __m256 running = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            running = _mm256_max_ps(abs_ps(v[k]), running);
        }
        const float amax = hmax(running);
        const uint16_t d = to_half(amax / 127.f);
        std::memcpy(&y[i].d, &d, sizeof(d));
        const __m256 scale = _mm256_set1_ps(amax != 0.f ? 127.f / amax : 0.f);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) q[k] = round_even(_mm256_mul_ps(v[k], scale));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), low_bytes(q[0], q[1], q[2], q[3]));
    }
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        __m256 running = _mm256_setzero_ps();
        for (int k = 0; k < 32; ++k) running = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + 8 * k)), running);
        const float amax = hmax(running);
        if (amax == 0.f) {
            std::memset(&y[i], 0, sizeof(BlockQ8_K));
            continue;
        }
        // The signed value of largest magnitude: the first element whose |x| equals the maximum.
        float max_value = 0.f;
        for (int k = 0; k < 32; ++k) {
            const __m256 hit = _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + 8 * k)), _mm256_set1_ps(amax), _CMP_EQ_OQ);
            const int at = _mm256_movemask_ps(hit);
            if (at != 0) {
                max_value = x[8 * k + __builtin_ctz(static_cast<unsigned>(at))];
                break;
            }
        }
        const float iscale = -127.f / max_value;
        const __m256 scale = _mm256_set1_ps(iscale);
        const __m256i limit = _mm256_set1_epi32(127);
        for (int g = 0; g < 8; ++g) {  // 32 values per group
            __m256i q[4];
            for (int k = 0; k < 4; ++k) {
                q[k] = _mm256_min_epi32(round_even(_mm256_mul_ps(scale, _mm256_loadu_ps(x + 32 * g + 8 * k))), limit);
            }
            const __m256i bytes = low_bytes(q[0], q[1], q[2], q[3]);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + 32 * g), bytes);
            // bsums from the stored bytes, sign-extended back (the scalar sums the int8 values).
            for (int h = 0; h < 2; ++h) {
                const __m128i half = h == 0 ? _mm256_castsi256_si128(bytes) : _mm256_extracti128_si256(bytes, 1);
                const __m256i wide = _mm256_cvtepi8_epi16(half);
                y[i].bsums[2 * g + h] = static_cast<int16_t>(hsum(_mm256_madd_epi16(wide, _mm256_set1_epi16(1))));
            }
        }
        y[i].d = 1.f / iscale;
    }
}

}  // namespace peregrine::kernels::cpu::avx2
