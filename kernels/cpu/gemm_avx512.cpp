// Matrix-matrix products for prefill and batches on AVX-512 VNNI: Q4_0, Q5_0 and Q8_0 weights against
// Q8_0 activations. Rules for this file are in simd_kernels.h.
//
// The tile kernels (vec_dot_avx512.cpp) re-derive every operand from the file's blocks for each small
// tile: unpacking nibbles, converting fp16 scales and summing activations cost more instructions than
// the products themselves. Here both sides are unpacked once into their register form (q8_0_family's
// pairs: 64 unsigned weight bytes + 16 scale lanes; 64 activation bytes + the int32 start values +
// 16 scale lanes) in caller-provided scratch: a chunk of activation rows that fits in L2, then four
// weight rows at a time that fit in L1 and are reused against every activation of the chunk. The inner
// 4 x 4 kernel is then four vector operations per (row, activation, block pair), all loads being plain
// memory operands.
//
// Each (row, activation) result goes through exactly the operations of tile_q8_0_family (the same
// accumulate() per block pair and the same final reduction), so results are bit-identical with
// vec_dot / vec_dot_rows / vec_dot_tile on this path.
#include "kernels/cpu/q8_0_family_avx512.h"

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx512 {
namespace {

struct WeightPair {
    __m512i q;
    __m512 d;
};

constexpr int kTileRows = 4;
constexpr int kTileActs = 4;
// Scratch for the activation chunk: prepared rows (192 bytes per block pair) that stay in L2 while the
// weights stream past.
constexpr size_t kActivationChunkBytes = 768 * 1024;

int64_t pairs_of(int64_t nb) { return (nb + 1) / 2; }

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

template <class W>
void prepare_weights(const uint8_t* w, size_t w_stride, int rows, int64_t nb, WeightPair* out) {
    using Block = typename W::Block;
    const int64_t np = pairs_of(nb);
    for (int r = 0; r < rows; ++r) {
        const Block* blocks = reinterpret_cast<const Block*>(w + static_cast<size_t>(r) * w_stride);
        WeightPair* dst = out + r * np;
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            _mm512_store_si512(&dst[b / 2].q, W::pair(blocks + b));
            _mm512_store_ps(&dst[b / 2].d, scales_pair(load_u16(&blocks[b].d), load_u16(&blocks[b + 1].d)));
        }
        if (b < nb) {
            _mm512_store_si512(&dst[b / 2].q, W::one(blocks + b));
            _mm512_store_ps(&dst[b / 2].d, scales_pair(load_u16(&blocks[b].d), 0));
        }
    }
}

template <class W>
void prepare_activations(const uint8_t* x, size_t x_stride, int64_t acts, int64_t nb, ActivationPair* out) {
    const int64_t np = pairs_of(nb);
    for (int64_t j = 0; j < acts; ++j) {
        const BlockQ8_0* blocks = reinterpret_cast<const BlockQ8_0*>(x + static_cast<size_t>(j) * x_stride);
        ActivationPair* dst = out + j * np;
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            const ActivationPair a = activation_pair<W>(blocks + b);
            _mm512_store_si512(&dst[b / 2].q, a.q);
            _mm512_store_si512(&dst[b / 2].neg_offset_sum, a.neg_offset_sum);
            _mm512_store_ps(&dst[b / 2].d, a.d);
        }
        if (b < nb) {
            const ActivationPair a = activation_one<W>(blocks + b);
            _mm512_store_si512(&dst[b / 2].q, a.q);
            _mm512_store_si512(&dst[b / 2].neg_offset_sum, a.neg_offset_sum);
            _mm512_store_ps(&dst[b / 2].d, a.d);
        }
    }
}

// out[j * out_stride + r] for r < R, j < J over np prepared pairs.
template <int R, int J>
void kernel(const WeightPair* w, const ActivationPair* x, int64_t np, float* out, size_t out_stride) {
    __m512 acc[R][J];
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < np; ++p) {
        __m512i wq[R];
        __m512 wd[R];
        for (int r = 0; r < R; ++r) {
            wq[r] = _mm512_load_si512(&w[r * np + p].q);
            wd[r] = _mm512_load_ps(&w[r * np + p].d);
        }
        for (int j = 0; j < J; ++j) {
            const ActivationPair& a = x[j * np + p];
            for (int r = 0; r < R; ++r) acc[r][j] = accumulate(acc[r][j], wq[r], wd[r], a);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int j = 0; j < J; ++j) out[j * out_stride + r] = _mm512_reduce_add_ps(acc[r][j]);
    }
}

template <int R>
void kernel_rows(int acts, const WeightPair* w, const ActivationPair* x, int64_t np, float* out, size_t out_stride) {
    switch (acts) {
        case 1: return kernel<R, 1>(w, x, np, out, out_stride);
        case 2: return kernel<R, 2>(w, x, np, out, out_stride);
        case 3: return kernel<R, 3>(w, x, np, out, out_stride);
        default: return kernel<R, 4>(w, x, np, out, out_stride);
    }
}

// Asks for the next tile's weight rows while this tile computes. prepare_weights reads a few KB in one
// burst and the kernel then touches no memory for a long while, so the hardware prefetchers never run
// ahead: without this, small batches (tens of activation rows) streaming weights from DRAM waited for
// every tile's rows and ran slower than the tile kernels.
void prefetch_next_rows(const uint8_t* w, size_t w_stride, int64_t n_rows, int64_t first) {
    if (first >= n_rows) return;
    const int64_t rows = n_rows - first < kTileRows ? n_rows - first : kTileRows;
    const uint8_t* begin = w + static_cast<size_t>(first) * w_stride;
    const size_t bytes = static_cast<size_t>(rows) * w_stride;
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(begin + off), _MM_HINT_T0);
}

template <class W>
void gemm(int64_t n, const void* wv, size_t w_stride, int64_t n_rows, const void* xv, size_t x_stride, int64_t n_x,
          float* out, size_t out_stride, void* scratch) {
    const int64_t nb = n / 32;
    const int64_t np = pairs_of(nb);
    const auto* w = static_cast<const uint8_t*>(wv);
    const auto* x = static_cast<const uint8_t*>(xv);
    auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + 63) / 64 * 64);
    auto* wprep = reinterpret_cast<WeightPair*>(base);
    auto* xprep = reinterpret_cast<ActivationPair*>(base + align64(sizeof(WeightPair) * kTileRows * np));
    const int64_t chunk = gemm_chunk_rows(n);
    for (int64_t j0 = 0; j0 < n_x; j0 += chunk) {
        const int64_t acts = n_x - j0 < chunk ? n_x - j0 : chunk;
        prepare_activations<W>(x + static_cast<size_t>(j0) * x_stride, x_stride, acts, nb, xprep);
        for (int64_t r0 = 0; r0 < n_rows; r0 += kTileRows) {
            const int rows = static_cast<int>(n_rows - r0 < kTileRows ? n_rows - r0 : kTileRows);
            prepare_weights<W>(w + static_cast<size_t>(r0) * w_stride, w_stride, rows, nb, wprep);
            prefetch_next_rows(w, w_stride, n_rows, r0 + kTileRows);
            for (int64_t j = 0; j < acts; j += kTileActs) {
                const int tile_acts = static_cast<int>(acts - j < kTileActs ? acts - j : kTileActs);
                float* o = out + static_cast<size_t>(j0 + j) * out_stride + static_cast<size_t>(r0);
                const ActivationPair* xa = xprep + j * np;
                switch (rows) {
                    case 1: kernel_rows<1>(tile_acts, wprep, xa, np, o, out_stride); break;
                    case 2: kernel_rows<2>(tile_acts, wprep, xa, np, o, out_stride); break;
                    case 3: kernel_rows<3>(tile_acts, wprep, xa, np, o, out_stride); break;
                    default: kernel_rows<4>(tile_acts, wprep, xa, np, o, out_stride); break;
                }
            }
        }
    }
}

}  // namespace

int64_t gemm_chunk_rows(int64_t n) {
    const int64_t per_row = static_cast<int64_t>(sizeof(ActivationPair)) * pairs_of(n / 32);
    const int64_t rows = static_cast<int64_t>(kActivationChunkBytes) / (per_row > 0 ? per_row : 1);
    return rows < kTileActs ? kTileActs : rows / kTileActs * kTileActs;
}

size_t gemm_scratch_bytes(int64_t n) {
    const int64_t np = pairs_of(n / 32);
    return align64(sizeof(WeightPair) * kTileRows * static_cast<size_t>(np)) +
           sizeof(ActivationPair) * static_cast<size_t>(np * gemm_chunk_rows(n)) + 64;
}

void gemm_q4_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
               int64_t n_x, float* out, size_t out_stride, void* scratch) {
    gemm<Q4_0>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride, scratch);
}

void gemm_q5_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
               int64_t n_x, float* out, size_t out_stride, void* scratch) {
    gemm<Q5_0>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride, scratch);
}

void gemm_q8_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
               int64_t n_x, float* out, size_t out_stride, void* scratch) {
    gemm<Q8_0>(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride, scratch);
}

}  // namespace peregrine::kernels::cpu::avx512
