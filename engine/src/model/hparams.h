// Hyperparameters of a Llama-family model from GGUF metadata ({arch}.* keys), with llama.cpp's defaults
// for absent keys and range checks that keep hostile values from turning into huge allocations.
#pragma once

#include <cstdint>
#include <string>

#include "peregrine/gguf.h"
#include "peregrine/model.h"

namespace peregrine {

// Fills architecture, name, the shape fields, norm_eps, RoPE settings and file_type of `info`.
// n_vocab and the tensor-derived fields are left to the weight loader.
// Throws UnsupportedModelError naming the file and the key.
void read_hyperparameters(const gguf::GgufFile& file, ModelInfo& info);

// llama.cpp's name of a general.file_type value ("Q4_K_M"), or "unknown".
std::string file_type_name(int64_t file_type);

}  // namespace peregrine
