#include "peregrine/model.h"

#include <fstream>
#include <iterator>
#include <vector>

#include <fmt/format.h>

#include "model/hparams.h"
#include "model/model_weights.h"
#include "model/weight_loader.h"
#include "peregrine/log.h"

namespace peregrine {
namespace {

std::unique_ptr<gguf::GgufFile> read_into_memory(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw GgufError(fmt::format("{}: cannot open the file", path));
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw GgufError(fmt::format("{}: read error", path));
    return gguf::GgufFile::from_bytes(bytes, path);
}

}  // namespace

Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& path, const ModelParams& params) {
    return from_gguf(params.use_mmap ? gguf::GgufFile::open(path) : read_into_memory(path));
}

std::shared_ptr<const Model> Model::from_gguf(std::unique_ptr<gguf::GgufFile> file) {
    std::shared_ptr<Model> model(new Model());
    model->file_ = std::move(file);
    read_hyperparameters(*model->file_, model->info_);
    model->weights_ = std::make_unique<ModelWeights>(load_weights(*model->file_, model->info_));
    const ModelInfo& i = model->info_;
    log_info("{}: {} '{}', {} layers, n_embd {}, heads {}/{} (head_dim {}), n_ff {}, vocab {}, {} params, {}",
             model->file_->path(), i.architecture, i.name, i.n_layer, i.n_embd, i.n_head, i.n_head_kv, i.head_dim,
             i.n_ff, i.n_vocab, i.n_params, i.file_type);
    return model;
}

size_t Model::kv_cache_bytes(int n_ctx) const {
    if (n_ctx <= 0) return 0;
    // K and V, every layer, one f16 row of n_embd_kv per position.
    return size_t{2} * static_cast<size_t>(info_.n_layer) * static_cast<size_t>(n_ctx) *
           static_cast<size_t>(info_.n_embd_kv()) * sizeof(uint16_t);
}

}  // namespace peregrine
