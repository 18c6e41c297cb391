// AVX-512 dot products of Q4_K, Q5_K and Q6_K weights with Q8_K activations. Compiled with AVX-512 flags:
// only vec_dot.cpp's dispatcher calls these (rules in simd_kernels.h).
//
// Each 256-value super-block is four 64-byte registers of unsigned weight values (Q6_K's stored +32 values,
// Q4_K/Q5_K's plain ones) against four registers of activations arranged to match. vpmaddubsw multiplies
// them into 16-bit pair sums (at most 2 * 63 * 128, no saturation) and vpdpwssd multiplies those by the
// 16-bit sub-block scales into int32 lanes, so the super-block's integer sum is exact, as in the scalar
// kernel. The offsets (Q4_K/Q5_K mins, Q6_K's +32) come from the activations' 16-value sums (bsums).
// The float step per super-block is the scalar kernel's, operation for operation, so results are
// bit-identical with vec_dot_kquants.cpp.
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
__m512i load512(const void* p) { return _mm512_loadu_si512(p); }

float half_to_float(const fp16_t& h) {
    uint16_t bits;
    std::memcpy(&bits, &h, sizeof(bits));
    return _cvtsh_ss(bits);
}

// vpermw indices that spread 16-bit sub-block scales over the 32 lanes of a maddubs result. Q4_K/Q5_K
// register k covers sub-blocks (first, first + 2), 16 lanes each, first = 0, 1, 4, 5; Q6_K register k
// covers sub-blocks 4k .. 4k + 3, 8 lanes each.
struct ScaleIndex {
    alignas(64) int16_t lanes[4][32];
};
constexpr ScaleIndex make_index(bool q6) {
    ScaleIndex index{};
    constexpr int kFirsts[4] = {0, 1, 4, 5};
    for (int k = 0; k < 4; ++k) {
        for (int i = 0; i < 32; ++i) {
            index.lanes[k][i] = static_cast<int16_t>(q6 ? 4 * k + i / 8 : kFirsts[k] + 2 * (i / 16));
        }
    }
    return index;
}
constexpr ScaleIndex kIndexK4 = make_index(false);
constexpr ScaleIndex kIndexQ6 = make_index(true);

PEREGRINE_SIMD_INLINE __m512i spread_scales(const ScaleIndex& index, int k, __m512i scales) {
    return _mm512_permutexvar_epi16(_mm512_load_si512(index.lanes[k]), scales);
}

// One activation super-block, its values arranged for the weight type.
struct Act {
    __m512i y[4];
    __m256i bsums;  // 16 int16
    float d;
};

// One weight super-block: unsigned values, matching 16-bit scale vectors, and the offset correction.
struct Row {
    __m512i q[4];
    __m512i scales[4];
    __m256i offsets;  // 16 int16 multipliers of bsums (Q4_K/Q5_K: each min twice; Q6_K: the scales)
    float d;
    float dmin;
};

// Per-lane int32 sums over the super-block of scale(sub-block) * (unsigned weight value) * activation.
PEREGRINE_SIMD_INLINE __m512i scaled_acc(const Row& w, const Act& a) {
    __m512i acc = _mm512_setzero_si512();
    for (int k = 0; k < 4; ++k) acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(w.q[k], a.y[k]), w.scales[k]);
    return acc;
}

// The lane sums of four vectors at once: [sum a, sum b, sum c, sum d]. Integer sums are exact in any order.
PEREGRINE_SIMD_INLINE __m128i reduce4(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

PEREGRINE_SIMD_INLINE __m256i fold_512(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

// --- Q4_K / Q5_K -----------------------------------------------------------------------------------
// Byte l of the 32-byte qs group g holds value 64g + l (low nibble, sub-block 2g) and 64g + 32 + l (high
// nibble, sub-block 2g + 1). A 64-byte load covers two groups, so its low nibbles are sub-blocks (2g, 2g+2)
// and its high nibbles (2g+1, 2g+3); the activations are regrouped the same way.

PEREGRINE_SIMD_INLINE Act act_k4(const BlockQ8_K& y) {
    Act a;
    for (int h = 0; h < 2; ++h) {
        const __m512i first = load512(y.qs + 128 * h);       // values 128h + 0..63
        const __m512i second = load512(y.qs + 128 * h + 64); // values 128h + 64..127
        a.y[2 * h] = _mm512_shuffle_i64x2(first, second, _MM_SHUFFLE(1, 0, 1, 0));      // 0..31, 64..95
        a.y[2 * h + 1] = _mm512_shuffle_i64x2(first, second, _MM_SHUFFLE(3, 2, 3, 2));  // 32..63, 96..127
    }
    a.bsums = load256(y.bsums);
    a.d = y.d;
    return a;
}

// The 6-bit scales (low 8 bytes) and mins (high 8 bytes) of the 8 sub-blocks, in the layout of
// unpack_scale_min_k4, computed on 32-bit words: building them byte by byte in memory and loading them as a
// vector stalls on store forwarding. Words a, b, c are bytes 0-3, 4-7, 8-11: sub-blocks 0-3 keep scale and
// min in the low 6 bits of a and b; 4-7 take 4 bits from c and their top 2 bits from bits 6-7 of a and b.
PEREGRINE_SIMD_INLINE __m128i scales_mins_k4(const uint8_t* packed) {
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

template <class Block>
PEREGRINE_SIMD_INLINE Row row_k4(const Block& x) {
    Row r;
    const __m128i scales_mins = scales_mins_k4(x.scales);
    const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(scales_mins));  // the 8 scales
    for (int k = 0; k < 4; ++k) r.scales[k] = spread_scales(kIndexK4, k, sc16);
    const __m128i twice =
        _mm_shuffle_epi8(scales_mins, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    r.offsets = _mm256_cvtepu8_epi16(twice);
    for (int h = 0; h < 2; ++h) {
        const __m512i q = load512(x.qs + 64 * h);
        r.q[2 * h] = _mm512_and_si512(q, _mm512_set1_epi8(0x0F));
        r.q[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), _mm512_set1_epi8(0x0F));
    }
    r.d = half_to_float(x.d);
    r.dmin = half_to_float(x.dmin);
    return r;
}

PEREGRINE_SIMD_INLINE Row row_q4_k(const BlockQ4_K& x) { return row_k4(x); }

// Q5_K: bit 2g (2g+1) of qh[l] is the fifth bit of value 64g + l (64g + 32 + l): sub-block s takes bit s.
// Register k holds sub-blocks (first, first + 2) with first = 0, 1, 4, 5, so its low half needs bit `first`
// of each qh byte and its high half bit `first + 2`: a per-half shift of [qh, qh] brings them to bit 0.
PEREGRINE_SIMD_INLINE Row row_q5_k(const BlockQ5_K& x) {
    Row r = row_k4(x);
    const __m512i qh = _mm512_broadcast_i64x4(load256(x.qh));
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i shifts[4] = {_mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0), _mm512_set_epi64(3, 3, 3, 3, 1, 1, 1, 1),
                               _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4), _mm512_set_epi64(7, 7, 7, 7, 5, 5, 5, 5)};
    for (int k = 0; k < 4; ++k) {
        const __m512i bit = _mm512_and_si512(_mm512_srlv_epi64(qh, shifts[k]), one);
        r.q[k] = _mm512_or_si512(r.q[k], _mm512_slli_epi16(bit, 4));
    }
    return r;
}

// The mins' share: isum_min = sum_j min_j * (bsums of sub-block j), 8 int32 lanes.
PEREGRINE_SIMD_INLINE __m256i min_acc_k4(const Row& w, const Act& a) { return _mm256_madd_epi16(a.bsums, w.offsets); }

// --- Q6_K ---------------------------------------------------------------------------------------------
// In each 128-value half: ql byte l (l < 64) holds the low 4 bits of value l (low nibble) and l + 64 (high
// nibble); qh byte l (l < 32) holds the top 2 bits of values l, l + 32, l + 64, l + 96 (bits 0-1 .. 6-7).
// So a 64-byte ql load gives values 0..63 (low nibbles) and 64..127 (high nibbles), in activation order.

PEREGRINE_SIMD_INLINE Act act_q6_k(const BlockQ8_K& y) {
    Act a;
    for (int k = 0; k < 4; ++k) a.y[k] = load512(y.qs + 64 * k);
    a.bsums = load256(y.bsums);
    a.d = y.d;
    return a;
}

PEREGRINE_SIMD_INLINE Row row_q6_k(const BlockQ6_K& x) {
    Row r;
    const __m256i sc = _mm256_cvtepi8_epi16(load128(x.scales));
    const __m512i sc512 = _mm512_castsi256_si512(sc);
    for (int k = 0; k < 4; ++k) r.scales[k] = spread_scales(kIndexQ6, k, sc512);
    r.offsets = sc;
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i top2 = _mm512_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
        const __m512i ql = load512(x.ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(load256(x.qh + 32 * h));
        // Bring each value's 2 high bits to bits 4-5 of its byte: values 0..31 (qh bits 0-1) shift left 4,
        // 32..63 (bits 2-3) left 2, 64..95 (bits 4-5) stay, 96..127 (bits 6-7) shift right 2.
        const __m512i high01 = _mm512_and_si512(_mm512_sllv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4)), top2);
        const __m512i high23 = _mm512_and_si512(_mm512_srlv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0)), top2);
        r.q[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, low4), high01);
        r.q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4), high23);
    }
    r.d = half_to_float(x.d);
    r.dmin = 0.f;
    return r;
}

// The stored values are +32: isum = sum(scale * q * y) - 32 * sum(scale * bsum).
PEREGRINE_SIMD_INLINE __m512i acc_q6_k(const Row& w, const Act& a) {
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(a.bsums, w.offsets), 5);
    return _mm512_sub_epi32(scaled_acc(w, a), _mm512_zextsi256_si512(offset));
}

// --- tiles --------------------------------------------------------------------------------------------

// Per type: how to arrange activations and weights, the int32 lane sums of one super-block pair, and
// whether there is a mins term (Q4_K, Q5_K: sum += d * isum - dmin * isum_min; Q6_K: sum += d * isum).
struct KQ4 {
    using Block = BlockQ4_K;
    static constexpr bool kMins = true;
    static PEREGRINE_SIMD_INLINE Act act(const BlockQ8_K& y) { return act_k4(y); }
    static PEREGRINE_SIMD_INLINE Row row(const Block& x) { return row_q4_k(x); }
    static PEREGRINE_SIMD_INLINE __m512i acc(const Row& w, const Act& a) { return scaled_acc(w, a); }
};
struct KQ5 {
    using Block = BlockQ5_K;
    static constexpr bool kMins = true;
    static PEREGRINE_SIMD_INLINE Act act(const BlockQ8_K& y) { return act_k4(y); }
    static PEREGRINE_SIMD_INLINE Row row(const Block& x) { return row_q5_k(x); }
    static PEREGRINE_SIMD_INLINE __m512i acc(const Row& w, const Act& a) { return scaled_acc(w, a); }
};
struct KQ6 {
    using Block = BlockQ6_K;
    static constexpr bool kMins = false;
    static PEREGRINE_SIMD_INLINE Act act(const BlockQ8_K& y) { return act_q6_k(y); }
    static PEREGRINE_SIMD_INLINE Row row(const Block& x) { return row_q6_k(x); }
    static PEREGRINE_SIMD_INLINE __m512i acc(const Row& w, const Act& a) { return acc_q6_k(w, a); }
};

// R (<= 4) weight rows x J activation rows. Activations are arranged once per super-block for all rows.
// The float step runs on 4 lanes, one per row, with the scalar kernel's operations in its order
//   d = d_w * d_x;  dmin = dmin_w * d_x;  sum += d * isum - dmin * isum_min   (Q6_K: sum += d * isum)
// so every lane computes exactly what vec_dot_kquants.cpp computes for that row.
template <class K, int R, int J>
void tile_kquant(const simd::TileArgs& t) {
    const int64_t nb = t.nb;
    __m128 sum[J];
    for (int j = 0; j < J; ++j) sum[j] = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        Act act[J];
        for (int j = 0; j < J; ++j) act[j] = K::act(reinterpret_cast<const BlockQ8_K*>(t.x + j * t.x_stride)[b]);
        __m256i acc[4][J];   // lane sums folded to 8 lanes; rows beyond R stay zero
        __m256i mins[4][J];
        float d[4] = {}, dmin[4] = {};
        for (int r = 0; r < 4; ++r) {
            for (int j = 0; j < J; ++j) acc[r][j] = mins[r][j] = _mm256_setzero_si256();
        }
        for (int r = 0; r < R; ++r) {
            const Row row = K::row(reinterpret_cast<const typename K::Block*>(t.w + r * t.w_stride)[b]);
            d[r] = row.d;
            dmin[r] = row.dmin;
            for (int j = 0; j < J; ++j) {
                acc[r][j] = fold_512(K::acc(row, act[j]));
                if constexpr (K::kMins) mins[r][j] = min_acc_k4(row, act[j]);
            }
        }
        const __m128 dw = _mm_setr_ps(d[0], d[1], d[2], d[3]);
        const __m128 dminw = _mm_setr_ps(dmin[0], dmin[1], dmin[2], dmin[3]);
        for (int j = 0; j < J; ++j) {
            const __m128 isum = _mm_cvtepi32_ps(reduce4(acc[0][j], acc[1][j], acc[2][j], acc[3][j]));
            const __m128 dx = _mm_set1_ps(act[j].d);
            const __m128 scaled = _mm_mul_ps(_mm_mul_ps(dw, dx), isum);
            if constexpr (K::kMins) {
                const __m128 isum_min = _mm_cvtepi32_ps(reduce4(mins[0][j], mins[1][j], mins[2][j], mins[3][j]));
                sum[j] = _mm_add_ps(sum[j], _mm_sub_ps(scaled, _mm_mul_ps(_mm_mul_ps(dminw, dx), isum_min)));
            } else {
                sum[j] = _mm_add_ps(sum[j], scaled);
            }
        }
    }
    for (int j = 0; j < J; ++j) {
        alignas(16) float lanes[4];
        _mm_store_ps(lanes, sum[j]);
        for (int r = 0; r < R; ++r) t.out[j * t.out_stride + r * t.out_row_step] = lanes[r];
    }
}

template <class K>
struct KFamily {
    static constexpr int kRowsPerTile = 4;
    template <int R, int J>
    static void tile(const simd::TileArgs& a) {
        tile_kquant<K, R, J>(a);
    }
};

template <class K>
float single_dot(int64_t n, const void* w, const void* x) {
    float out = 0.f;
    tile_kquant<K, 1, 1>({n / 256, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(x), 0, &out, 0, 0});
    return out;
}

}  // namespace

float vec_dot_q4_k(int64_t n, const void* w, const void* x) { return single_dot<KQ4>(n, w, x); }
float vec_dot_q5_k(int64_t n, const void* w, const void* x) { return single_dot<KQ5>(n, w, x); }
float vec_dot_q6_k(int64_t n, const void* w, const void* x) { return single_dot<KQ6>(n, w, x); }

void vec_dot_tile_q4_k(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    simd::drive_tiles<KFamily<KQ4>>(n / 256, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

void vec_dot_tile_q5_k(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    simd::drive_tiles<KFamily<KQ5>>(n / 256, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

void vec_dot_tile_q6_k(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    simd::drive_tiles<KFamily<KQ6>>(n / 256, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

}  // namespace peregrine::kernels::cpu::avx512
