// quantize_model and its type plan (peregrine/quantize_model.h), and make-model's type mixes:
//  * stories260K-f32 quantized to F16, Q8_0, Q4_0 and Q4_K_M gives, tensor for tensor, the types and bytes
//    of the files llama.cpp's tools wrote from it (shared/models; the README says how each was made);
//  * every scheme's round trip (quantize, then dequantize) stays within a stated error bound on
//    Gaussian weights;
//  * the plan picks llama-quantize's types for a TinyLlama-shaped model (Q6_K layers of Q4_K_M, output
//    rules, fallbacks) and make-model writes exactly the planned types;
//  * bad input fails with an error that names the problem.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "kernels/cpu/dequantize.h"
#include "peregrine/error.h"
#include "peregrine/gguf.h"
#include "peregrine/model.h"
#include "peregrine/quantize_model.h"
#include "peregrine/random_model.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

std::vector<float> dequantize(const gguf::TensorInfo& t) {
    std::vector<float> out(static_cast<size_t>(t.n_elements));
    const int64_t n = t.dims[0];
    const size_t row_bytes = tensor_row_size(t.type, n);
    for (int64_t r = 0; r < t.n_elements / n; ++r) {
        kernels::cpu::dequantize_row(t.type, t.data + r * row_bytes, out.data() + r * n, n);
    }
    return out;
}

// A llama-shaped F32 file with Gaussian weights (std 0.02, like trained projections) in a few 2-D tensors
// whose rows suit every block type, plus a norm.
std::string write_gaussian_source(const QString& dir) {
    gguf::GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_uint32("llama.block_count", 1);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.f, 0.02f);
    const auto add = [&](const std::string& name, std::vector<int64_t> dims) {
        int64_t count = 1;
        for (int64_t d : dims) count *= d;
        std::vector<float> v(static_cast<size_t>(count));
        for (auto& x : v) x = name.find("norm") != std::string::npos ? 1.0f : normal(rng);
        w.add_tensor(name, TensorType::F32, dims, {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)});
    };
    add("blk.0.attn_q.weight", {1024, 64});
    add("blk.0.ffn_down.weight", {2048, 32});
    add("blk.0.attn_norm.weight", {1024});
    const std::string path = (dir + "/gaussian-f32.gguf").toStdString();
    w.write(path);
    return path;
}

}  // namespace

class TestQuantizeModel : public QObject {
    Q_OBJECT

private slots:
    void matchesLlamaCppFiles_data() {
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<QString>("reference");
        QTest::newRow("F16") << "F16" << "stories260K-f16.gguf";
        QTest::newRow("Q8_0") << "Q8_0" << "stories260K-q8_0.gguf";
        QTest::newRow("Q4_0") << "Q4_0" << "stories260K-q4_0.gguf";
        QTest::newRow("Q4_K_M") << "Q4_K_M" << "stories260K-q4_k_m.gguf";
    }
    void matchesLlamaCppFiles() {
        QFETCH(QString, scheme);
        QFETCH(QString, reference);
        QTemporaryDir dir;
        const std::string out = dir.filePath("out.gguf").toStdString();
        quantize_model(test::model_path("stories260K-f32.gguf"), out, *parse_quant_scheme(scheme.toStdString()), 2);
        const auto ours = gguf::GgufFile::open(out);
        const auto ref = gguf::GgufFile::open(test::model_path(reference.toStdString()));
        QCOMPARE(ours->get_int("general.file_type"), ref->get_int("general.file_type"));
        QCOMPARE(ours->tensors().size(), ref->tensors().size());
        for (const auto& r : ref->tensors()) {
            const gguf::TensorInfo* t = ours->find_tensor(r.name);
            QVERIFY2(t != nullptr, r.name.c_str());
            QVERIFY2(t->type == r.type, qPrintable(QString("%1: %2, llama.cpp %3").arg(r.name.c_str())
                                                       .arg(tensor_type_name(t->type).data())
                                                       .arg(tensor_type_name(r.type).data())));
            QCOMPARE(t->dims, r.dims);
            QVERIFY2(t->n_bytes == r.n_bytes && std::memcmp(t->data, r.data, r.n_bytes) == 0,
                     qPrintable(QString("%1: tensor bytes differ").arg(r.name.c_str())));
        }
        // Metadata other than the type fields is copied.
        QCOMPARE(ours->get_string_array("tokenizer.ggml.tokens"), ref->get_string_array("tokenizer.ggml.tokens"));
    }

    // Relative RMS error ||dequant(quant(w)) - w|| / ||w|| on Gaussian weights, each 2-D tensor. Bounds:
    // 1.25x what ggml's reference quantizers give on this data (F16 0.02%, BF16 0.17%, Q8_0 0.54%, Q6_K
    // 1.8%, Q5_K 3.6%, Q5_1 3.8%, Q5_0 4.3%, Q4_K 7.1%, Q4_1 7.8%, Q4_0 8.6%; Gaussian weights have no
    // outliers for the block scales to absorb, so this is the formats' plain resolution).
    void roundTripErrorWithinBound_data() {
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<double>("bound");
        const std::pair<const char*, double> rows[] = {
            {"F16", 3e-4},  {"BF16", 2.5e-3}, {"Q8_0", 7e-3},  {"Q6_K", 0.023},  {"Q5_K", 0.045}, {"Q5_K_M", 0.045},
            {"Q5_1", 0.047}, {"Q5_0", 0.053}, {"Q4_K", 0.089}, {"Q4_K_M", 0.089}, {"Q4_1", 0.098}, {"Q4_0", 0.107},
        };
        for (const auto& [name, bound] : rows) QTest::newRow(name) << QString(name) << bound;
    }
    void roundTripErrorWithinBound() {
        QFETCH(QString, scheme);
        QFETCH(double, bound);
        QTemporaryDir dir;
        const std::string src_path = write_gaussian_source(dir.path());
        const std::string out = dir.filePath("out.gguf").toStdString();
        size_t reports = 0;
        quantize_model(src_path, out, *parse_quant_scheme(scheme.toStdString()), 0,
                       [&](const QuantizeProgress& p) {
                           ++reports;
                           QCOMPARE(p.tensor_count, size_t{3});
                           QVERIFY(p.bytes_done <= p.bytes_total);
                       });
        QCOMPARE(reports, size_t{3});
        const auto src = gguf::GgufFile::open(src_path);
        const auto dst = gguf::GgufFile::open(out);
        for (const auto& s : src->tensors()) {
            const gguf::TensorInfo* d = dst->find_tensor(s.name);
            QVERIFY(d != nullptr);
            if (s.dims.size() == 1) {
                QCOMPARE(d->type, TensorType::F32);  // norms keep their type
                continue;
            }
            QCOMPARE(d->type, QuantPlan(*parse_quant_scheme(scheme.toStdString()), 1, false, true).type_for(s.name, s.dims, s.type));
            const std::vector<float> a = dequantize(s), b = dequantize(*d);
            double err = 0, norm = 0;
            for (size_t i = 0; i < a.size(); ++i) {
                err += (double(b[i]) - a[i]) * (double(b[i]) - a[i]);
                norm += double(a[i]) * a[i];
            }
            const double rel = std::sqrt(err / norm);
            qInfo("%s %s (%s): relative RMS error %.4f", qPrintable(scheme), s.name.c_str(), tensor_type_name(d->type).data(), rel);
            QVERIFY2(rel <= bound, qPrintable(QString("%1: %2 > %3").arg(s.name.c_str()).arg(rel).arg(bound)));
        }
    }

    void planFollowsLlamaQuantize() {
        // TinyLlama: 22 layers; use_more_bits holds for layers 0, 1, 4, 7, 10, 13, 16, 19, 20, 21.
        const std::set<int> more_bits{0, 1, 4, 7, 10, 13, 16, 19, 20, 21};
        const QuantPlan q4km(QuantScheme::Q4_K_M, 22, true, false);  // the _M mixes always use the rules
        for (int il = 0; il < 22; ++il) {
            const std::string p = "blk." + std::to_string(il) + ".";
            const TensorType mixed = more_bits.count(il) ? TensorType::Q6_K : TensorType::Q4_K;
            QCOMPARE(q4km.type_for(p + "ffn_down.weight", {5632, 2048}, TensorType::F32), mixed);
            QCOMPARE(q4km.type_for(p + "attn_v.weight", {2048, 256}, TensorType::F32), mixed);
            QCOMPARE(q4km.type_for(p + "attn_q.weight", {2048, 2048}, TensorType::F32), TensorType::Q4_K);
            QCOMPARE(q4km.type_for(p + "ffn_up.weight", {2048, 5632}, TensorType::F32), TensorType::Q4_K);
            QCOMPARE(q4km.type_for(p + "attn_norm.weight", {2048}, TensorType::F32), TensorType::F32);
        }
        QCOMPARE(q4km.type_for("output.weight", {2048, 32000}, TensorType::F16), TensorType::Q6_K);
        QCOMPARE(q4km.type_for("token_embd.weight", {2048, 32000}, TensorType::F16), TensorType::Q4_K);
        QCOMPARE(QuantPlan(QuantScheme::Q5_K_M, 22, true, true).type_for("blk.3.ffn_down.weight", {5632, 2048}, TensorType::F32),
                 TensorType::Q5_K);
        // Tied output: the embedding takes the output's type (Q8_0 when its rows are not whole Q4_K blocks,
        // as for Qwen2-0.5B's 896).
        QCOMPARE(QuantPlan(QuantScheme::Q4_K_M, 24, false, true).type_for("token_embd.weight", {1024, 151936}, TensorType::F32),
                 TensorType::Q6_K);
        QCOMPARE(QuantPlan(QuantScheme::Q4_K_M, 24, false, true).type_for("token_embd.weight", {896, 151936}, TensorType::F32),
                 TensorType::Q8_0);
        // The output rule for plain types (llama-quantize), none for make-model's pure files, none for Q8_0.
        QCOMPARE(QuantPlan(QuantScheme::Q4_0, 22, true, true).type_for("output.weight", {2048, 32000}, TensorType::F32),
                 TensorType::Q6_K);
        QCOMPARE(QuantPlan(QuantScheme::Q4_0, 22, true, false).type_for("output.weight", {2048, 32000}, TensorType::F32),
                 TensorType::Q4_0);
        QCOMPARE(QuantPlan(QuantScheme::Q8_0, 22, true, true).type_for("output.weight", {2048, 32000}, TensorType::F32),
                 TensorType::Q8_0);
        // Rows that are not whole blocks.
        QCOMPARE(q4km.type_for("blk.2.attn_q.weight", {64, 64}, TensorType::F32), TensorType::Q5_0);
        QCOMPARE(q4km.type_for("blk.0.ffn_down.weight", {96, 64}, TensorType::F32), TensorType::Q8_0);
        QCOMPARE(q4km.type_for("blk.2.ffn_down.weight", {172, 64}, TensorType::F32), TensorType::F16);
        QCOMPARE(QuantPlan(QuantScheme::Q5_K, 1, true, false).type_for("blk.0.attn_q.weight", {64, 64}, TensorType::F32),
                 TensorType::Q5_1);
        QCOMPARE(QuantPlan(QuantScheme::F16, 1, true, true).type_for("output.weight", {64, 512}, TensorType::F32), TensorType::F16);
    }

    void makeModelWritesThePlannedMix() {
        QTemporaryDir dir;
        RandomModelSpec spec = random_model_preset("tinyllama-1.1b");
        spec.n_layer = 9;  // use_more_bits: 0, 3, 6, 7, 8
        spec.n_embd = 256;
        spec.n_head = 4;
        spec.n_head_kv = 2;
        spec.n_ff = 512;
        spec.scheme = QuantScheme::Q4_K_M;
        const auto tokenizer = gguf::GgufFile::open(test::model_path("stories260K-f32.gguf"));
        const std::string path = dir.filePath("tiny-q4_k_m.gguf").toStdString();
        size_t last_done = 0, total = 0;
        write_random_model(spec, *tokenizer, path, [&](size_t done, size_t all) {
            QVERIFY(done > last_done);
            last_done = done;
            total = all;
        });
        QCOMPARE(last_done, total);
        const auto file = gguf::GgufFile::open(path);
        QCOMPARE(file->get_int("general.file_type"), int64_t{15});
        const QuantPlan plan(QuantScheme::Q4_K_M, 9, true, true);
        int q6k = 0;
        for (const auto& t : file->tensors()) {
            QCOMPARE(t.type, plan.type_for(t.name, t.dims, TensorType::F32));
            if (t.type == TensorType::Q6_K) ++q6k;
            const std::vector<float> v = dequantize(t);
            QVERIFY2(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x) && std::abs(x) < 10; }), t.name.c_str());
        }
        QCOMPARE(q6k, 2 * 5 + 1);  // attn_v and ffn_down of 5 layers, and the output
        QVERIFY(Model::load(path) != nullptr);
    }

    void rejectsBadInput() {
        QTemporaryDir dir;
        const std::string out = dir.filePath("out.gguf").toStdString();
        try {
            quantize_model(test::model_path("stories260K-q8_0.gguf"), out, QuantScheme::Q4_0);
            QFAIL("a quantized source was accepted");
        } catch (const InvalidRequestError& e) {
            QVERIFY2(QString(e.what()).contains("q8_0") && QString(e.what()).contains(".weight"), e.what());
        }
        QVERIFY(!QFile::exists(QString::fromStdString(out)));
        QVERIFY(!QFile::exists(QString::fromStdString(out + ".tmp")));
        QVERIFY_THROWS_EXCEPTION(GgufError, quantize_model(dir.filePath("missing.gguf").toStdString(), out, QuantScheme::Q4_0));
        const std::string same = test::model_path("stories260K-f32.gguf");
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, quantize_model(same, same, QuantScheme::Q4_0));
        QVERIFY(!parse_quant_scheme("q3_K").has_value());
        QCOMPARE(parse_quant_scheme("q4_k_m"), std::optional(QuantScheme::Q4_K_M));
        QCOMPARE(parse_quant_scheme("f16"), std::optional(QuantScheme::F16));
    }
};

QTEST_GUILESS_MAIN(TestQuantizeModel)
#include "tst_quantize_model.moc"
