#include "model/hparams.h"

#include <array>
#include <cmath>
#include <optional>
#include <utility>

#include <fmt/format.h>

namespace peregrine {
namespace {

// Bounds well above any released model; they only stop nonsense values early.
constexpr int64_t kMaxEmbd = 1 << 17;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHeads = 1 << 12;
constexpr int64_t kMaxHeadDim = 512;   // kernels::cpu::kMaxAttentionHeadDim
constexpr int64_t kMaxFf = 1 << 20;
constexpr int64_t kMaxCtx = 1 << 24;

struct KeyReader {
    const gguf::GgufFile& file;
    const std::string& arch;

    std::string key(std::string_view suffix) const { return fmt::format("{}.{}", arch, suffix); }

    [[noreturn]] void fail(const std::string& k, const std::string& why) const {
        throw UnsupportedModelError(fmt::format("{}: key '{}' {}", file.path(), k, why));
    }

    int64_t int_in_range(std::string_view suffix, int64_t lo, int64_t hi, std::optional<int64_t> fallback) const {
        const std::string k = key(suffix);
        if (!file.has(k)) {
            if (!fallback) fail(k, "is missing");
            return *fallback;
        }
        const int64_t v = file.get_int(k);
        if (v < lo || v > hi) fail(k, fmt::format("is {}, expected a value in [{}, {}]", v, lo, hi));
        return v;
    }

    float positive_float(std::string_view suffix, float fallback) const {
        const std::string k = key(suffix);
        const double v = file.get_float_or(k, fallback);
        if (!(v > 0.0) || !std::isfinite(v)) fail(k, fmt::format("is {}, expected a positive number", v));
        return static_cast<float>(v);
    }
};

}  // namespace

std::string file_type_name(int64_t file_type) {
    static const std::array<std::pair<int64_t, const char*>, 33> kNames{{
        {0, "F32"},      {1, "F16"},      {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},     {8, "Q5_0"},
        {9, "Q5_1"},     {10, "Q2_K"},    {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"},  {14, "Q4_K_S"},
        {15, "Q4_K_M"},  {16, "Q5_K_S"},  {17, "Q5_K_M"}, {18, "Q6_K"},   {19, "IQ2_XXS"}, {20, "IQ2_XS"},
        {21, "Q2_K_S"},  {22, "IQ3_XS"},  {23, "IQ3_XXS"}, {24, "IQ1_S"}, {25, "IQ4_NL"},  {26, "IQ3_S"},
        {27, "IQ3_M"},   {28, "IQ2_S"},   {29, "IQ2_M"},  {30, "IQ4_XS"}, {31, "IQ1_M"},   {32, "BF16"},
        {36, "TQ1_0"},   {37, "TQ2_0"},   {4, "Q4_1_SOME_F16"},
    }};
    // Quantizers set bit 10 ("guessed") when they inferred the type; the name is the same.
    const int64_t base = file_type & ~int64_t{1024};
    for (const auto& [id, name] : kNames) {
        if (id == base) return name;
    }
    return "unknown";
}

void read_hyperparameters(const gguf::GgufFile& file, ModelInfo& info) {
    if (!file.has("general.architecture")) {
        throw UnsupportedModelError(fmt::format("{}: key 'general.architecture' is missing (not a model file?)",
                                                file.path()));
    }
    info.architecture = file.get_string("general.architecture");
    if (info.architecture != "llama" && info.architecture != "qwen2") {
        throw UnsupportedModelError(fmt::format("{}: architecture '{}' is not supported (supported: llama, qwen2)",
                                                file.path(), info.architecture));
    }
    info.name = file.get_string_or("general.name", "");
    info.file_type = file.has("general.file_type") ? file_type_name(file.get_int("general.file_type")) : "unknown";

    const KeyReader r{file, info.architecture};
    if (r.int_in_range("expert_count", 0, 1 << 16, 0) > 0) {
        r.fail(r.key("expert_count"), "is set: mixture-of-experts models are not supported");
    }
    info.n_ctx_train = static_cast<int>(r.int_in_range("context_length", 1, kMaxCtx, std::nullopt));
    info.n_embd = static_cast<int>(r.int_in_range("embedding_length", 1, kMaxEmbd, std::nullopt));
    info.n_layer = static_cast<int>(r.int_in_range("block_count", 1, kMaxLayers, std::nullopt));
    info.n_ff = static_cast<int>(r.int_in_range("feed_forward_length", 1, kMaxFf, std::nullopt));
    info.n_head = static_cast<int>(r.int_in_range("attention.head_count", 1, kMaxHeads, std::nullopt));
    info.n_head_kv = static_cast<int>(r.int_in_range("attention.head_count_kv", 1, kMaxHeads, info.n_head));
    if (info.n_head % info.n_head_kv != 0) {
        r.fail(r.key("attention.head_count_kv"),
               fmt::format("is {}, which does not divide the {} query heads", info.n_head_kv, info.n_head));
    }

    std::optional<int64_t> default_head_dim;
    if (info.n_embd % info.n_head == 0) default_head_dim = info.n_embd / info.n_head;
    info.head_dim = static_cast<int>(r.int_in_range("attention.key_length", 1, kMaxHeadDim, default_head_dim));
    const int64_t value_length = r.int_in_range("attention.value_length", 1, kMaxHeadDim, info.head_dim);
    if (value_length != info.head_dim) {
        r.fail(r.key("attention.value_length"),
               fmt::format("is {} but key_length is {}: different K and V head sizes are not supported",
                           value_length, info.head_dim));
    }
    info.n_rot = static_cast<int>(r.int_in_range("rope.dimension_count", 2, info.head_dim, info.head_dim));
    if (info.n_rot % 2 != 0) r.fail(r.key("rope.dimension_count"), fmt::format("is {}, expected an even number", info.n_rot));

    info.norm_eps = r.positive_float("attention.layer_norm_rms_epsilon", 1e-5f);
    info.rope_freq_base = r.positive_float("rope.freq_base", 10000.0f);

    // Linear scaling divides positions by the factor; llama.cpp also reads the older rope.scale_linear.
    const std::string scaling_type = file.get_string_or(r.key("rope.scaling.type"), "linear");
    double factor = file.get_float_or(r.key("rope.scaling.factor"), 0.0);
    if (factor == 0.0) factor = file.get_float_or(r.key("rope.scale_linear"), 0.0);
    if (scaling_type == "none") {
        info.rope_freq_scale = 1.0f;
    } else if (scaling_type == "linear") {
        if (factor < 0.0 || !std::isfinite(factor)) {
            r.fail(r.key("rope.scaling.factor"), fmt::format("is {}, expected a positive factor", factor));
        }
        info.rope_freq_scale = factor == 0.0 ? 1.0f : 1.0f / static_cast<float>(factor);
    } else {
        r.fail(r.key("rope.scaling.type"), fmt::format("is '{}': only linear RoPE scaling is supported", scaling_type));
    }
    info.rope_type = info.architecture == "qwen2" ? RopeType::NeoX : RopeType::Normal;
}

}  // namespace peregrine
