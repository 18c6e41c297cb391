// Tensor storage types, numbered exactly as GGUF/ggml number them (the value is stored in the file).
// Block layouts live in kernels/cpu/quant_blocks.h; this header only knows sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace peregrine {

enum class TensorType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ4_NL = 20,
    IQ4_XS = 23,
    BF16 = 30,
};

struct TensorTypeTraits {
    std::string_view name;   // ggml's spelling: "f32", "q4_K", ...
    int64_t block_size;      // elements per block (1 for plain floats)
    size_t type_size;        // bytes per block
    bool quantized;
    bool supported;          // the engine can dequantize and compute with it
};

// Traits of a type id read from a file; nullopt for ids the engine does not know at all.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type);
const TensorTypeTraits& tensor_type_traits(TensorType type);
std::string_view tensor_type_name(TensorType type);

// Bytes of a row of n elements; n must be a multiple of the block size (checked by callers).
size_t tensor_row_size(TensorType type, int64_t n);

}  // namespace peregrine
