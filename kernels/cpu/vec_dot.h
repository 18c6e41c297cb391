// Dot products between one weight row (storage type W) and one activation row already converted to
// vec_dot_type(W). This pairing is ggml's: integer dot products for quantized weights, so our logits
// match llama.cpp's arithmetic.
//
// Accumulation order: within a block (32 values, or a 256-value K-quant super-block) the products are
// summed exactly in int32; across blocks the float terms (scale products times integer sums) are added
// one block at a time, as ggml's scalar code does. ggml's AVX2 code spreads the same terms over 8 float
// lanes with FMA, so results agree with llama.cpp to rounding, not bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// Type the activations must be converted to (quantize_row) before vec_dot with weights of type `weight`:
// F32->F32, F16->F16, BF16->BF16, Q4_0/Q5_0/Q8_0->Q8_0, Q4_1/Q5_1->Q8_1, K-quants->Q8_K,
// IQ4_NL->Q8_0, IQ4_XS->Q8_K. Throws std::invalid_argument for a type with no dot product (Q8_1, Q8_K).
TensorType vec_dot_type(TensorType weight);

// Returns sum_i w[i] * x[i] over n elements. `w` is a row of type `weight`, `x` a row of
// vec_dot_type(weight). Throws std::invalid_argument for unsupported types or an n that is not a
// whole number of blocks.
float vec_dot(TensorType weight, int64_t n, const void* w, const void* x);

// True for the weight types vec_dot accepts (everything except Q8_1 and Q8_K, which ggml only uses for
// activations).
bool has_vec_dot(TensorType weight);

// --- SIMD dispatch (cpu_features.h chooses the path: scalar, avx2 or avx512) ---------------------------
// vec_dot and the functions below run the kernels of the active path. SIMD kernels exist for F32, F16,
// BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K; other types run the scalar kernels on every path. Results
// agree with the scalar path to float rounding (bit for bit for the K-quants), and for one path the
// single, rows and tile entry points give bit-identical results for the same pair of rows.

// A dot product with arguments already checked (n a whole number of blocks).
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

// out[j * out_stride + i] = dot(weight row i, activation row j) for i < n_rows, j < n_x, with weight rows
// w_row_stride bytes apart and activation rows x_row_stride bytes apart. Arguments already checked.
using VecDotTileFn = void (*)(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                              size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);

// The active path's kernel for `weight`, for callers that resolve it once per matmul and call it per row.
// Throws std::invalid_argument like vec_dot_type. The returned function does not check n.
VecDotFn vec_dot_kernel(TensorType weight);

// out[i] = vec_dot(weight, n, w + i * w_row_stride, x) for i < n_rows: consecutive weight rows against
// one activation row, reading each activation block once for several rows. Throws like vec_dot.
void vec_dot_rows(TensorType weight, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                  float* out);

// The tile form (see VecDotTileFn): several activation rows (a batch, or prefill) against several weight
// rows, loading each weight block once for two activation rows. Throws like vec_dot.
void vec_dot_tile(TensorType weight, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                  size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);

// The matrix-matrix form, for prefill and batches: the same results as vec_dot_tile, bit for bit, through
// a GEMM kernel that unpacks weights and activations once per tile where the active path has one
// (AVX-512: Q4_0, Q5_0, Q8_0 weights; other types and paths run vec_dot_tile). `scratch` must hold
// vec_dot_gemm_scratch_bytes(weight, n) bytes (any alignment). Throws like vec_dot_tile.
size_t vec_dot_gemm_scratch_bytes(TensorType weight, int64_t n);
void vec_dot_gemm(TensorType weight, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                  size_t x_row_stride, int64_t n_x, float* out, size_t out_stride, void* scratch, size_t scratch_bytes);

}  // namespace peregrine::kernels::cpu
