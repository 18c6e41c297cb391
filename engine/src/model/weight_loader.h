// Finds and validates every tensor a Llama-family forward pass reads: presence, shape and storage type,
// against the hyperparameters. The first problem ends in UnsupportedModelError naming the tensor and
// the expected versus actual shape or type.
#pragma once

#include "model/model_weights.h"
#include "peregrine/gguf.h"
#include "peregrine/model.h"

namespace peregrine {

// Also fills info.n_vocab (rows of token_embd), tied_output, qkv_bias, n_params, weight_bytes and
// tensor_type_counts.
ModelWeights load_weights(const gguf::GgufFile& file, ModelInfo& info);

}  // namespace peregrine
