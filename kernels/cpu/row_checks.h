// Block geometry of each storage type, and the argument check every row kernel starts with.
// The kernels keep their own copy of these sizes (the same numbers as tensor_type.cpp, asserted in
// tst_dequantize) so the kernels library does not depend on the engine library that links it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

struct BlockShape {
    int64_t block_size = 0;  // elements per block; 0 for an id the kernels do not know
    size_t type_size = 0;    // bytes per block
    const char* name = "unknown";
};

constexpr BlockShape block_shape(TensorType type) {
    switch (type) {
        case TensorType::F32: return {1, 4, "f32"};
        case TensorType::F16: return {1, 2, "f16"};
        case TensorType::BF16: return {1, 2, "bf16"};
        case TensorType::Q4_0: return {32, 18, "q4_0"};
        case TensorType::Q4_1: return {32, 20, "q4_1"};
        case TensorType::Q5_0: return {32, 22, "q5_0"};
        case TensorType::Q5_1: return {32, 24, "q5_1"};
        case TensorType::Q8_0: return {32, 34, "q8_0"};
        case TensorType::Q8_1: return {32, 36, "q8_1"};
        case TensorType::Q2_K: return {256, 84, "q2_K"};
        case TensorType::Q3_K: return {256, 110, "q3_K"};
        case TensorType::Q4_K: return {256, 144, "q4_K"};
        case TensorType::Q5_K: return {256, 176, "q5_K"};
        case TensorType::Q6_K: return {256, 210, "q6_K"};
        case TensorType::Q8_K: return {256, 292, "q8_K"};
        case TensorType::IQ4_NL: return {32, 18, "iq4_nl"};
        case TensorType::IQ4_XS: return {256, 136, "iq4_xs"};
    }
    return {};
}

inline std::string type_name_for_errors(TensorType type) {
    const BlockShape shape = block_shape(type);
    if (shape.block_size != 0) return shape.name;
    return "id " + std::to_string(static_cast<uint32_t>(type));
}

// Number of blocks in a row of n elements. Throws std::invalid_argument (naming the caller, the type and
// n) when n is negative or not a whole number of blocks, so a bad shape never reads past a row.
inline int64_t checked_block_count(TensorType type, int64_t n, const char* caller) {
    const BlockShape shape = block_shape(type);
    if (shape.block_size == 0) {
        throw std::invalid_argument(std::string(caller) + ": unknown tensor type " + type_name_for_errors(type));
    }
    if (n < 0 || n % shape.block_size != 0) {
        throw std::invalid_argument(std::string(caller) + ": row of " + std::to_string(n) + " elements is not a whole number of " +
                                    shape.name + " blocks (" + std::to_string(shape.block_size) + " elements each)");
    }
    return n / shape.block_size;
}

}  // namespace peregrine::kernels::cpu
