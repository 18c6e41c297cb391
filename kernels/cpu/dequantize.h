// Block decoders: one row of any supported storage type to f32. Layouts in quant_blocks.h.
#pragma once

#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// Decodes n elements (a multiple of the type's block size) starting at `src`.
// Throws std::invalid_argument for a type the engine cannot decode.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

}  // namespace peregrine::kernels::cpu
