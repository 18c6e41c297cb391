#include "peregrine/random_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>
#include <vector>

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

// Values generated and quantized per chunk of rows (memory stays at a few MB for any tensor size).
constexpr int64_t kChunkElements = 4 << 20;

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

    if (const auto ft = quant_scheme_file_type(spec.scheme)) writer.set_uint32("general.file_type", *ft);

    // Declare every tensor (name, type, shape) first; write_streaming then asks for each one's data in
    // order and the generator below produces it, so the values do not depend on the tensor types.
    struct Planned {
        TensorType type;
        int64_t row;
        int64_t rows;
        float scale;  // weights: N(0, scale^2); vectors of ones have scale 0
        bool ones;
    };
    std::vector<Planned> planned;
    const QuantPlan plan(spec.scheme, spec.n_layer, !spec.tied_output, false);
    auto add_matrix = [&](const std::string& name, int64_t row, int64_t rows) {
        const TensorType type = plan.type_for(name, {row, rows}, TensorType::F32);
        writer.declare_tensor(name, type, {row, rows});
        // 1/sqrt(fan_in) keeps every layer's outputs at unit scale.
        planned.push_back({type, row, rows, 1.0f / std::sqrt(static_cast<float>(row)), false});
    };
    auto add_vector = [&](const std::string& name, int64_t n, float value_scale, bool ones) {
        writer.declare_tensor(name, TensorType::F32, {n});
        planned.push_back({TensorType::F32, n, 1, value_scale, ones});
    };

    add_matrix("token_embd.weight", spec.n_embd, n_vocab);
    add_vector("output_norm.weight", spec.n_embd, 0, true);
    if (!spec.tied_output) add_matrix("output.weight", spec.n_embd, n_vocab);
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
    }

    // Values are drawn in order on this thread (so they do not depend on the thread count), a chunk of
    // rows at a time; the chunk is quantized by all cores (the K-quant search is the slow part).
    WeightRng rng(spec.seed);
    const int n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<float> values;
    writer.write_streaming(out_path, [&](size_t index, std::span<uint8_t> data) {
        const Planned& t = planned[index];
        const size_t row_bytes = tensor_row_size(t.type, t.row);
        const int64_t chunk = std::max<int64_t>(1, kChunkElements / t.row);
        for (int64_t r0 = 0; r0 < t.rows; r0 += chunk) {
            const int64_t rows = std::min(chunk, t.rows - r0);
            values.resize(static_cast<size_t>(rows * t.row));
            for (auto& v : values) v = t.ones ? 1.0f : rng.normal() * t.scale;
            const auto quantize = [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                    kernels::cpu::quantize_row_reference(t.type, values.data() + r * t.row,
                                                         data.data() + static_cast<size_t>(r0 + r) * row_bytes, t.row);
                }
            };
            const int nth = static_cast<int>(std::min<int64_t>(n_threads, rows));
            std::vector<std::thread> workers;
            for (int ith = 1; ith < nth; ++ith) workers.emplace_back(quantize, rows * ith / nth, rows * (ith + 1) / nth);
            quantize(0, rows / nth);
            for (auto& w : workers) w.join();
        }
        if (progress) progress(index + 1, planned.size());
    });
}

}  // namespace peregrine
