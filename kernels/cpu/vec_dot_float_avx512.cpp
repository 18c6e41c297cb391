// AVX-512 dot products, tiles and GEMM for the float weight types (F32, F16, BF16), whose activations
// are converted to the same type (vec_dot_type). Rules for this file are in simd_kernels.h.
//
// Arithmetic, the same for every entry point so that they agree bit for bit: each (weight row,
// activation row) pair has one 16-lane f32 accumulator that takes the products of 16 elements per step
// (BF16: vdpbf16ps, 32 elements, two products per lane), in element order; the last partial step loads
// zeros past the row's end; the lanes are reduced once at the end. F16 and BF16 products are exact in
// f32, so the fused multiply-add only rounds the sum, as the scalar kernels do. (vdpbf16ps treats bf16
// subnormals, below 1.2e-38, as zero; no real weight or activation is one.)
//
// Decode runs the tile kernels over four weight rows at a time (four independent accumulator chains, the
// rows a quarter of the range apart; simd_tile_driver.h). Prefill with F32 weights runs a GEMM: four weight
// rows and a chunk of activation rows are copied zero-padded into scratch (L1 and L2), then a 4 x 4
// kernel does 16 fused multiply-adds per 8 loads (1.7x the 4 x 2 tile on the EPYC we tune for). For F16 the
// same GEMM on converted rows measured slower than the 4 x 2 tile that converts as it loads (70 vs 80
// GMAC/s per core), so F16 prefill runs the tile.
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

// --- GEMM (F32): operands copied to zero-padded, aligned rows in scratch ------------------------------

constexpr int kTileRows = 4;
constexpr int kTileActs = 4;
constexpr size_t kActivationChunkBytes = 768 * 1024;

int64_t padded(int64_t n) { return (n + 15) / 16 * 16; }
size_t align64(size_t n) { return (n + 63) / 64 * 64; }

int64_t chunk_rows(int64_t n) {
    const int64_t rows = static_cast<int64_t>(kActivationChunkBytes / (sizeof(float) * static_cast<size_t>(padded(n))));
    return rows < kTileActs ? kTileActs : rows / kTileActs * kTileActs;
}

// rows x n elements of type E (rows `stride` bytes apart) to f32 rows of padded(n) floats.
template <class E>
void to_f32(const uint8_t* src, size_t stride, int64_t rows, int64_t n, float* dst) {
    using T = typename E::T;
    const int64_t np = padded(n);
    for (int64_t r = 0; r < rows; ++r) {
        const T* s = reinterpret_cast<const T*>(src + static_cast<size_t>(r) * stride);
        float* d = dst + r * np;
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) _mm512_store_ps(d + i, E::load(s + i));
        if (i < np) _mm512_store_ps(d + i, E::load_tail(s + i, n - i));
    }
}

template <int R, int J>
void gemm_kernel(const float* w, const float* x, int64_t np, float* out, size_t out_stride) {
    __m512 acc[R][J];
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < np; i += 16) {
        __m512 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = _mm512_load_ps(w + r * np + i);
        for (int j = 0; j < J; ++j) {
            const __m512 xv = _mm512_load_ps(x + j * np + i);
            for (int r = 0; r < R; ++r) acc[r][j] = _mm512_fmadd_ps(wv[r], xv, acc[r][j]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) out[j * out_stride + r] = _mm512_reduce_add_ps(acc[r][j]);
    }
}

template <int R>
void gemm_kernel_rows(int acts, const float* w, const float* x, int64_t np, float* out, size_t out_stride) {
    switch (acts) {
        case 1: return gemm_kernel<R, 1>(w, x, np, out, out_stride);
        case 2: return gemm_kernel<R, 2>(w, x, np, out, out_stride);
        case 3: return gemm_kernel<R, 3>(w, x, np, out, out_stride);
        default: return gemm_kernel<R, 4>(w, x, np, out, out_stride);
    }
}

template <class E>
void gemm(int64_t n, const void* wv, size_t w_stride, int64_t n_rows, const void* xv, size_t x_stride, int64_t n_x,
          float* out, size_t out_stride, void* scratch) {
    const int64_t np = padded(n);
    const auto* w = static_cast<const uint8_t*>(wv);
    const auto* x = static_cast<const uint8_t*>(xv);
    auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + 63) / 64 * 64);
    auto* wprep = reinterpret_cast<float*>(base);
    auto* xprep = reinterpret_cast<float*>(base + align64(sizeof(float) * kTileRows * static_cast<size_t>(np)));
    const int64_t chunk = chunk_rows(n);
    for (int64_t j0 = 0; j0 < n_x; j0 += chunk) {
        const int64_t acts = n_x - j0 < chunk ? n_x - j0 : chunk;
        to_f32<E>(x + static_cast<size_t>(j0) * x_stride, x_stride, acts, n, xprep);
        for (int64_t r0 = 0; r0 < n_rows; r0 += kTileRows) {
            const int rows = static_cast<int>(n_rows - r0 < kTileRows ? n_rows - r0 : kTileRows);
            to_f32<E>(w + static_cast<size_t>(r0) * w_stride, w_stride, rows, n, wprep);
            for (int64_t j = 0; j < acts; j += kTileActs) {
                const int tile_acts = static_cast<int>(acts - j < kTileActs ? acts - j : kTileActs);
                float* o = out + static_cast<size_t>(j0 + j) * out_stride + static_cast<size_t>(r0);
                const float* xa = xprep + j * np;
                switch (rows) {
                    case 1: gemm_kernel_rows<1>(tile_acts, wprep, xa, np, o, out_stride); break;
                    case 2: gemm_kernel_rows<2>(tile_acts, wprep, xa, np, o, out_stride); break;
                    case 3: gemm_kernel_rows<3>(tile_acts, wprep, xa, np, o, out_stride); break;
                    default: gemm_kernel_rows<4>(tile_acts, wprep, xa, np, o, out_stride); break;
                }
            }
        }
    }
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

size_t gemm_float_scratch_bytes(int64_t n) {
    const size_t np = static_cast<size_t>(padded(n));
    return align64(sizeof(float) * kTileRows * np) + sizeof(float) * np * static_cast<size_t>(chunk_rows(n)) + 64;
}

void gemm_f32(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
              int64_t n_x, float* out, size_t out_stride, void* scratch) {
    gemm<F32>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride, scratch);
}

}  // namespace peregrine::kernels::cpu::avx512
