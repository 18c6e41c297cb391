// y = W·x for weights of any storage type. Each activation row is converted once to vec_dot_type(W)
// (F32 stays F32, F16 weights take F16 activations, Q4_0/Q5_0/Q8_0 take Q8_0, K-quants take Q8_K, as
// ggml does), then every output element is one dot product of a weight row with that row, computed by
// the active CPU path's kernels (vec_dot.h: scalar, AVX2 or AVX-512).
//
// Arithmetic: the SIMD kernels sum in their own lane order, not llama.cpp's, so logits agree with
// llama.cpp to float rounding (about 1e-6 relative per dot product), not bit for bit. Each output element
// is computed by one kernel call whose result does not depend on which other rows or activations share
// its tile (vec_dot.h), so results are the same for any batch composition and any thread split.
//
// This is a single-threaded range kernel: the backend splits output rows across its thread pool.
#pragma once

#include <cstddef>
#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// A weight matrix of n_out rows, each n_in elements of `type` stored in row_bytes bytes.
struct MatmulWeight {
    TensorType type = TensorType::F32;
    const uint8_t* data = nullptr;
    size_t row_bytes = 0;
    int64_t n_in = 0;
    int64_t n_out = 0;
};

// Bytes of one activation row of n_in elements converted for weights of `weight_type`.
size_t matmul_activation_row_bytes(TensorType weight_type, int64_t n_in);

// Converts one f32 activation row to vec_dot_type(weight_type) (a copy for F32 weights).
void matmul_convert_row(TensorType weight_type, const float* x, int64_t n_in, uint8_t* dst);

// y[r * y_stride + o] = dot(row o of w, activation row r) for o in [o_begin, o_end) and r in
// [0, n_rows). Activation rows are act_row_bytes apart. Activation rows are taken in chunks that stay in
// L2, and the weight rows of the range are streamed once per chunk (once in all for decode).
void matmul_rows(const MatmulWeight& w, const uint8_t* act, size_t act_row_bytes, int64_t n_rows, float* y,
                 int64_t y_stride, int64_t o_begin, int64_t o_end);

}  // namespace peregrine::kernels::cpu
