#include "model/weight_loader.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "peregrine/log.h"

namespace peregrine {
namespace {

constexpr int64_t kMaxVocab = 1 << 22;

bool is_matmul_type(TensorType type) {
    switch (type) {
        case TensorType::F32: case TensorType::F16: case TensorType::BF16:
        case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
        case TensorType::Q8_0: case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K:
        case TensorType::Q5_K: case TensorType::Q6_K:
            return true;
        default:
            return false;
    }
}

enum class Kind { Matrix, F32Vector };

class TensorChecker {
public:
    explicit TensorChecker(const gguf::GgufFile& file) : file_(file) {}

    // A required tensor of the given shape ({n_cols} for vectors, {n_cols, n_rows} for matrices).
    WeightView require(const std::string& name, Kind kind, std::initializer_list<int64_t> shape) const {
        const gguf::TensorInfo* t = file_.find_tensor(name);
        if (t == nullptr) {
            throw UnsupportedModelError(fmt::format("{}: tensor '{}' is missing (expected shape [{}])", file_.path(),
                                                    name, fmt::join(shape, ", ")));
        }
        return check(*t, kind, shape);
    }

    // An optional tensor: absent gives an empty view, present must have the shape.
    WeightView optional(const std::string& name, Kind kind, std::initializer_list<int64_t> shape) const {
        const gguf::TensorInfo* t = file_.find_tensor(name);
        return t == nullptr ? WeightView{name} : check(*t, kind, shape);
    }

private:
    WeightView check(const gguf::TensorInfo& t, Kind kind, std::initializer_list<int64_t> shape) const {
        // Compare in ggml's 4-D form: trailing dimensions of 1 are implied.
        std::array<int64_t, 4> want{1, 1, 1, 1};
        std::array<int64_t, 4> have{1, 1, 1, 1};
        std::copy(shape.begin(), shape.end(), want.begin());
        const bool too_many_dims = t.dims.size() > 4;
        if (!too_many_dims) std::copy(t.dims.begin(), t.dims.end(), have.begin());
        if (too_many_dims || want != have) {
            throw UnsupportedModelError(fmt::format("{}: tensor '{}' has shape [{}], expected [{}]", file_.path(), t.name,
                                                    fmt::join(t.dims, ", "), fmt::join(shape, ", ")));
        }
        if (kind == Kind::F32Vector && t.type != TensorType::F32) {
            throw UnsupportedModelError(fmt::format("{}: tensor '{}' has type {}, expected f32", file_.path(), t.name,
                                                    tensor_type_name(t.type)));
        }
        if (kind == Kind::Matrix && !is_matmul_type(t.type)) {
            throw UnsupportedModelError(fmt::format(
                "{}: tensor '{}' has type {}, which the engine cannot multiply (supported: f32, f16, bf16, q4_0, "
                "q4_1, q5_0, q5_1, q8_0, q2_K..q6_K)",
                file_.path(), t.name, tensor_type_name(t.type)));
        }
        if (reinterpret_cast<uintptr_t>(t.data) % 4 != 0) {
            throw UnsupportedModelError(fmt::format("{}: tensor '{}' data is not 4-byte aligned (offset {})",
                                                    file_.path(), t.name, t.offset));
        }
        WeightView v;
        v.name = t.name;
        v.type = t.type;
        v.data = t.data;
        v.n_cols = have[0];
        v.n_rows = have[1];
        v.row_bytes = tensor_row_size(t.type, v.n_cols);
        return v;
    }

    const gguf::GgufFile& file_;
};

void count_tensors(const gguf::GgufFile& file, ModelInfo& info) {
    info.n_params = 0;
    info.weight_bytes = 0;
    info.tensor_type_counts.clear();
    for (const auto& t : file.tensors()) {
        info.n_params += static_cast<uint64_t>(t.n_elements);
        info.weight_bytes += t.n_bytes;
        ++info.tensor_type_counts[std::string(tensor_type_name(t.type))];
    }
}

}  // namespace

ModelWeights load_weights(const gguf::GgufFile& file, ModelInfo& info) {
    const TensorChecker check(file);
    const int64_t n_embd = info.n_embd;
    const int64_t n_embd_q = info.n_embd_q();
    const int64_t n_embd_kv = info.n_embd_kv();
    const int64_t n_ff = info.n_ff;

    ModelWeights w;
    // The vocabulary size is whatever token_embd holds; check its width first, then its row count.
    const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
    const int64_t n_vocab = embd != nullptr && embd->dims.size() >= 2 ? embd->dims[1] : 0;
    if (embd != nullptr && (n_vocab < 1 || n_vocab > kMaxVocab)) {
        throw UnsupportedModelError(fmt::format("{}: tensor 'token_embd.weight' has {} rows, expected a vocabulary of "
                                                "1 to {} tokens", file.path(), n_vocab, kMaxVocab));
    }
    w.token_embd = check.require("token_embd.weight", Kind::Matrix, {n_embd, std::max<int64_t>(n_vocab, 1)});
    info.n_vocab = static_cast<int>(n_vocab);

    w.output_norm = check.require("output_norm.weight", Kind::F32Vector, {n_embd});
    w.output = check.optional("output.weight", Kind::Matrix, {n_embd, n_vocab});
    info.tied_output = !w.output.present();
    if (info.tied_output) w.output = w.token_embd;
    w.rope_freqs = check.optional("rope_freqs.weight", Kind::F32Vector, {info.n_rot / 2});

    const bool qwen2 = info.architecture == "qwen2";
    w.layers.resize(static_cast<size_t>(info.n_layer));
    for (int il = 0; il < info.n_layer; ++il) {
        LayerWeights& l = w.layers[static_cast<size_t>(il)];
        const auto name = [il](const char* part) { return fmt::format("blk.{}.{}", il, part); };
        l.attn_norm = check.require(name("attn_norm.weight"), Kind::F32Vector, {n_embd});
        l.wq = check.require(name("attn_q.weight"), Kind::Matrix, {n_embd, n_embd_q});
        l.wk = check.require(name("attn_k.weight"), Kind::Matrix, {n_embd, n_embd_kv});
        l.wv = check.require(name("attn_v.weight"), Kind::Matrix, {n_embd, n_embd_kv});
        l.wo = check.require(name("attn_output.weight"), Kind::Matrix, {n_embd_q, n_embd});
        if (qwen2) {
            l.bq = check.require(name("attn_q.bias"), Kind::F32Vector, {n_embd_q});
            l.bk = check.require(name("attn_k.bias"), Kind::F32Vector, {n_embd_kv});
            l.bv = check.require(name("attn_v.bias"), Kind::F32Vector, {n_embd_kv});
        } else {
            l.bq = check.optional(name("attn_q.bias"), Kind::F32Vector, {n_embd_q});
            l.bk = check.optional(name("attn_k.bias"), Kind::F32Vector, {n_embd_kv});
            l.bv = check.optional(name("attn_v.bias"), Kind::F32Vector, {n_embd_kv});
        }
        l.bo = check.optional(name("attn_output.bias"), Kind::F32Vector, {n_embd});
        l.ffn_norm = check.require(name("ffn_norm.weight"), Kind::F32Vector, {n_embd});
        l.ffn_gate = check.require(name("ffn_gate.weight"), Kind::Matrix, {n_embd, n_ff});
        l.ffn_up = check.require(name("ffn_up.weight"), Kind::Matrix, {n_embd, n_ff});
        l.ffn_down = check.require(name("ffn_down.weight"), Kind::Matrix, {n_ff, n_embd});
    }
    info.qkv_bias = !w.layers.empty() && w.layers[0].bq.present();

    count_tensors(file, info);
    return w;
}

}  // namespace peregrine
