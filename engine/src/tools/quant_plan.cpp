#include <algorithm>
#include <cctype>
#include <cstdio>

#include "peregrine/quantize_model.h"

namespace peregrine {
namespace {

struct SchemeInfo {
    QuantScheme scheme;
    std::string_view name;
    TensorType base;
    int file_type;  // -1: none
};

constexpr SchemeInfo kSchemes[] = {
    {QuantScheme::F32, "F32", TensorType::F32, 0},        {QuantScheme::F16, "F16", TensorType::F16, 1},
    {QuantScheme::BF16, "BF16", TensorType::BF16, 32},    {QuantScheme::Q8_0, "Q8_0", TensorType::Q8_0, 7},
    {QuantScheme::Q4_0, "Q4_0", TensorType::Q4_0, 2},     {QuantScheme::Q4_1, "Q4_1", TensorType::Q4_1, 3},
    {QuantScheme::Q5_0, "Q5_0", TensorType::Q5_0, 8},     {QuantScheme::Q5_1, "Q5_1", TensorType::Q5_1, 9},
    {QuantScheme::Q4_K, "Q4_K", TensorType::Q4_K, -1},    {QuantScheme::Q5_K, "Q5_K", TensorType::Q5_K, -1},
    {QuantScheme::Q6_K, "Q6_K", TensorType::Q6_K, 18},    {QuantScheme::Q4_K_M, "Q4_K_M", TensorType::Q4_K, 15},
    {QuantScheme::Q5_K_M, "Q5_K_M", TensorType::Q5_K, 17},
};

const SchemeInfo& info(QuantScheme s) {
    for (const auto& i : kSchemes) {
        if (i.scheme == s) return i;
    }
    return kSchemes[0];
}

bool is_float(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The layer of "blk.N.*", or -1.
int layer_of(std::string_view name) {
    int layer = -1;
    const std::string s(name);
    if (std::sscanf(s.c_str(), "blk.%d.", &layer) != 1) return -1;
    return layer;
}

// llama-quantize's replacement when rows are not whole blocks of `t`.
TensorType fallback(TensorType t, int64_t row) {
    const auto fits = [row](TensorType x) { return row % tensor_type_traits(x).block_size == 0; };
    if (fits(t)) return t;
    TensorType f = TensorType::F16;
    if (t == TensorType::Q4_K) f = TensorType::Q5_0;
    if (t == TensorType::Q5_K) f = TensorType::Q5_1;
    if (t == TensorType::Q6_K) f = TensorType::Q8_0;
    return fits(f) ? f : TensorType::F16;
}

}  // namespace

std::optional<QuantScheme> parse_quant_scheme(std::string_view name) {
    for (const auto& i : kSchemes) {
        if (i.name.size() == name.size() &&
            std::equal(name.begin(), name.end(), i.name.begin(),
                       [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; })) {
            return i.scheme;
        }
    }
    return std::nullopt;
}

std::string_view quant_scheme_name(QuantScheme scheme) { return info(scheme).name; }

std::string quant_scheme_list() {
    std::string s;
    for (const auto& i : kSchemes) s += (s.empty() ? "" : ", ") + std::string(i.name);
    return s;
}

TensorType quant_scheme_base_type(QuantScheme scheme) { return info(scheme).base; }

std::optional<uint32_t> quant_scheme_file_type(QuantScheme scheme) {
    const int ft = info(scheme).file_type;
    if (ft < 0) return std::nullopt;
    return static_cast<uint32_t>(ft);
}

QuantPlan::QuantPlan(QuantScheme scheme, int n_layer, bool has_output_tensor, bool llama_rules)
    : scheme_(scheme), n_layer_(n_layer), has_output_(has_output_tensor),
      llama_rules_(llama_rules || scheme == QuantScheme::Q4_K_M || scheme == QuantScheme::Q5_K_M) {}

bool QuantPlan::use_more_bits(int layer, int n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

TensorType QuantPlan::type_for(std::string_view name, const std::vector<int64_t>& dims, TensorType source) const {
    if (dims.size() < 2 || !ends_with(name, ".weight")) return source;
    const TensorType base = quant_scheme_base_type(scheme_);
    const int64_t row = dims[0];
    if (is_float(base)) return base;
    TensorType t = base;
    if (llama_rules_) {
        const bool is_output = name == "output.weight" || (!has_output_ && name == "token_embd.weight");
        const bool mix = scheme_ == QuantScheme::Q4_K_M || scheme_ == QuantScheme::Q5_K_M;
        if (is_output) {
            if (row % tensor_type_traits(base).block_size != 0) {
                t = TensorType::Q8_0;
            } else if (base != TensorType::Q8_0) {
                t = TensorType::Q6_K;
            }
        } else if (mix && (name.find("attn_v.weight") != std::string_view::npos ||
                           name.find("ffn_down") != std::string_view::npos)) {
            const int layer = layer_of(name);
            if (layer >= 0 && use_more_bits(layer, n_layer_)) t = TensorType::Q6_K;
        }
    }
    return fallback(t, row);
}

}  // namespace peregrine
