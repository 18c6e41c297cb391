#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/quantize.h"
#include "kernels/cpu/row_checks.h"
#include "kernels/cpu/vec_dot.h"

namespace peregrine::kernels::cpu {
namespace {

// Activation rows per chunk: a weight tile is loaded once per chunk and reused against every row of it,
// so the chunk must stay in L2 (2 MB per core on the EPYC we tune for, 256 KB to 1 MB on older parts)
// while leaving room for the weights streaming through.
constexpr size_t kActivationChunkBytes = 512 * 1024;

// From this many activation rows on, unpacking weight tiles once for all of them (vec_dot_gemm) beats
// the tile kernels, which unpack each weight block in registers once per 4 activation rows. Measured on
// the Zen 5 machine with Q4_0 weights streaming from DRAM (2048 x 5632, one thread): at 4-16 rows the
// tile kernels took 0.13-0.14 ms per row against the GEMM's 0.15-0.25 (the GEMM's unpack-then-compute
// phases leave the weight stream idle; small batches have too little compute per tile to hide it), from
// 24 rows on the GEMM is ahead. Batches of continuous batching (one row per stream) stay on the tiles.
// PEREGRINE_GEMM_MIN_ROWS overrides it (read once), for measuring one choice against another.
constexpr int64_t kGemmMinRows = 17;

int64_t gemm_min_rows() {
    static const int64_t rows = [] {
        const char* value = std::getenv("PEREGRINE_GEMM_MIN_ROWS");
        if (value == nullptr) return kGemmMinRows;
        char* end = nullptr;
        const long long parsed = std::strtoll(value, &end, 10);
        return end != value && *end == '\0' && parsed >= 1 ? static_cast<int64_t>(parsed) : kGemmMinRows;
    }();
    return rows;
}

}  // namespace

size_t matmul_activation_row_bytes(TensorType weight_type, int64_t n_in) {
    const TensorType act_type = vec_dot_type(weight_type);
    const int64_t n_blocks = checked_block_count(act_type, n_in, "matmul activations");
    return static_cast<size_t>(n_blocks) * block_shape(act_type).type_size;
}

void matmul_convert_row(TensorType weight_type, const float* x, int64_t n_in, uint8_t* dst) {
    const TensorType act_type = vec_dot_type(weight_type);
    if (act_type == TensorType::F32) {
        std::memcpy(dst, x, static_cast<size_t>(n_in) * sizeof(float));
        return;
    }
    quantize_row(act_type, x, dst, n_in);
}

void matmul_rows(const MatmulWeight& w, const uint8_t* act, size_t act_row_bytes, int64_t n_rows, float* y,
                 int64_t y_stride, int64_t o_begin, int64_t o_end) {
    if (o_begin < 0 || o_end > w.n_out || o_begin > o_end) {
        throw std::invalid_argument("matmul_rows: output range outside the weight's rows");
    }
    if (o_begin == o_end || n_rows <= 0) return;
    const uint8_t* w_rows = w.data + static_cast<size_t>(o_begin) * w.row_bytes;
    // Prefill and batches: the GEMM kernel where the path has one (it chunks the activations itself).
    const size_t gemm_bytes = n_rows >= gemm_min_rows() ? vec_dot_gemm_scratch_bytes(w.type, w.n_in) : 0;
    if (gemm_bytes > 0) {
        thread_local std::vector<uint8_t> scratch;
        if (scratch.size() < gemm_bytes) scratch.resize(gemm_bytes);
        vec_dot_gemm(w.type, w.n_in, w_rows, w.row_bytes, o_end - o_begin, act, act_row_bytes, n_rows, y + o_begin,
                     static_cast<size_t>(y_stride), scratch.data(), scratch.size());
        return;
    }
    const int64_t chunk =
        std::max<int64_t>(2, static_cast<int64_t>(kActivationChunkBytes / std::max<size_t>(act_row_bytes, 1)));
    for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
        const int64_t r1 = std::min(n_rows, r0 + chunk);
        vec_dot_tile(w.type, w.n_in, w_rows, w.row_bytes, o_end - o_begin, act + static_cast<size_t>(r0) * act_row_bytes,
                     act_row_bytes, r1 - r0, y + r0 * y_stride + o_begin, static_cast<size_t>(y_stride));
    }
}

}  // namespace peregrine::kernels::cpu
