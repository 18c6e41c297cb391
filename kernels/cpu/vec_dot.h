// Dot products between one weight row (storage type W) and one activation row already converted to
// vec_dot_type(W). This pairing is ggml's: integer dot products for quantized weights, so our logits
// match llama.cpp's arithmetic.
//
// Accumulation order: within a block (32 values, or a 256-value K-quant super-block) the products are
// summed exactly in int32; across blocks the float terms (scale products times integer sums) are added
// one block at a time, as ggml's scalar code does. ggml's AVX2 code spreads the same terms over 8 float
// lanes with FMA, so results agree with llama.cpp to rounding, not bit for bit.
#pragma once

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

}  // namespace peregrine::kernels::cpu
