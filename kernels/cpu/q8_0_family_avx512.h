// The 32-value block types (Q4_0, Q5_0, Q8_0) against Q8_0 activations on AVX-512 VNNI: loading a
// block pair into one register and the per-pair arithmetic, shared by the tile kernels
// (vec_dot_avx512.cpp) and the GEMM (gemm_avx512.cpp), which must agree bit for bit. Only *_avx512.cpp
// files include this header; its anonymous namespace gives each its own copy (simd_kernels.h).
//
// Two 32-value blocks fill one 512-bit register. The weights are made unsigned (Q4_0 and Q5_0 values
// are stored +8 / +16; Q8_0 gets +128 by flipping the sign bit) so vpdpbusd can multiply them with the
// signed activations; the offset times the sum of the activations is subtracted exactly by starting the
// int32 accumulation at -(offset * sum), itself one vpdpbusd of the activations with a vector of
// offsets. Each block's 8 int32 lane sums are converted to float and multiplied by d_w * d_x into 16
// float lanes (one accumulator per weight/activation pair), reduced once at the end.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstring>

#include "kernels/cpu/quant_blocks.h"

namespace peregrine::kernels::cpu::avx512 {
namespace {

__m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

uint16_t load_u16(const fp16_t* p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// Two fp16 scales as 16 float lanes: the first in lanes 0-7, the second in lanes 8-15.
__m512 scales_pair(uint16_t first, uint16_t second) {
    const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(first | (static_cast<uint32_t>(second) << 16))));
    const __m512i index = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(index, _mm512_castps128_ps512(f));
}

// --- weight types: two blocks (or one, zero-extended) as 64 unsigned bytes in element order -----------

// Nibbles of one 16-byte qs run: elements 0-15 (low nibbles) then 16-31 (high nibbles).
__m256i nibbles_256(const uint8_t* qs) {
    const __m128i q = load128(qs);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

__m512i nibbles_pair(const uint8_t* qs0, const uint8_t* qs1) {
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(load128(qs0)), load128(qs1), 1);
    const __m512i wide = _mm512_castsi256_si512(both);
    // [qs0, qs0, qs1, qs1], then the second copy of each shifted down to its high nibbles.
    const __m512i spread = _mm512_shuffle_i64x2(wide, wide, _MM_SHUFFLE(1, 1, 0, 0));
    const __m512i shifted = _mm512_srlv_epi64(spread, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0F));
}

struct Q4_0 {
    using Block = BlockQ4_0;
    static constexpr char kOffset = 8;
    static __m512i pair(const Block* b) { return nibbles_pair(b[0].qs, b[1].qs); }
    static __m512i one(const Block* b) { return _mm512_zextsi256_si512(nibbles_256(b->qs)); }
};

struct Q5_0 {
    using Block = BlockQ5_0;
    static constexpr char kOffset = 16;
    // Bit j of qh is bit 4 of element j: as a byte mask it selects where to add 16.
    static uint32_t high_bits(const Block& b) {
        uint32_t qh;
        std::memcpy(&qh, b.qh, sizeof(qh));
        return qh;
    }
    static __m512i pair(const Block* b) {
        const __mmask64 high = high_bits(b[0]) | (static_cast<uint64_t>(high_bits(b[1])) << 32);
        const __m512i low = nibbles_pair(b[0].qs, b[1].qs);
        return _mm512_mask_add_epi8(low, high, low, _mm512_set1_epi8(16));
    }
    static __m512i one(const Block* b) {
        const __m512i low = _mm512_zextsi256_si512(nibbles_256(b->qs));
        return _mm512_mask_add_epi8(low, static_cast<__mmask64>(high_bits(*b)), low, _mm512_set1_epi8(16));
    }
};

struct Q8_0 {
    using Block = BlockQ8_0;
    static constexpr char kOffset = static_cast<char>(0x80);  // 128 as an unsigned byte
    static __m512i pair(const Block* b) {
        const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(load256(b[0].qs)), load256(b[1].qs), 1);
        return _mm512_xor_si512(q, _mm512_set1_epi8(static_cast<char>(0x80)));
    }
    static __m512i one(const Block* b) {
        return _mm512_zextsi256_si512(_mm256_xor_si256(load256(b->qs), _mm256_set1_epi8(static_cast<char>(0x80))));
    }
};

// --- one activation's share of a block pair ---------------------------------------------------------

struct ActivationPair {
    __m512i q;               // 64 signed values
    __m512i neg_offset_sum;  // -(offset * sum of each 4 values), where the int32 sums start
    __m512 d;                // activation scales, lanes as scales_pair
};

template <class W>
ActivationPair activation_pair(const BlockQ8_0* y) {
    ActivationPair a;
    a.q = _mm512_inserti64x4(_mm512_castsi256_si512(load256(y[0].qs)), load256(y[1].qs), 1);
    const __m512i offset_sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(W::kOffset), a.q);
    a.neg_offset_sum = _mm512_sub_epi32(_mm512_setzero_si512(), offset_sum);
    a.d = scales_pair(load_u16(&y[0].d), load_u16(&y[1].d));
    return a;
}

template <class W>
ActivationPair activation_one(const BlockQ8_0* y) {
    ActivationPair a;
    a.q = _mm512_zextsi256_si512(load256(y->qs));
    const __m512i offset_sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(W::kOffset), a.q);
    a.neg_offset_sum = _mm512_sub_epi32(_mm512_setzero_si512(), offset_sum);
    a.d = scales_pair(load_u16(&y->d), 0);
    return a;
}

// acc += (d_w * d_x) * (int32 lane sums of w * x)
__m512 accumulate(__m512 acc, __m512i w, __m512 dw, const ActivationPair& a) {
    const __m512i isum = _mm512_dpbusd_epi32(a.neg_offset_sum, w, a.q);
    return _mm512_fmadd_ps(_mm512_mul_ps(dw, a.d), _mm512_cvtepi32_ps(isum), acc);
}

}  // namespace
}  // namespace peregrine::kernels::cpu::avx512
