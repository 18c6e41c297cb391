// Row gather: the token embedding lookup. Rows of any storage type are decoded to f32 with the block
// decoders (dequantize.h), exactly as ggml's get_rows does.
#pragma once

#include <cstddef>
#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// Decodes row `row` of a [n_rows][n_cols] matrix of `type` stored with `row_bytes` bytes per row.
// Throws std::invalid_argument when `row` is outside [0, n_rows) or the type cannot be decoded.
void get_row(TensorType type, const uint8_t* data, size_t row_bytes, int64_t n_rows, int64_t n_cols,
             int64_t row, float* out);

}  // namespace peregrine::kernels::cpu
