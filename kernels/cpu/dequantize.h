// Block decoders: one row of any supported storage type to f32. Layouts in quant_blocks.h.
#pragma once

#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// Decodes n elements (a multiple of the type's block size) starting at `src`.
// Throws std::invalid_argument for a type the engine cannot decode.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// True for the types dequantize_row decodes: every type in TensorType (F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q8_1, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS); false for an unknown raw id.
bool can_dequantize(TensorType type);

}  // namespace peregrine::kernels::cpu
