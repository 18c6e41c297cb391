// The variants of the Llama forward pass, each checked against the plain llama path on a model built
// to be equivalent: a tied output projection (stories260K's output equals its embedding), and the qwen2
// architecture (QKV biases, NeoX RoPE) with zero biases and query/key rows permuted so that NeoX's
// (i, i + n_rot/2) pairs hold what llama's (2i, 2i+1) pairs hold.
#include <QtTest>

#include <cstring>

#include "model_fixtures.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

// Reorders the rows of an f32 [n_rows][n_cols] projection within each head of `head_dim` rows: NeoX
// row i takes llama row 2i, NeoX row i + head_dim/2 takes llama row 2i + 1.
void permute_rows_for_neox(EditableGguf::Tensor& t, int head_dim) {
    const size_t row_bytes = static_cast<size_t>(t.dims[0]) * sizeof(float);
    const int64_t n_rows = t.dims[1];
    std::vector<uint8_t> out(t.data.size());
    for (int64_t head = 0; head < n_rows / head_dim; ++head) {
        for (int i = 0; i < head_dim / 2; ++i) {
            const int64_t base = head * head_dim;
            std::memcpy(&out[(base + i) * row_bytes], &t.data[(base + 2 * i) * row_bytes], row_bytes);
            std::memcpy(&out[(base + head_dim / 2 + i) * row_bytes], &t.data[(base + 2 * i + 1) * row_bytes], row_bytes);
        }
    }
    t.data = std::move(out);
}

EditableGguf::Tensor f32_vector(const std::string& name, int64_t n, float value) {
    std::vector<uint8_t> data(static_cast<size_t>(n) * sizeof(float));
    for (int64_t i = 0; i < n; ++i) std::memcpy(&data[static_cast<size_t>(i) * sizeof(float)], &value, sizeof(float));
    return {name, TensorType::F32, {n}, std::move(data)};
}

// stories260K-f32 as a qwen2 model: biases of the given value, q/k rows reordered for NeoX RoPE.
EditableGguf as_qwen2(float bias) {
    EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
    e.set_string("general.architecture", "qwen2");
    e.rename_key_prefix("llama.", "qwen2.");
    for (int il = 0; il < 5; ++il) {
        const std::string blk = "blk." + std::to_string(il) + ".";
        permute_rows_for_neox(*e.find(blk + "attn_q.weight"), 8);
        permute_rows_for_neox(*e.find(blk + "attn_k.weight"), 8);
        e.tensors.push_back(f32_vector(blk + "attn_q.bias", 64, bias));
        e.tensors.push_back(f32_vector(blk + "attn_k.bias", 32, bias));
        e.tensors.push_back(f32_vector(blk + "attn_v.bias", 32, bias));
    }
    return e;
}

std::vector<float> greedy_logits(const std::shared_ptr<const Model>& model, int n_steps) {
    Context ctx(model, small_context());
    std::vector<float> all = prefill(ctx, 0, kOnceUponATime);
    std::vector<float> logits = all;
    for (int i = 0; i < n_steps; ++i) {
        Batch b;
        b.add(0, ctx.sequence_length(0), argmax(logits), true);
        const auto next = ctx.decode(b);
        logits.assign(next.begin(), next.end());
        all.insert(all.end(), logits.begin(), logits.end());
    }
    return all;
}

}  // namespace

class TestArchitectures : public QObject {
    Q_OBJECT

private slots:
    void tied_output_matches_separate_output() {
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        e.remove_tensor("output.weight");
        const auto tied = e.load();
        QVERIFY(tied->info().tied_output);
        QCOMPARE(greedy_logits(tied, 8), greedy_logits(load_model("stories260K-f32.gguf"), 8));
    }

    void qwen2_neox_matches_llama() {
        const auto qwen = as_qwen2(0.0f).load();
        QCOMPARE(qwen->info().architecture, std::string("qwen2"));
        QVERIFY(qwen->info().rope_type == RopeType::NeoX);
        QVERIFY(qwen->info().qkv_bias);
        const std::vector<float> a = greedy_logits(qwen, 8);
        const std::vector<float> b = greedy_logits(load_model("stories260K-f32.gguf"), 8);
        qInfo("max |dlogit| qwen2/NeoX vs llama: %.2e", max_abs_diff(a, b));
        QVERIFY(max_abs_diff(a, b) <= 1e-5);
    }

    void qwen2_biases_are_applied() {
        const std::vector<float> zero = greedy_logits(as_qwen2(0.0f).load(), 0);
        const std::vector<float> biased = greedy_logits(as_qwen2(0.25f).load(), 0);
        QVERIFY(max_abs_diff(zero, biased) > 1e-3);
    }

    void linear_rope_scaling() {
        // rope.scaling.type linear with factor 2 is read as freq_scale 1/2, which changes every angle.
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        e.metadata.emplace_back("llama.rope.scaling.type", gguf::Value{gguf::ValueType::STRING, std::string("linear")});
        e.metadata.emplace_back("llama.rope.scaling.factor", gguf::Value{gguf::ValueType::FLOAT32, 2.0});
        const auto scaled = e.load();
        QCOMPARE(scaled->info().rope_freq_scale, 0.5f);
        QVERIFY(max_abs_diff(greedy_logits(scaled, 0), greedy_logits(load_model("stories260K-f32.gguf"), 0)) > 1e-3);
    }
};

QTEST_GUILESS_MAIN(TestArchitectures)
#include "tst_architectures.moc"
