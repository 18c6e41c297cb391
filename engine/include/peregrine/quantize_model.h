// Model quantization (`peregrine-cli quantize`, and the type mixes of `make-model`): which storage type
// each tensor of a llama-family model gets for a target scheme, and the conversion of a whole GGUF file.
//
// Type choice follows llama-quantize (llama.cpp src/llama-quant.cpp, llama_tensor_get_type) for the dense
// llama/qwen2 models we run:
//   * 1-D tensors (norms, biases) keep their type; every 2-D ".weight" tensor gets the scheme's type;
//   * the output projection (token_embd when the model ties them) gets Q6_K, or Q8_0 when its rows are not
//     a multiple of 256, for every quantized scheme except Q8_0;
//   * Q4_K_M / Q5_K_M: attn_v and ffn_down get Q6_K in the layers where llama.cpp's use_more_bits holds
//     (the first and last eighth of the layers and every third in between);
//   * rows that are not a whole number of blocks fall back: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0,
//     then F16 (llama-quantize refuses other types there; F16 is what stories260K's files use).
// The tensor bytes are those of ggml's reference quantizers (kernels/cpu/quantize.h), so a file we write
// equals llama-quantize's for the same source and type.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "peregrine/tensor_type.h"

namespace peregrine {

enum class QuantScheme { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q4_K_M, Q5_K_M };

// Accepts the names of quant_scheme_name in any case ("q4_k_m", "Q4_K_M", "f16"); nullopt otherwise.
std::optional<QuantScheme> parse_quant_scheme(std::string_view name);
std::string_view quant_scheme_name(QuantScheme scheme);  // "Q4_K_M", "F16", ...
std::string quant_scheme_list();                          // "F32, F16, BF16, Q8_0, ..." for help texts

// The type most weights get (Q4_K for Q4_K_M).
TensorType quant_scheme_base_type(QuantScheme scheme);
// llama.cpp's general.file_type for the scheme; nullopt for the pure K schemes, which llama.cpp has no
// exact file type for (its Q4_K_S and Q5_K_S mix types).
std::optional<uint32_t> quant_scheme_file_type(QuantScheme scheme);

class QuantPlan {
public:
    // llama_rules: also apply llama-quantize's output rule (always on for the _M mixes, which are defined
    // by their rules). Off: every 2-D weight gets the base type (make-model's plain types).
    QuantPlan(QuantScheme scheme, int n_layer, bool has_output_tensor, bool llama_rules);

    // The storage type of tensor `name` with dimensions `dims` (ne0 first) stored as `source`.
    TensorType type_for(std::string_view name, const std::vector<int64_t>& dims, TensorType source) const;

    // llama.cpp's use_more_bits: the layers whose attn_v and ffn_down get Q6_K in the _M mixes.
    static bool use_more_bits(int layer, int n_layer);

private:
    QuantScheme scheme_;
    int n_layer_;
    bool has_output_;
    bool llama_rules_;
};

struct QuantizeProgress {
    size_t tensor_index;   // 0-based, in file order
    size_t tensor_count;
    std::string name;
    TensorType type;       // the type it is written as
    uint64_t bytes_done;   // source bytes converted so far, this tensor included
    uint64_t bytes_total;
};

// Writes `out_path` with every tensor of `in_path` converted for `scheme` (QuantPlan with llama-quantize's
// rules) and its metadata copied, general.file_type and general.quantization_version updated. Source
// weights must be F32, F16 or BF16 (throws InvalidRequestError naming the tensor otherwise; requantizing
// would compound errors). Tensors stream through memory one at a time, converted by n_threads threads
// (0: all cores). Throws GgufError / Error with the file and tensor on bad input or a failed write.
void quantize_model(const std::string& in_path, const std::string& out_path, QuantScheme scheme, int n_threads = 0,
                    const std::function<void(const QuantizeProgress&)>& progress = {});

}  // namespace peregrine
