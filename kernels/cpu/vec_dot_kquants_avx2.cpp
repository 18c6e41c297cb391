// AVX2 dot products of Q4_K, Q5_K and Q6_K weights with Q8_K activations. Compiled with AVX2+FMA+F16C:
// only vec_dot.cpp's dispatcher calls these (rules in simd_kernels.h).
//
// As in vec_dot_kquants_avx512.cpp: unsigned weight values (Q6_K's are stored +32) times signed
// activations with vpmaddubsw (pair sums at most 2 * 63 * 128, no saturation), times the sub-block scales
// with vpmaddwd, summed exactly in int32; mins and Q6_K's offset come from the activations' bsums. The
// float step per super-block is the scalar kernel's, so results are bit-identical with
// vec_dot_kquants.cpp.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx2 {
namespace {

__m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

float half_to_float(const fp16_t& h) {
    uint16_t bits;
    std::memcpy(&bits, &h, sizeof(bits));
    return _cvtsh_ss(bits);
}

int32_t hsum(__m256i v) {
    const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i s2 = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, _MM_SHUFFLE(2, 3, 0, 1))));
}

// The 6-bit scales (low 8 bytes) and mins (high 8 bytes) of the 8 sub-blocks, in the layout of
// unpack_scale_min_k4, computed on 32-bit words: building them byte by byte in memory and loading them as a
// vector stalls on store forwarding. Words a, b, c are bytes 0-3, 4-7, 8-11: sub-blocks 0-3 keep scale and
// min in the low 6 bits of a and b; 4-7 take 4 bits from c and their top 2 bits from bits 6-7 of a and b.
__m128i scales_mins_k4(const uint8_t* packed) {
    uint32_t a, b, c;
    std::memcpy(&a, packed, 4);
    std::memcpy(&b, packed + 4, 4);
    std::memcpy(&c, packed + 8, 4);
    const uint32_t scales_lo = a & 0x3f3f3f3fu;
    const uint32_t scales_hi = (c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4);
    const uint32_t mins_lo = b & 0x3f3f3f3fu;
    const uint32_t mins_hi = ((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4);
    return _mm_setr_epi32(static_cast<int>(scales_lo), static_cast<int>(scales_hi), static_cast<int>(mins_lo),
                          static_cast<int>(mins_hi));
}

// Q4_K / Q5_K: byte l of qs group g holds value 64g + l (low nibble, sub-block 2g) and 64g + 32 + l (high
// nibble, sub-block 2g + 1); for Q5_K bit 2g (2g + 1) of qh[l] is their fifth bit. Adds the super-block's
// sum of (d_w * d_x) * isum - (dmin_w * d_x) * isum_min to `sum`, as the scalar kernels do.
template <class Block>
float dot_k4(int64_t nb, const Block* x, const BlockQ8_K* y) {
    constexpr bool kFifthBit = std::is_same_v<Block, BlockQ5_K>;
    float sum = 0.f;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < nb; ++i) {
        const __m128i scales_mins = scales_mins_k4(x[i].scales);
        // int16 scale k in both 128-bit lanes; vpshufb with (2k, 2k + 1) pairs broadcasts it.
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
        const auto scale_of = [&](int k) { return _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<short>((2 * k) | ((2 * k + 1) << 8)))); };
        const uint8_t* qs = x[i].qs;
        const int8_t* q8 = y[i].qs;
        __m256i qh = _mm256_setzero_si256();
        if constexpr (kFifthBit) qh = load256(x[i].qh);
        __m256i acc = _mm256_setzero_si256();
        for (int g = 0; g < 4; ++g) {
            const __m256i q = load256(qs + 32 * g);
            __m256i lo = _mm256_and_si256(q, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            if constexpr (kFifthBit) {
                const __m256i one = _mm256_set1_epi8(1);
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g + 1), one), 4));
            }
            const __m256i p_lo = _mm256_maddubs_epi16(lo, load256(q8 + 64 * g));
            const __m256i p_hi = _mm256_maddubs_epi16(hi, load256(q8 + 64 * g + 32));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_lo, scale_of(2 * g)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_hi, scale_of(2 * g + 1)));
        }
        const int32_t isum = hsum(acc);
        const __m128i twice =
            _mm_shuffle_epi8(scales_mins, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
        const int32_t isum_min = hsum(_mm256_madd_epi16(load256(y[i].bsums), _mm256_cvtepu8_epi16(twice)));
        const float d = half_to_float(x[i].d) * y[i].d;
        const float dmin = half_to_float(x[i].dmin) * y[i].d;
        sum += d * static_cast<float>(isum) - dmin * static_cast<float>(isum_min);
    }
    return sum;
}

}  // namespace

float vec_dot_q4_k(int64_t n, const void* w, const void* x) {
    return dot_k4(n / kQK_K, static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(x));
}

float vec_dot_q5_k(int64_t n, const void* w, const void* x) {
    return dot_k4(n / kQK_K, static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(x));
}

// Q6_K, per 128-value half: ql byte l (l < 64) holds the low 4 bits of values l (low nibble) and l + 64
// (high nibble); qh byte l (l < 32) the top 2 bits of values l, l + 32, l + 64, l + 96. Values are stored
// +32: isum = sum(scale * q * y) - 32 * sum(scale * bsum); sum += (d_w * d_x) * isum as the scalar kernel.
float vec_dot_q6_k(int64_t n, const void* w, const void* x) {
    const auto* xb = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(x);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i top2 = _mm256_set1_epi8(0x30);
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const __m128i sc8 = load128(xb[i].scales);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i ql0 = load256(xb[i].ql + 64 * h);
            const __m256i ql1 = load256(xb[i].ql + 64 * h + 32);
            const __m256i qh = load256(xb[i].qh + 32 * h);
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), top2)),
                _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), top2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, top2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                _mm256_and_si256(_mm256_srli_epi16(qh, 2), top2)),
            };
            for (int k = 0; k < 4; ++k) {
                // Register k holds sub-blocks 8h + 2k (lanes 0-7 of the pair sums) and 8h + 2k + 1.
                const char first = static_cast<char>(8 * h + 2 * k);
                const __m128i pick = _mm_setr_epi8(first, first, first, first, first, first, first, first,  //
                                                   first + 1, first + 1, first + 1, first + 1, first + 1, first + 1,
                                                   first + 1, first + 1);
                const __m256i scales = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, pick));
                const __m256i pairs = _mm256_maddubs_epi16(q[k], load256(y[i].qs + 128 * h + 32 * k));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scales));
            }
        }
        const int32_t offset = hsum(_mm256_madd_epi16(load256(y[i].bsums), _mm256_cvtepi8_epi16(sc8)));
        const int32_t isum = hsum(acc) - 32 * offset;
        sum += (half_to_float(xb[i].d) * y[i].d) * static_cast<float>(isum);
    }
    return sum;
}

}  // namespace peregrine::kernels::cpu::avx2
