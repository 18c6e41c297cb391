// AVX-512 dot products for the float types and the 32-value block types against Q8_0 activations.
// Compiled with AVX-512 F/BW/VL/DQ/VNNI/BF16 flags: only the dispatcher in vec_dot.cpp calls these, after
// cpu_supports(CpuPath::Avx512). Rules for this file are in simd_kernels.h.
//
// Block types: two 32-value blocks fill one 512-bit register. The weights are made unsigned (Q4_0 and
// Q5_0 values are stored +8 / +16; Q8_0 gets +128 by flipping the sign bit) so vpdpbusd can multiply them
// with the signed activations; the offset times the sum of the activations is subtracted exactly by
// starting the int32 accumulation at -(offset * sum), itself one vpdpbusd of the activations with a
// vector of offsets. That part depends on the activation only and is shared by every weight row of a
// tile. Each block's 8 int32 lane sums are converted to float and multiplied by d_w * d_x into 16 float
// lanes (one accumulator per weight/activation pair), reduced once at the end.
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
#include "kernels/cpu/simd_tile_driver.h"

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

// R weight rows x J activation rows over nb blocks. Every (row, activation) pair goes through the same
// operations whatever R and J are, so results do not depend on the tiling.
template <class W, int R, int J>
void tile_q8_0_family(const simd::TileArgs& a) {
    using Block = typename W::Block;
    const int64_t nb = a.nb;
    __m512 acc[R][J];
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
    }
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        ActivationPair act[J];
        for (int j = 0; j < J; ++j) act[j] = activation_pair<W>(reinterpret_cast<const BlockQ8_0*>(a.x + j * a.x_stride) + b);
        for (int r = 0; r < R; ++r) {
            const Block* blocks = reinterpret_cast<const Block*>(a.w + r * a.w_stride) + b;
            const __m512i q = W::pair(blocks);
            const __m512 dw = scales_pair(load_u16(&blocks[0].d), load_u16(&blocks[1].d));
            for (int j = 0; j < J; ++j) acc[r][j] = accumulate(acc[r][j], q, dw, act[j]);
        }
    }
    if (b < nb) {  // odd block count: the last block alone, upper lanes zero
        ActivationPair act[J];
        for (int j = 0; j < J; ++j) act[j] = activation_one<W>(reinterpret_cast<const BlockQ8_0*>(a.x + j * a.x_stride) + b);
        for (int r = 0; r < R; ++r) {
            const Block* block = reinterpret_cast<const Block*>(a.w + r * a.w_stride) + b;
            const __m512i q = W::one(block);
            const __m512 dw = scales_pair(load_u16(&block->d), 0);
            for (int j = 0; j < J; ++j) acc[r][j] = accumulate(acc[r][j], q, dw, act[j]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) a.out[j * a.out_stride + r * a.out_row_step] = _mm512_reduce_add_ps(acc[r][j]);
    }
}

template <class W>
struct Q8Family {
    static constexpr int kRowsPerTile = 4;
    template <int R, int J>
    static void tile(const simd::TileArgs& a) {
        tile_q8_0_family<W, R, J>(a);
    }
};

template <class W>
float single_dot(int64_t n, const void* w, const void* x) {
    float out = 0.f;
    tile_q8_0_family<W, 1, 1>({n / 32, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(x), 0, &out, 0, 0});
    return out;
}

// --- float types: 4 x 16 lanes, a masked load for the tail ------------------------------------------

__mmask16 tail_mask16(int64_t left) { return static_cast<__mmask16>((1u << left) - 1u); }

__m512 sum4(const __m512* acc) {
    return _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
}

}  // namespace

float vec_dot_f32(int64_t n, const void* wv, const void* xv) {
    const auto* w = static_cast<const float*>(wv);
    const auto* x = static_cast<const float*>(xv);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 4; ++k) {
            acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16 * k), _mm512_loadu_ps(x + i + 16 * k), acc[k]);
        }
    }
    for (; i + 16 <= n; i += 16) acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), acc[0]);
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        acc[1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), acc[1]);
    }
    return _mm512_reduce_add_ps(sum4(acc));
}

// fp16 products are exact in fp32, so the fused multiply-add rounds only the sum, as the scalar code does.
float vec_dot_f16(int64_t n, const void* wv, const void* xv) {
    const auto* w = static_cast<const fp16_t*>(wv);
    const auto* x = static_cast<const fp16_t*>(xv);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 4; ++k) {
            const __m512 a = _mm512_cvtph_ps(load256(w + i + 16 * k));
            const __m512 b = _mm512_cvtph_ps(load256(x + i + 16 * k));
            acc[k] = _mm512_fmadd_ps(a, b, acc[k]);
        }
    }
    for (; i + 16 <= n; i += 16) {
        acc[0] = _mm512_fmadd_ps(_mm512_cvtph_ps(load256(w + i)), _mm512_cvtph_ps(load256(x + i)), acc[0]);
    }
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        const __m512 a = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + i));
        const __m512 b = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        acc[1] = _mm512_fmadd_ps(a, b, acc[1]);
    }
    return _mm512_reduce_add_ps(sum4(acc));
}

// vdpbf16ps: each float lane adds the products of two bf16 pairs. It treats bf16 subnormals (below
// 1.2e-38) as zero, which no real activation or weight is.
float vec_dot_bf16(int64_t n, const void* wv, const void* xv) {
    const auto* w = static_cast<const bf16_t*>(wv);
    const auto* x = static_cast<const bf16_t*>(xv);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 128 <= n; i += 128) {
        for (int k = 0; k < 4; ++k) {
            const __m512i a = _mm512_loadu_si512(w + i + 32 * k);
            const __m512i b = _mm512_loadu_si512(x + i + 32 * k);
            acc[k] = _mm512_dpbf16_ps(acc[k], (__m512bh)a, (__m512bh)b);
        }
    }
    for (; i < n; i += 32) {
        const int64_t left = n - i;
        const __mmask32 m = left >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << left) - 1u);
        const __m512i a = _mm512_maskz_loadu_epi16(m, w + i);
        const __m512i b = _mm512_maskz_loadu_epi16(m, x + i);
        acc[0] = _mm512_dpbf16_ps(acc[0], (__m512bh)a, (__m512bh)b);
    }
    return _mm512_reduce_add_ps(sum4(acc));
}

float vec_dot_q4_0(int64_t n, const void* w, const void* x) { return single_dot<Q4_0>(n, w, x); }
float vec_dot_q5_0(int64_t n, const void* w, const void* x) { return single_dot<Q5_0>(n, w, x); }
float vec_dot_q8_0(int64_t n, const void* w, const void* x) { return single_dot<Q8_0>(n, w, x); }

void vec_dot_tile_q4_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    simd::drive_tiles<Q8Family<Q4_0>>(n / 32, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

void vec_dot_tile_q5_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    simd::drive_tiles<Q8Family<Q5_0>>(n / 32, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

void vec_dot_tile_q8_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    simd::drive_tiles<Q8Family<Q8_0>>(n / 32, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

}  // namespace peregrine::kernels::cpu::avx512
