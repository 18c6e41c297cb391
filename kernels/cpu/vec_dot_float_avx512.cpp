// AVX-512 dot products and tiles for the float weight types (F32, F16, BF16), whose activations
// are converted to the same type (vec_dot_type). Rules for this file are in simd_kernels.h.
//
// Arithmetic, the same for every entry point so that they agree bit for bit: each (weight row,
// activation row) pair has one 16-lane f32 accumulator that takes the products of 16 elements per step
// (BF16: vdpbf16ps, 32 elements, two products per lane), in element order; the last partial step loads
// zeros past the row's end; the lanes are reduced once at the end. F16 and BF16 products are exact in
// f32, so the fused multiply-add only rounds the sum, as the scalar kernels do. (vdpbf16ps treats bf16
// subnormals, below 1.2e-38, as zero; no real weight or activation is one.)
//
// Tiles are four weight rows (a quarter of the range apart; simd_tile_driver.h) by up to four activation
// rows: 16 accumulators, 8 loads per 16 fused multiply-adds. Decode runs them with one activation row;
// prefill needs no separate GEMM: converting both operands as they are loaded costs less here than
// copying them to scratch first (measured per core: a 4 x 4 GEMM on pre-converted f32 rows ran F32 at the
// same 74 GMAC/s as this tile, and F16 at 70 GMAC/s against this tile's 101).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/simd_tile_driver.h"

namespace peregrine::kernels::cpu::avx512 {
namespace {

// Element loads as 16 f32 lanes (zeros past `left` elements for the tail step).
struct F32 {
    using T = float;
    static constexpr int kStep = 16;
    static __m512 load(const T* p) { return _mm512_loadu_ps(p); }
    static __m512 load_tail(const T* p, int64_t left) {
        return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << left) - 1u), p);
    }
    static __m512 madd(__m512 acc, __m512 w, __m512 x) { return _mm512_fmadd_ps(w, x, acc); }
};

struct F16 {
    using T = fp16_t;
    static constexpr int kStep = 16;
    static __m512 load(const T* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static __m512 load_tail(const T* p, int64_t left) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << left) - 1u), p));
    }
    static __m512 madd(__m512 acc, __m512 w, __m512 x) { return _mm512_fmadd_ps(w, x, acc); }
};

// Raw bf16 pairs: the "vectors" are 32 bf16 values reinterpreted, consumed by vdpbf16ps.
struct BF16 {
    using T = bf16_t;
    static constexpr int kStep = 32;
    static __m512 load(const T* p) { return _mm512_castsi512_ps(_mm512_loadu_si512(p)); }
    static __m512 load_tail(const T* p, int64_t left) {
        return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(static_cast<__mmask32>((1ull << left) - 1u), p));
    }
    static __m512 madd(__m512 acc, __m512 w, __m512 x) {
        return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_castps_si512(w), (__m512bh)_mm512_castps_si512(x));
    }
};

// R weight rows x J activation rows over n elements (TileArgs::nb holds n).
template <class E, int R, int J>
void tile_float(const simd::TileArgs& a) {
    using T = typename E::T;
    const int64_t n = a.nb;
    __m512 acc[R][J];
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
    }
    const auto w_row = [&](int r) { return reinterpret_cast<const T*>(a.w + r * a.w_stride); };
    const auto x_row = [&](int j) { return reinterpret_cast<const T*>(a.x + j * a.x_stride); };
    int64_t i = 0;
    for (; i + E::kStep <= n; i += E::kStep) {
        __m512 xv[J];
        for (int j = 0; j < J; ++j) xv[j] = E::load(x_row(j) + i);
        for (int r = 0; r < R; ++r) {
            const __m512 wv = E::load(w_row(r) + i);
            for (int j = 0; j < J; ++j) acc[r][j] = E::madd(acc[r][j], wv, xv[j]);
        }
    }
    if (i < n) {
        __m512 xv[J];
        for (int j = 0; j < J; ++j) xv[j] = E::load_tail(x_row(j) + i, n - i);
        for (int r = 0; r < R; ++r) {
            const __m512 wv = E::load_tail(w_row(r) + i, n - i);
            for (int j = 0; j < J; ++j) acc[r][j] = E::madd(acc[r][j], wv, xv[j]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) a.out[j * a.out_stride + r * a.out_row_step] = _mm512_reduce_add_ps(acc[r][j]);
    }
}

template <class E>
struct FloatKernel {
    static constexpr int kRowsPerTile = 4;
    static constexpr int kActsPerTile = 4;
    template <int R, int J>
    static void tile(const simd::TileArgs& a) {
        tile_float<E, R, J>(a);
    }
};

template <class E>
float single_dot(int64_t n, const void* w, const void* x) {
    float out = 0.f;
    tile_float<E, 1, 1>({n, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(x), 0, &out, 0, 0});
    return out;
}

template <class E>
void tile(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
          int64_t n_x, float* out, size_t out_stride) {
    simd::drive_tiles<FloatKernel<E>>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

}  // namespace

float vec_dot_f32(int64_t n, const void* w, const void* x) { return single_dot<F32>(n, w, x); }
float vec_dot_f16(int64_t n, const void* w, const void* x) { return single_dot<F16>(n, w, x); }
float vec_dot_bf16(int64_t n, const void* w, const void* x) { return single_dot<BF16>(n, w, x); }

void vec_dot_tile_f32(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                      size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    tile<F32>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

void vec_dot_tile_f16(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                      size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    tile<F16>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

void vec_dot_tile_bf16(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    tile<BF16>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

}  // namespace peregrine::kernels::cpu::avx512
