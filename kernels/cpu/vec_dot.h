// Dot products between one weight row (storage type W) and one activation row already converted to
// vec_dot_type(W). This pairing is ggml's: integer dot products for quantized weights, so our logits
// match llama.cpp's arithmetic.
#pragma once

#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// Type the activations must be converted to (quantize_row) before vec_dot with weights of type `weight`:
// F32->F32, F16->F16, BF16->BF16, Q4_0/Q5_0/Q8_0->Q8_0, Q4_1/Q5_1->Q8_1, K-quants->Q8_K.
TensorType vec_dot_type(TensorType weight);

// Returns sum_i w[i] * x[i] over n elements. `w` is a row of type `weight`, `x` a row of
// vec_dot_type(weight). Throws std::invalid_argument for unsupported types.
float vec_dot(TensorType weight, int64_t n, const void* w, const void* x);

}  // namespace peregrine::kernels::cpu
