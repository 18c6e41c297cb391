// Model::load on the shared GGUF files: hyperparameters and tensor statistics against the facts in
// shared/models/README.md, the KV cache size, and the load-time validation that turns unsupported
// architectures and missing or mis-shaped tensors into UnsupportedModelError naming the culprit.
#include <QtTest>

#include <cstring>
#include <map>
#include <string>

#include "model_fixtures.h"
#include "peregrine/error.h"
#include "peregrine/model.h"

using namespace peregrine;
using peregrine::test::EditableGguf;

namespace {

using TypeCounts = std::map<std::string, int>;

// Expects `fn` to throw UnsupportedModelError whose message contains every string in `needles`.
template <typename Fn>
void expect_unsupported(Fn&& fn, std::initializer_list<const char*> needles) {
    try {
        fn();
        QFAIL("expected UnsupportedModelError, nothing was thrown");
    } catch (const UnsupportedModelError& e) {
        const QString msg = QString::fromUtf8(e.what());
        for (const char* n : needles) QVERIFY2(msg.contains(QString::fromUtf8(n)), qPrintable("message: " + msg));
    }
}

}  // namespace

Q_DECLARE_METATYPE(TypeCounts)

class TestModelLoad : public QObject {
    Q_OBJECT

private slots:
    void stories_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("file_type");
        QTest::addColumn<quint64>("weight_bytes");
        QTest::addColumn<TypeCounts>("types");
        // 48 tensors: token_embd, output_norm, output and 9 per block; 11 of them are norms (f32).
        QTest::newRow("f32") << "stories260K-f32.gguf" << "unknown" << quint64(292800 * 4)
                             << TypeCounts{{"f32", 48}};
        QTest::newRow("f16") << "stories260K-f16.gguf" << "F16" << quint64(704 * 4 + (292800 - 704) * 2)
                             << TypeCounts{{"f32", 11}, {"f16", 37}};
        QTest::newRow("q8_0") << "stories260K-q8_0.gguf" << "Q8_0" << quint64(0)
                              << TypeCounts{{"f32", 11}, {"f16", 5}, {"q8_0", 32}};
        QTest::newRow("q4_0") << "stories260K-q4_0.gguf" << "Q4_0" << quint64(0)
                              << TypeCounts{{"f32", 11}, {"f16", 5}, {"q8_0", 1}, {"q4_0", 31}};
        QTest::newRow("q4_k_m") << "stories260K-q4_k_m.gguf" << "Q4_K_M" << quint64(0)
                                << TypeCounts{{"f32", 11}, {"f16", 5}, {"q8_0", 3}, {"q5_0", 29}};
    }

    void stories() {
        QFETCH(QString, file);
        QFETCH(QString, file_type);
        QFETCH(quint64, weight_bytes);
        QFETCH(TypeCounts, types);
        const auto model = test::load_model(file.toStdString());
        const ModelInfo& i = model->info();
        QCOMPARE(i.architecture, std::string("llama"));
        QCOMPARE(i.n_vocab, 512);
        QCOMPARE(i.n_ctx_train, 512);
        QCOMPARE(i.n_embd, 64);
        QCOMPARE(i.n_layer, 5);
        QCOMPARE(i.n_head, 8);
        QCOMPARE(i.n_head_kv, 4);
        QCOMPARE(i.head_dim, 8);
        QCOMPARE(i.n_rot, 8);
        QCOMPARE(i.n_ff, 172);
        QCOMPARE(i.norm_eps, 1e-5f);
        QCOMPARE(i.rope_freq_base, 10000.0f);   // key absent: llama.cpp's default
        QCOMPARE(i.rope_freq_scale, 1.0f);
        QVERIFY(i.rope_type == RopeType::Normal);
        QVERIFY(!i.tied_output);                 // output.weight is its own tensor
        QVERIFY(!i.qkv_bias);
        QCOMPARE(i.n_params, uint64_t{292800});
        QCOMPARE(QString::fromStdString(i.file_type), file_type);
        QCOMPARE(i.tensor_type_counts, types);
        uint64_t bytes = 0;
        for (const auto& t : model->gguf().tensors()) bytes += t.n_bytes;
        QCOMPARE(i.weight_bytes, bytes);
        if (weight_bytes != 0) QCOMPARE(i.weight_bytes, uint64_t{weight_bytes});
        QVERIFY(i.weight_bytes < model->gguf().file_size());
        // K and V, 5 layers, 4 kv heads x 8 dims, 2 bytes each, per position.
        QCOMPARE(model->kv_cache_bytes(512), size_t{2 * 5 * 512 * 32 * 2});
        QCOMPARE(model->kv_cache_bytes(1), size_t{640});
        QCOMPARE(model->kv_cache_bytes(0), size_t{0});
    }

    void tiny_random() {
        const auto model = test::load_model("llama-2-tiny-random.gguf");
        const ModelInfo& i = model->info();
        QCOMPARE(i.architecture, std::string("llama"));
        QCOMPARE(i.n_vocab, 32000);
        QCOMPARE(i.n_ctx_train, 4096);
        QCOMPARE(i.n_embd, 8);
        QCOMPARE(i.n_layer, 1);
        QCOMPARE(i.n_head, 2);
        QCOMPARE(i.n_head_kv, 2);
        QCOMPARE(i.head_dim, 4);
        QCOMPARE(i.n_rot, 4);
        QCOMPARE(i.n_ff, 32);
        QCOMPARE(i.file_type, std::string("F16"));
        QCOMPARE(model->kv_cache_bytes(4096), size_t{2 * 1 * 4096 * 8 * 2});
    }

    void without_mmap_same_info() {
        ModelParams params;
        params.use_mmap = false;
        const auto copied = Model::load(test::model_path("stories260K-q4_0.gguf"), params);
        const auto mapped = test::load_model("stories260K-q4_0.gguf");
        QCOMPARE(copied->info().n_params, mapped->info().n_params);
        QCOMPARE(copied->info().tensor_type_counts, mapped->info().tensor_type_counts);
    }

    void missing_file() {
        QVERIFY_THROWS_EXCEPTION(GgufError, Model::load(test::model_path("no-such-model.gguf")));
    }

    void unsupported_architecture() {
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        e.set_string("general.architecture", "gpt2");
        expect_unsupported([&] { e.load(); }, {"gpt2", "not supported"});
    }

    void vocab_only_file_is_not_a_model() {
        // A tokenizer-only GGUF has an architecture but no tensors: the first one missing is named.
        expect_unsupported([] { Model::load(test::vocab_path("ggml-vocab-llama-spm.gguf")); },
                           {"token_embd.weight", "missing"});
    }

    void missing_key() {
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        e.remove_key("llama.embedding_length");
        expect_unsupported([&] { e.load(); }, {"llama.embedding_length", "missing"});
    }

    void missing_tensor_data() {
        QTest::addColumn<QString>("tensor");
        QTest::newRow("ffn_up") << "blk.3.ffn_up.weight";
        QTest::newRow("attn_norm") << "blk.0.attn_norm.weight";
        QTest::newRow("output_norm") << "output_norm.weight";
        QTest::newRow("token_embd") << "token_embd.weight";
    }
    void missing_tensor() {
        QFETCH(QString, tensor);
        EditableGguf e = EditableGguf::from_model_file("stories260K-q4_0.gguf");
        e.remove_tensor(tensor.toStdString());
        expect_unsupported([&] { e.load(); }, {qPrintable(tensor), "missing"});
    }

    void wrong_shape() {
        // blk.1.attn_k must be [64, 32] (4 kv heads x 8); give it attn_q's [64, 64].
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        EditableGguf::Tensor* k = e.find("blk.1.attn_k.weight");
        const EditableGguf::Tensor* q = e.find("blk.1.attn_q.weight");
        QVERIFY(k && q);
        k->dims = q->dims;
        k->data = q->data;
        expect_unsupported([&] { e.load(); }, {"blk.1.attn_k.weight", "[64, 64]", "expected [64, 32]"});
    }

    void wrong_type_for_norm() {
        // Norm weights are read as f32; an f16 norm is refused by name.
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        EditableGguf::Tensor* t = e.find("blk.2.ffn_norm.weight");
        t->type = TensorType::F16;
        t->data.resize(t->data.size() / 2);
        expect_unsupported([&] { e.load(); }, {"blk.2.ffn_norm.weight", "f16", "expected f32"});
    }

    void inconsistent_head_count() {
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        e.remove_key("llama.attention.head_count_kv");
        e.metadata.emplace_back("llama.attention.head_count_kv", gguf::Value{gguf::ValueType::UINT32, uint64_t{3}});
        expect_unsupported([&] { e.load(); }, {"llama.attention.head_count_kv", "3"});
    }

    void tied_output_loads() {
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        e.remove_tensor("output.weight");
        const auto model = e.load();
        QVERIFY(model->info().tied_output);
        QCOMPARE(model->info().n_params, uint64_t{292800 - 512 * 64});
    }

    void qwen2_requires_biases() {
        EditableGguf e = EditableGguf::from_model_file("stories260K-f32.gguf");
        e.set_string("general.architecture", "qwen2");
        e.rename_key_prefix("llama.", "qwen2.");
        expect_unsupported([&] { e.load(); }, {"blk.0.attn_q.bias", "missing"});
    }
};

QTEST_GUILESS_MAIN(TestModelLoad)
#include "tst_model_load.moc"
