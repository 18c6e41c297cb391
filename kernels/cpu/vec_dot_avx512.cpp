// AVX-512 dot products for the 32-value block types against Q8_0 activations (the float types are in
// vec_dot_float_avx512.cpp).
// Compiled with AVX-512 F/BW/VL/DQ/VNNI/BF16 flags: only the dispatcher in vec_dot.cpp calls these, after
// cpu_supports(CpuPath::Avx512). Rules for this file are in simd_kernels.h.
//
// Block types: the per-pair arithmetic is in q8_0_family_avx512.h; the activation's share of a pair is
// loaded once per tile and shared by every weight row of it.
//
// GCC 12's AVX-512 headers start unmasked operations from a deliberately uninitialised vector and then
// warn about it once inlined (a false positive, fixed in later GCC); the warnings point into the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstring>

#include "kernels/cpu/q8_0_family_avx512.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/simd_tile_driver.h"

namespace peregrine::kernels::cpu::avx512 {
namespace {

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
    // Batches of 2-3 rows (below the GEMM's threshold) unpack each weight block once for all of them.
    static constexpr int kActsPerTile = 4;
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

}  // namespace

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
