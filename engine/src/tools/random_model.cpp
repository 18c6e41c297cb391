#include "peregrine/random_model.h"

#include <cmath>
#include <map>

#include "kernels/cpu/quantize.h"
#include "peregrine/error.h"
#include "peregrine/gguf.h"

namespace peregrine {
namespace {

// Fast normal-ish samples (sum of four uniforms, variance-corrected): billions of weights in seconds,
// and the values only need to be well-scaled, not exactly Gaussian.
class WeightRng {
public:
    explicit WeightRng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
    float normal() {
        float sum = 0;
        for (int i = 0; i < 4; ++i) sum += uniform();
        return (sum - 2.0f) * 1.7320508f;  // sqrt(12/4)
    }

private:
    float uniform() {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return static_cast<float>(state_ >> 40) * 0x1.0p-24f;
    }
    uint64_t state_;
};

TensorType storage_type_for_row(TensorType wanted, int64_t row) {
    if (row % tensor_type_traits(wanted).block_size == 0) return wanted;
    if (row % 32 == 0 && tensor_type_traits(wanted).quantized) return TensorType::Q8_0;
    return TensorType::F16;
}

std::vector<uint8_t> encode_rows(TensorType type, const std::vector<float>& values, int64_t row, int64_t rows) {
    std::vector<uint8_t> bytes(tensor_row_size(type, row) * rows);
    for (int64_t r = 0; r < rows; ++r) {
        kernels::cpu::quantize_row_reference(type, values.data() + r * row, bytes.data() + r * tensor_row_size(type, row), row);
    }
    return bytes;
}

}  // namespace

std::vector<std::string> random_model_preset_names() {
    return {"stories-15m", "tinyllama-1.1b", "llama-2-7b", "llama-3-8b", "qwen2-0.5b"};
}

RandomModelSpec random_model_preset(std::string_view name) {
    RandomModelSpec s;
    s.name = std::string(name) + " (random weights)";
    if (name == "stories-15m") {
        s.n_embd = 288; s.n_layer = 6; s.n_head = 6; s.n_head_kv = 6; s.n_ff = 768; s.n_ctx = 256;
    } else if (name == "tinyllama-1.1b") {
        s.n_embd = 2048; s.n_layer = 22; s.n_head = 32; s.n_head_kv = 4; s.n_ff = 5632; s.n_ctx = 2048;
    } else if (name == "llama-2-7b") {
        s.n_embd = 4096; s.n_layer = 32; s.n_head = 32; s.n_head_kv = 32; s.n_ff = 11008; s.n_ctx = 4096;
    } else if (name == "llama-3-8b") {
        s.n_embd = 4096; s.n_layer = 32; s.n_head = 32; s.n_head_kv = 8; s.n_ff = 14336; s.n_ctx = 8192;
        s.rope_freq_base = 500000.0f;
    } else if (name == "qwen2-0.5b") {
        s.architecture = "qwen2";
        s.n_embd = 896; s.n_layer = 24; s.n_head = 14; s.n_head_kv = 2; s.n_ff = 4864; s.n_ctx = 32768;
        s.rope_freq_base = 1000000.0f; s.norm_eps = 1e-6f; s.tied_output = true; s.qkv_bias = true;
    } else {
        std::string known;
        for (const auto& n : random_model_preset_names()) known += (known.empty() ? "" : ", ") + n;
        throw InvalidRequestError("unknown model preset '" + std::string(name) + "' (known: " + known + ")");
    }
    return s;
}

void write_random_model(const RandomModelSpec& spec, const gguf::GgufFile& tokenizer_source,
                        const std::string& out_path, const std::function<void(size_t, size_t)>& progress) {
    if (spec.architecture != "llama" && spec.architecture != "qwen2") {
        throw InvalidRequestError("make-model: architecture must be llama or qwen2, not " + spec.architecture);
    }
    if (spec.n_head <= 0 || spec.n_head_kv <= 0 || spec.n_embd % spec.n_head != 0 || spec.n_head % spec.n_head_kv != 0) {
        throw InvalidRequestError("make-model: n_embd must divide into n_head heads and n_head into n_head_kv groups");
    }
    const std::vector<std::string> tokens = tokenizer_source.get_string_array("tokenizer.ggml.tokens");
    if (tokens.empty()) {
        throw InvalidRequestError(tokenizer_source.path() + ": has no tokenizer.ggml.tokens to copy");
    }
    const int64_t n_vocab = static_cast<int64_t>(tokens.size());
    const int64_t head_dim = spec.n_embd / spec.n_head;
    const int64_t kv_dim = head_dim * spec.n_head_kv;
    const std::string& a = spec.architecture;

    gguf::GgufWriter writer;
    writer.set_string("general.architecture", a);
    writer.set_string("general.name", spec.name);
    writer.set_uint32(a + ".context_length", spec.n_ctx);
    writer.set_uint32(a + ".embedding_length", spec.n_embd);
    writer.set_uint32(a + ".block_count", spec.n_layer);
    writer.set_uint32(a + ".feed_forward_length", spec.n_ff);
    writer.set_uint32(a + ".attention.head_count", spec.n_head);
    writer.set_uint32(a + ".attention.head_count_kv", spec.n_head_kv);
    writer.set_uint32(a + ".rope.dimension_count", static_cast<uint32_t>(head_dim));
    writer.set_float32(a + ".rope.freq_base", spec.rope_freq_base);
    writer.set_float32(a + ".attention.layer_norm_rms_epsilon", spec.norm_eps);
    writer.copy_metadata(tokenizer_source, "tokenizer.");

    WeightRng rng(spec.seed);
    auto random_values = [&](int64_t count, float scale) {
        std::vector<float> v(count);
        for (auto& x : v) x = rng.normal() * scale;
        return v;
    };
    auto add_matrix = [&](const std::string& name, int64_t row, int64_t rows) {
        const TensorType type = storage_type_for_row(spec.weight_type, row);
        // 1/sqrt(fan_in) keeps every layer's outputs at unit scale.
        const auto values = random_values(row * rows, 1.0f / std::sqrt(static_cast<float>(row)));
        writer.add_tensor(name, type, {row, rows}, encode_rows(type, values, row, rows));
    };
    auto add_vector = [&](const std::string& name, int64_t n, float value_scale, bool ones) {
        std::vector<float> v = ones ? std::vector<float>(n, 1.0f) : random_values(n, value_scale);
        writer.add_tensor(name, TensorType::F32, {n},
                          {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)});
    };

    const size_t total = 3 + static_cast<size_t>(spec.n_layer);
    size_t done = 0;
    add_matrix("token_embd.weight", spec.n_embd, n_vocab);
    add_vector("output_norm.weight", spec.n_embd, 0, true);
    if (!spec.tied_output) add_matrix("output.weight", spec.n_embd, n_vocab);
    if (progress) progress(done += 3, total);
    for (int il = 0; il < spec.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        add_vector(p + "attn_norm.weight", spec.n_embd, 0, true);
        add_matrix(p + "attn_q.weight", spec.n_embd, spec.n_embd);
        add_matrix(p + "attn_k.weight", spec.n_embd, kv_dim);
        add_matrix(p + "attn_v.weight", spec.n_embd, kv_dim);
        if (spec.qkv_bias) {
            add_vector(p + "attn_q.bias", spec.n_embd, 0.02f, false);
            add_vector(p + "attn_k.bias", kv_dim, 0.02f, false);
            add_vector(p + "attn_v.bias", kv_dim, 0.02f, false);
        }
        add_matrix(p + "attn_output.weight", spec.n_embd, spec.n_embd);
        add_vector(p + "ffn_norm.weight", spec.n_embd, 0, true);
        add_matrix(p + "ffn_gate.weight", spec.n_embd, spec.n_ff);
        add_matrix(p + "ffn_up.weight", spec.n_embd, spec.n_ff);
        add_matrix(p + "ffn_down.weight", spec.n_ff, spec.n_embd);
        if (progress) progress(++done, total);
    }
    writer.write(out_path);
}

}  // namespace peregrine
