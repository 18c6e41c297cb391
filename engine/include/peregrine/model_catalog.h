// The curated model catalogue (models/catalog.json, installed as share/peregrine/catalog.json): small,
// well-known chat models the engine runs, with the Hugging Face repository and file of each
// quantization, so a first run can offer "Qwen2.5 1.5B, Q4_K_M, 940 MiB, fits" without any network.
//
// File format (version 1):
//   { "format": 1, "recommended": "<model id>",
//     "models": [ { "id", "name", "description", "repo", "architecture", "parameters", "context_length",
//                   "n_layer", "n_head_kv", "head_dim", "chat_template", "license", "default_quantization",
//                   "files": [ { "quantization", "file", "size" } ] } ] }
// Every field is required; unknown fields are ignored, so newer catalogues still load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine {

struct CatalogFile {
    std::string quantization;  // "Q4_K_M"
    std::string file;          // path inside the repository
    uint64_t size = 0;         // bytes as the Hub lists them (the download checks the exact size)
};

struct CatalogModel {
    std::string id;             // stable key, e.g. "qwen2.5-1.5b-instruct"
    std::string name;           // for display
    std::string description;
    std::string repo;           // Hugging Face repository id
    std::string architecture;   // "llama" or "qwen2"
    uint64_t parameters = 0;
    int context_length = 0;     // training context
    int n_layer = 0;            // with n_head_kv and head_dim: the KV cache size per token
    int n_head_kv = 0;
    int head_dim = 0;
    std::string chat_template;  // family name as chat_template_family_name() writes it
    std::string license;        // SPDX id or the model's own licence name
    std::string default_quantization;
    std::vector<CatalogFile> files;

    const CatalogFile* file_for(std::string_view quantization) const;
    const CatalogFile& default_file() const;  // the file of default_quantization (validated on load)
};

struct ModelCatalog {
    std::string recommended;  // id of the model to offer first
    std::vector<CatalogModel> models;

    const CatalogModel* find(std::string_view id) const;
};

// Parses catalogue JSON; `origin` names it in errors. Throws peregrine::Error naming the model and field.
ModelCatalog parse_model_catalog(std::string_view json_text, std::string_view origin = "catalog.json");
ModelCatalog load_model_catalog(const std::filesystem::path& path);

// Where the catalogue is: $PEREGRINE_CATALOG when set, else <dir of the running program>/../share/
// peregrine/catalog.json (the installed layout, which the build tree mirrors). Empty when not found.
std::filesystem::path find_model_catalog();

// Memory to run `file` of `model` with an n_ctx-token context: the weights, an f16 KV cache, and a
// margin for activations and the runtime. An estimate for "fits / won't fit", not an allocation plan.
uint64_t estimate_run_bytes(const CatalogModel& model, const CatalogFile& file, int n_ctx);

struct CatalogChoice {
    const CatalogModel* model = nullptr;
    const CatalogFile* file = nullptr;
};

// The first-run recommendation for a machine with `available_bytes` of memory for the model: the
// catalogue's recommended model when its default file fits, else the largest default file that fits;
// nothing when none does.
std::optional<CatalogChoice> recommend_model(const ModelCatalog& catalog, uint64_t available_bytes, int n_ctx = 4096);

}  // namespace peregrine
