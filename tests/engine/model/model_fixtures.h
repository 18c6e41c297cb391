// Test fixtures for the model tests: editable in-memory copies of the shared GGUF models (built with
// gguf::GgufWriter, never written into the repository) and small helpers around Context.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "peregrine/batch.h"
#include "peregrine/context.h"
#include "peregrine/gguf.h"
#include "peregrine/model.h"
#include "support/test_paths.h"

namespace peregrine::test {

// A GGUF file's metadata and tensors, copied so that a test can drop, change or add any of them and
// load the result as a Model.
class EditableGguf {
public:
    struct Tensor {
        std::string name;
        TensorType type;
        std::vector<int64_t> dims;
        std::vector<uint8_t> data;
    };

    static EditableGguf from_model_file(const std::string& file) {
        const auto src = gguf::GgufFile::open(model_path(file));
        EditableGguf e;
        for (const auto& [key, value] : src->metadata()) {
            if (key != "general.alignment") e.metadata.emplace_back(key, value);
        }
        for (const auto& t : src->tensors()) {
            e.tensors.push_back({t.name, t.type, t.dims, std::vector<uint8_t>(t.data, t.data + t.n_bytes)});
        }
        return e;
    }

    Tensor* find(const std::string& name) {
        const auto it = std::find_if(tensors.begin(), tensors.end(), [&](const Tensor& t) { return t.name == name; });
        return it == tensors.end() ? nullptr : &*it;
    }
    void remove_tensor(const std::string& name) {
        std::erase_if(tensors, [&](const Tensor& t) { return t.name == name; });
    }
    void remove_key(const std::string& key) {
        std::erase_if(metadata, [&](const auto& kv) { return kv.first == key; });
    }
    void set_string(const std::string& key, const std::string& value) {
        remove_key(key);
        metadata.emplace_back(key, gguf::Value{gguf::ValueType::STRING, value});
    }
    // Renames every key that starts with `from` (e.g. "llama." -> "qwen2.").
    void rename_key_prefix(const std::string& from, const std::string& to) {
        for (auto& [key, value] : metadata) {
            if (key.rfind(from, 0) == 0) key = to + key.substr(from.size());
        }
    }

    std::shared_ptr<const Model> load(const std::string& name = "edited.gguf") const {
        gguf::GgufWriter w;
        for (const auto& [key, value] : metadata) w.set(key, value);
        for (const auto& t : tensors) w.add_tensor(t.name, t.type, t.dims, t.data);
        return Model::from_gguf(gguf::GgufFile::from_bytes(w.to_bytes(), name));
    }

    std::vector<std::pair<std::string, gguf::Value>> metadata;
    std::vector<Tensor> tensors;
};

inline std::shared_ptr<const Model> load_model(const std::string& file) { return Model::load(model_path(file)); }

inline ContextParams small_context(int n_ctx = 256, int n_seq_max = 4, int block_size = 16) {
    ContextParams p;
    p.n_ctx = n_ctx;
    p.n_seq_max = n_seq_max;
    p.kv_block_size = block_size;
    p.n_threads = 2;
    return p;
}

// Feeds `tokens` to sequence `seq` starting at `pos0` as one batch; only the last row wants logits.
inline std::vector<float> prefill(Context& ctx, int32_t seq, const std::vector<int32_t>& tokens, int32_t pos0 = 0) {
    Batch b;
    for (size_t i = 0; i < tokens.size(); ++i) {
        b.add(seq, pos0 + static_cast<int32_t>(i), tokens[i], i + 1 == tokens.size());
    }
    const std::span<const float> logits = ctx.decode(b);
    return {logits.begin(), logits.end()};
}

inline int32_t argmax(std::span<const float> logits) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

inline double max_abs_diff(std::span<const float> a, std::span<const float> b) {
    double d = a.size() == b.size() ? 0.0 : 1e30;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
    return d;
}

// stories260K prompts from the golden files (BOS included).
inline const std::vector<int32_t> kOnceUponATime = {1, 403, 407, 261, 378};
inline const std::vector<int32_t> kLilyWantedTo = {1, 317, 391, 266, 267};
inline const std::vector<int32_t> kSaraAndBen = {1, 301, 295, 412, 269, 368, 302, 382, 276, 329, 356, 374, 419, 426};

}  // namespace peregrine::test
