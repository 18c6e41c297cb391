// A loaded Llama-family model: hyperparameters read from GGUF metadata and validated weight views that
// point straight into the memory-mapped file (no copies). Supported: general.architecture "llama"
// (Llama 1/2/3, Mistral, TinyLlama, SmolLM) and "qwen2" (QKV biases, NeoX RoPE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "peregrine/gguf.h"

namespace peregrine {

enum class RopeType { Normal, NeoX };   // Normal: adjacent pairs (llama); NeoX: halves (qwen2)

struct ModelParams {
    bool use_mmap = true;   // false: the file is read into memory instead of mapped
};

struct ModelInfo {
    std::string architecture, name;     // general.architecture, general.name
    int n_vocab = 0, n_ctx_train = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0,
        n_ff = 0, n_rot = 0;
    float norm_eps = 0, rope_freq_base = 0, rope_freq_scale = 1;  // freq_scale = 1/linear scaling factor
    RopeType rope_type = RopeType::Normal;
    bool tied_output = false;           // no output.weight: token_embd is reused
    bool qkv_bias = false;              // qwen2
    uint64_t n_params = 0;              // total elements of all tensors
    uint64_t weight_bytes = 0;          // bytes of tensor data
    std::string file_type;              // e.g. "Q4_K_M" from general.file_type, or "unknown"
    std::map<std::string, int> tensor_type_counts;  // "q4_0" -> 15

    int n_embd_q() const { return n_head * head_dim; }      // width of the query projection
    int n_embd_kv() const { return n_head_kv * head_dim; }  // width of the key/value projections
};

struct ModelWeights;  // engine-internal (model/model_weights.h)

class Model {
public:
    // Throws GgufError / UnsupportedModelError (architecture, missing tensor, wrong shape: name it).
    static std::shared_ptr<const Model> load(const std::string& path, const ModelParams& params = {});
    // Same checks on an already opened file (tests build models in memory with gguf::GgufWriter).
    static std::shared_ptr<const Model> from_gguf(std::unique_ptr<gguf::GgufFile> file);

    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ModelInfo& info() const { return info_; }
    const gguf::GgufFile& gguf() const { return *file_; }
    size_t kv_cache_bytes(int n_ctx) const;   // f16 K+V for n_ctx positions of one sequence
    const ModelWeights& weights() const { return *weights_; }

private:
    Model() = default;

    std::unique_ptr<gguf::GgufFile> file_;
    ModelInfo info_;
    std::unique_ptr<ModelWeights> weights_;
};

}  // namespace peregrine
