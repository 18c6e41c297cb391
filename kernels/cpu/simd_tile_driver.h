// The loop over tiles (a few weight rows x up to four activation rows) shared by the SIMD multi-row
// kernels. Included only by *_avx2.cpp / *_avx512.cpp files, always with a Kernel type local to the
// including file, so every instantiation is that file's own (compiled with its ISA flags).
//
// Which rows share a tile: four rows from the four quarters of the range (i, i + q, i + 2q, i + 3q), not
// four neighbours. Reading neighbouring rows in lockstep interleaves accesses a few KB apart, which defeats
// the hardware prefetchers: streaming Q4_0 weights from DRAM ran 3x slower than one row at a time on the
// EPYC (Zen 5) we benchmark on. Rows far apart are four plain sequential streams, and the activation
// blocks are still loaded once per tile. Weight rows are the outer loop, so a tile's rows stay in L1 while
// all activation rows pass over them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace peregrine::kernels::cpu::simd {

// One tile: rows w + r * w_stride (r < R), activations x + j * x_stride (j < J), results to
// out[j * out_stride + r * out_row_step]; nb blocks per row.
struct TileArgs {
    int64_t nb;
    const uint8_t* w;
    size_t w_stride;
    const uint8_t* x;
    size_t x_stride;
    float* out;
    size_t out_stride;
    size_t out_row_step;
};

// Kernel::kActsPerTile when the kernel declares it (up to 4), else 2.
template <class K, class = void>
struct ActsPerTile {
    static constexpr int value = 2;
};
template <class K>
struct ActsPerTile<K, std::void_t<decltype(K::kActsPerTile)>> {
    static constexpr int value = K::kActsPerTile;
};

template <class Kernel, int R>
void run_tile(int acts, const TileArgs& a) {
    constexpr int J = ActsPerTile<Kernel>::value;
    if constexpr (J >= 4) {
        if (acts == 4) return Kernel::template tile<R, 4>(a);
    }
    if constexpr (J >= 3) {
        if (acts == 3) return Kernel::template tile<R, 3>(a);
    }
    if (acts == 2) return Kernel::template tile<R, 2>(a);
    Kernel::template tile<R, 1>(a);
}

// Kernel provides template <int R, int J> static void tile(const TileArgs&) for R <= 4 and J up to
// kActsPerTile (optional, 2 to 4; 2 when absent), and kRowsPerTile (1..4), the tile height it is fastest
// with.
template <class Kernel>
void drive_tiles(int64_t nb, const void* wv, size_t w_stride, int64_t n_rows, const void* xv, size_t x_stride,
                 int64_t n_x, float* out, size_t out_stride) {
    const auto* w = static_cast<const uint8_t*>(wv);
    const auto* x = static_cast<const uint8_t*>(xv);
    constexpr int kActs = ActsPerTile<Kernel>::value;
    const auto tile_rows = [&](int64_t first, int rows, size_t step) {
        for (int64_t j = 0; j < n_x; j += kActs) {
            const TileArgs a{nb,       w + first * w_stride, w_stride * step, x + j * x_stride,
                             x_stride, out + j * out_stride + first, out_stride, step};
            const int acts = static_cast<int>(n_x - j >= kActs ? kActs : n_x - j);
            switch (rows) {
                case 1: run_tile<Kernel, 1>(acts, a); break;
                case 2: run_tile<Kernel, 2>(acts, a); break;
                case 3: run_tile<Kernel, 3>(acts, a); break;
                default: run_tile<Kernel, 4>(acts, a); break;
            }
        }
    };
    constexpr int m = Kernel::kRowsPerTile;
    const int64_t q = n_rows / m;  // rows per quarter (for m = 4)
    for (int64_t i = 0; i < q; ++i) tile_rows(i, m, static_cast<size_t>(q));
    if (n_rows > m * q) tile_rows(m * q, static_cast<int>(n_rows - m * q), 1);
}

}  // namespace peregrine::kernels::cpu::simd
