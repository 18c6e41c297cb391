// Views of a model's weights inside the mapped GGUF file. Nothing is copied: every view points at the
// tensor's bytes in the mapping, which lives as long as the Model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "peregrine/tensor_type.h"

namespace peregrine {

// A matrix of n_rows rows of n_cols elements (ggml: ne0 = n_cols, ne1 = n_rows); vectors have n_rows 1.
struct WeightView {
    std::string name;               // tensor name, for error messages
    TensorType type = TensorType::F32;
    const uint8_t* data = nullptr;  // null: the optional tensor is absent
    int64_t n_cols = 0;
    int64_t n_rows = 0;
    size_t row_bytes = 0;

    bool present() const { return data != nullptr; }
    const float* f32() const { return reinterpret_cast<const float*>(data); }  // only for F32 views
};

struct LayerWeights {
    WeightView attn_norm;   // [n_embd] f32
    WeightView wq;          // [n_embd_q rows][n_embd cols]
    WeightView wk;          // [n_embd_kv][n_embd]
    WeightView wv;          // [n_embd_kv][n_embd]
    WeightView wo;          // [n_embd][n_embd_q]
    WeightView bq, bk, bv;  // [n_embd_q], [n_embd_kv], [n_embd_kv] f32; required for qwen2, else optional
    WeightView bo;          // [n_embd] f32, optional
    WeightView ffn_norm;    // [n_embd] f32
    WeightView ffn_gate;    // [n_ff][n_embd]
    WeightView ffn_up;      // [n_ff][n_embd]
    WeightView ffn_down;    // [n_embd][n_ff]
};

struct ModelWeights {
    WeightView token_embd;   // [n_vocab][n_embd]
    WeightView output_norm;  // [n_embd] f32
    WeightView output;       // [n_vocab][n_embd]; token_embd itself when the model ties them
    WeightView rope_freqs;   // [n_rot / 2] f32 angle divisors (Llama 3.1 style), optional
    std::vector<LayerWeights> layers;
};

}  // namespace peregrine
