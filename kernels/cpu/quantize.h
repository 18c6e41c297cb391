// Row quantizers: f32 -> a block type. Used for activations before integer dot products (Q8_0, Q8_1,
// Q8_K, F16, BF16, bit-exact with ggml's CPU path so logits match llama.cpp) and by the quantize and
// make-model tools (every weight type).
#pragma once

#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// Quantizes n elements (a multiple of the type's block size) into dst (tensor_row_size(type, n) bytes).
// Throws std::invalid_argument for a type that has no quantizer.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n);

}  // namespace peregrine::kernels::cpu
