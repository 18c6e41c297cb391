// AVX2 dot products for the float types and the 32-value block types against Q8_0 activations. Compiled
// with AVX2+FMA+F16C: only vec_dot.cpp's dispatcher calls these (rules in simd_kernels.h).
//
// Block types, one 32-value block per 256-bit register. vpmaddubsw multiplies unsigned by signed bytes
// into saturating 16-bit pair sums, so:
//  * Q4_0 / Q5_0 use their stored unsigned values (+8 / +16) and subtract offset * (pair sums of the
//    activations), itself one vpmaddubsw shared by every weight row; no pair sum exceeds 2 * 31 * 128;
//  * Q8_0 moves the weight's sign onto the activation (|w| * sign(x, w)), at most 2 * 128 * 127. This
//    assumes activations in [-127, 127], which quantize_row always writes.
// vpmaddwd then gives 8 exact int32 lane sums per block; each is converted to float and multiplied by
// d_w * d_x into one 8-lane accumulator per weight/activation pair, reduced once at the end.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/simd_tile_driver.h"

namespace peregrine::kernels::cpu::avx2 {
namespace {

__m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

float half_to_float(const fp16_t& h) {
    uint16_t bits;
    std::memcpy(&bits, &h, sizeof(bits));
    return _cvtsh_ss(bits);
}

// (l0 + l4) + (l2 + l6) + ((l1 + l5) + (l3 + l7)): a fixed order, the same for every kernel shape.
float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// --- weight types ---------------------------------------------------------------------------------------

// Elements 0-15 (low nibbles) then 16-31 (high nibbles).
__m256i nibbles(const uint8_t* qs) {
    const __m128i q = load128(qs);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 0x10 in byte j where bit j of the 32-bit word is set.
__m256i bits_to_bytes(uint32_t bits) {
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                                               _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                                                2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i select = _mm256_set1_epi64x(0x8040201008040201);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

struct Q4_0 {
    using Block = BlockQ4_0;
    static constexpr char kOffset = 8;
    static __m256i values(const Block& b) { return nibbles(b.qs); }
};

struct Q5_0 {
    using Block = BlockQ5_0;
    static constexpr char kOffset = 16;
    static __m256i values(const Block& b) {
        uint32_t qh;
        std::memcpy(&qh, b.qh, sizeof(qh));
        return _mm256_or_si256(nibbles(b.qs), bits_to_bytes(qh));
    }
};

struct Q8_0 {
    using Block = BlockQ8_0;
    static constexpr char kOffset = 0;  // signed: handled by the sign transfer instead
    static __m256i values(const Block& b) { return load256(b.qs); }
};

struct Activation {
    __m256i q;
    __m256i offset_pairs;  // kOffset * (x[2i] + x[2i+1]) as int16 (unsigned weight types only)
    float d;
};

template <class W>
Activation activation(const BlockQ8_0& y) {
    Activation a;
    a.q = load256(y.qs);
    if constexpr (W::kOffset != 0) {
        a.offset_pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(W::kOffset), a.q);
    } else {
        a.offset_pairs = _mm256_setzero_si256();
    }
    a.d = half_to_float(y.d);
    return a;
}

// The 8 int32 lane sums of w * x over one block.
template <class W>
__m256i block_isum(__m256i w, const Activation& a) {
    __m256i pairs;
    if constexpr (W::kOffset != 0) {
        pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(w, a.q), a.offset_pairs);
    } else {
        pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a.q, w));
    }
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// R weight rows x J activation rows over nb blocks; every pair sees the same operations whatever R and J.
template <class W, int R, int J>
void tile_q8_0_family(const simd::TileArgs& a) {
    using Block = typename W::Block;
    const int64_t nb = a.nb;
    __m256 acc[R][J];
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) acc[r][j] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; ++b) {
        Activation act[J];
        for (int j = 0; j < J; ++j) act[j] = activation<W>(reinterpret_cast<const BlockQ8_0*>(a.x + j * a.x_stride)[b]);
        for (int r = 0; r < R; ++r) {
            const Block& block = reinterpret_cast<const Block*>(a.w + r * a.w_stride)[b];
            const __m256i q = W::values(block);
            const float dw = half_to_float(block.d);
            for (int j = 0; j < J; ++j) {
                const __m256 d = _mm256_set1_ps(dw * act[j].d);
                acc[r][j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(block_isum<W>(q, act[j])), acc[r][j]);
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) a.out[j * a.out_stride + r * a.out_row_step] = hsum(acc[r][j]);
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

// --- float types: 4 x 8 lanes, the tail through a zero-padded copy ------------------------------------

template <class Load>
float float_dot(int64_t n, Load&& load) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; ++k) {
            __m256 a, b;
            load(i + 8 * k, a, b);
            acc[k] = _mm256_fmadd_ps(a, b, acc[k]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a, b;
        load(i, a, b);
        acc[0] = _mm256_fmadd_ps(a, b, acc[0]);
    }
    if (i < n) {
        __m256 a, b;
        load.tail(i, n - i, a, b);
        acc[1] = _mm256_fmadd_ps(a, b, acc[1]);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

// Loads 8 elements of each row as floats, or the last `left` (< 8) with zeros after them.
template <typename T, class Convert>
struct RowPairLoader {
    const T* w;
    const T* x;
    Convert convert;
    void operator()(int64_t i, __m256& a, __m256& b) const {
        a = convert(w + i);
        b = convert(x + i);
    }
    void tail(int64_t i, int64_t left, __m256& a, __m256& b) const {
        T wt[8] = {}, xt[8] = {};
        std::memcpy(wt, w + i, static_cast<size_t>(left) * sizeof(T));
        std::memcpy(xt, x + i, static_cast<size_t>(left) * sizeof(T));
        a = convert(wt);
        b = convert(xt);
    }
};

template <typename T, class Convert>
RowPairLoader<T, Convert> loader(const void* w, const void* x, Convert convert) {
    return {static_cast<const T*>(w), static_cast<const T*>(x), convert};
}

}  // namespace

float vec_dot_f32(int64_t n, const void* w, const void* x) {
    return float_dot(n, loader<float>(w, x, [](const float* p) { return _mm256_loadu_ps(p); }));
}

// fp16 and bf16 products are exact in fp32, so the fused multiply-add rounds only the sum.
float vec_dot_f16(int64_t n, const void* w, const void* x) {
    return float_dot(n, loader<fp16_t>(w, x, [](const fp16_t* p) { return _mm256_cvtph_ps(load128(p)); }));
}

float vec_dot_bf16(int64_t n, const void* w, const void* x) {
    return float_dot(n, loader<bf16_t>(w, x, [](const bf16_t* p) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
    }));
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

}  // namespace peregrine::kernels::cpu::avx2
