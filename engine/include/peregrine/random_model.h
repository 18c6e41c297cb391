// Writes GGUF models with a real architecture's shapes and random, well-scaled weights, so benchmarks and
// tests run on realistic shapes without downloading weights (`peregrine-cli make-model`).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "peregrine/quantize_model.h"
#include "peregrine/tensor_type.h"

namespace peregrine {

namespace gguf {
class GgufFile;
}

struct RandomModelSpec {
    std::string architecture = "llama";   // "llama" or "qwen2"
    std::string name;
    int n_embd = 64;
    int n_layer = 2;
    int n_head = 4;
    int n_head_kv = 4;
    int n_ff = 172;
    int n_ctx = 512;
    float rope_freq_base = 10000.0f;
    float norm_eps = 1e-5f;
    bool tied_output = false;
    bool qkv_bias = false;                // qwen2
    // Plain schemes give every matrix that type (with llama-quantize's fallbacks for rows that are not whole
    // blocks); Q4_K_M and Q5_K_M mix types as llama-quantize does (quantize_model.h).
    QuantScheme scheme = QuantScheme::F16;
    uint64_t seed = 42;
};

// Presets with the shapes of well-known models: stories-15m, tinyllama-1.1b, llama-2-7b, llama-3-8b,
// qwen2-0.5b. Throws InvalidRequestError for an unknown name (the message lists the known ones).
RandomModelSpec random_model_preset(std::string_view name);
std::vector<std::string> random_model_preset_names();

// Copies the tokenizer (every tokenizer.* key) from `tokenizer_source`, so n_vocab is that tokenizer's.
// Tensors are generated and written one at a time (memory stays at one tensor however large the model).
// `progress` receives (tensors written, tensors total).
void write_random_model(const RandomModelSpec& spec, const gguf::GgufFile& tokenizer_source,
                        const std::string& out_path,
                        const std::function<void(size_t, size_t)>& progress = {});

}  // namespace peregrine
