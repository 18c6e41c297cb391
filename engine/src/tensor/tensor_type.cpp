#include "peregrine/tensor_type.h"

#include <array>

namespace peregrine {
namespace {

struct Entry {
    uint32_t id;
    TensorTypeTraits traits;
};

// Sizes follow ggml's block structs: e.g. Q4_0 = fp16 scale + 16 bytes of nibbles for 32 values.
constexpr std::array<Entry, 17> kTypes{{
    {0, {"f32", 1, 4, false, true}},
    {1, {"f16", 1, 2, false, true}},
    {2, {"q4_0", 32, 2 + 16, true, true}},
    {3, {"q4_1", 32, 2 + 2 + 16, true, true}},
    {6, {"q5_0", 32, 2 + 4 + 16, true, true}},
    {7, {"q5_1", 32, 2 + 2 + 4 + 16, true, true}},
    {8, {"q8_0", 32, 2 + 32, true, true}},
    {9, {"q8_1", 32, 2 + 2 + 32, true, false}},  // activation-only: no weight dot product
    {10, {"q2_K", 256, 16 + 64 + 2 + 2, true, true}},
    {11, {"q3_K", 256, 32 + 64 + 12 + 2, true, true}},
    {12, {"q4_K", 256, 2 + 2 + 12 + 128, true, true}},
    {13, {"q5_K", 256, 2 + 2 + 12 + 32 + 128, true, true}},
    {14, {"q6_K", 256, 128 + 64 + 16 + 2, true, true}},
    {15, {"q8_K", 256, 4 + 256 + 32, true, false}},  // activation-only
    {20, {"iq4_nl", 32, 2 + 16, true, true}},
    {23, {"iq4_xs", 256, 2 + 2 + 4 + 128, true, true}},
    {30, {"bf16", 1, 2, false, true}},
}};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type) {
    for (const auto& e : kTypes) {
        if (e.id == raw_type) return e.traits;
    }
    return std::nullopt;
}

const TensorTypeTraits& tensor_type_traits(TensorType type) {
    for (const auto& e : kTypes) {
        if (e.id == static_cast<uint32_t>(type)) return e.traits;
    }
    static const TensorTypeTraits unknown{"unknown", 1, 0, false, false};
    return unknown;
}

std::string_view tensor_type_name(TensorType type) { return tensor_type_traits(type).name; }

size_t tensor_row_size(TensorType type, int64_t n) {
    const auto& t = tensor_type_traits(type);
    return static_cast<size_t>(n / t.block_size) * t.type_size;
}

}  // namespace peregrine
