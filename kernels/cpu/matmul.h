// y = W·x for weights of any storage type, with ggml's CPU arithmetic: each activation row is converted
// once to vec_dot_type(W) (F32 stays F32, F16 weights take F16 activations, Q4_0/Q5_0/Q8_0 take Q8_0,
// K-quants take Q8_K), then every output element is one dot product of a weight row with that row.
// The float summation follows the ggml kernel llama.cpp (x86, AVX-512 build) would pick, so results are
// bit-identical to it: F32/F16 weights use llamafile's tinyBLAS order for passes of two or more rows
// (row length a multiple of 16) and ggml_vec_dot's order otherwise (ggml_arithmetic.h); Q8_0/Q5_0/Q4_0
// weights use ggml's 8-lane AVX2 order, or the repacked-Q4_0 order. Other types use vec_dot.
//
// These are single-threaded range kernels: the backend splits output rows across its thread pool.
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
// [0, n_rows). Activation rows are act_row_bytes apart. row_batched[r] != 0: row r belongs to a pass of
// two or more rows (selects ggml's batch kernel order for it). Rows are taken in chunks that stay in
// cache so each weight row is read once per chunk of activation rows.
void matmul_rows(const MatmulWeight& w, const uint8_t* act, size_t act_row_bytes, int64_t n_rows,
                 const uint8_t* row_batched, float* y, int64_t y_stride, int64_t o_begin, int64_t o_end);

}  // namespace peregrine::kernels::cpu
