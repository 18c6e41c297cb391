// GgufFile and GgufWriter on well-formed input: every shared GGUF opens, the facts documented in
// shared/models/README.md read back, and the writer round-trips every value type and tensor layout.
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>

#include "peregrine/gguf.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::gguf;

namespace {

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> out(n);
    for (auto& b : out) b = static_cast<uint8_t>(rng());
    return out;
}

// Bytes of a tensor of `type` with these dims, as the writer expects them.
size_t tensor_bytes(TensorType type, const std::vector<int64_t>& dims) {
    int64_t rows = 1;
    for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
    return tensor_row_size(type, dims[0]) * static_cast<size_t>(rows);
}

QStringList shared_gguf_files() {
    QStringList out;
    for (const QString& dir : {QString::fromStdString(test::shared_dir() + "/models"),
                               QString::fromStdString(test::shared_dir() + "/models/vocab")}) {
        for (const QString& name : QDir(dir).entryList({"*.gguf"}, QDir::Files, QDir::Name)) {
            out << dir + "/" + name;
        }
    }
    return out;
}

Array int_array(ValueType type, std::initializer_list<int64_t> values) {
    Array a{type, {}};
    for (int64_t v : values) a.items.push_back(Value::make_int(type, v));
    return a;
}

}  // namespace

class TestGgufReader : public QObject {
    Q_OBJECT

private slots:
    void opensEverySharedFile_data();
    void opensEverySharedFile();
    void stories260KFacts();
    void tensorTypesPerFile_data();
    void tensorTypesPerFile();
    void quantReferenceTensors_data();
    void quantReferenceTensors();
    void llama2TinyRandomFacts();
    void vocabFacts_data();
    void vocabFacts();
    void gettersConvertAndCheckTypes();
    void openMatchesFromBytes();
    void writerRoundTripsEveryValueType();
    void writerRoundTripsTensors_data();
    void writerRoundTripsTensors();
    void writerReproducesRealFileByteForByte_data();
    void writerReproducesRealFileByteForByte();
    void writerWritesAtomically();
    void writerCopiesMetadataByPrefix();
    void readerAcceptsVersion2();
    void writerRejectsBadInput();
};

void TestGgufReader::opensEverySharedFile_data() {
    QTest::addColumn<QString>("path");
    const QStringList files = shared_gguf_files();
    // 7 models + 14 vocab-only files, per shared/models/README.md.
    QCOMPARE(files.size(), 21);
    for (const QString& f : files) QTest::newRow(qPrintable(QFileInfo(f).fileName())) << f;
}

void TestGgufReader::opensEverySharedFile() {
    QFETCH(QString, path);
    const auto file = GgufFile::open(path.toStdString());
    QCOMPARE(file->version(), 3u);
    QCOMPARE(file->file_size(), static_cast<uint64_t>(QFileInfo(path).size()));
    QCOMPARE(file->alignment(), 32u);
    QVERIFY(!file->metadata().empty());
    QVERIFY(file->has("general.architecture") || file->get_string("general.type") == "test-data");
    if (path.contains("/vocab/")) {
        QVERIFY(file->tensors().empty());
        QVERIFY(file->get_string_array("tokenizer.ggml.tokens").size() > 1000);
    } else {
        QVERIFY(!file->tensors().empty());
        QCOMPARE(file->data_offset() % file->alignment(), 0u);
    }
    const uint8_t* begin = file->tensors().empty() ? nullptr : file->tensors().front().data - file->tensors().front().offset;
    for (const TensorInfo& t : file->tensors()) {
        QCOMPARE(file->find_tensor(t.name), &t);
        QCOMPARE(t.offset % file->alignment(), 0u);
        QVERIFY(t.data == begin + t.offset);
        QVERIFY(file->data_offset() + t.offset + t.n_bytes <= file->file_size());
        int64_t n = 1;
        for (int64_t d : t.dims) n *= d;
        QCOMPARE(t.n_elements, n);
        QCOMPARE(t.n_bytes, static_cast<uint64_t>(tensor_bytes(t.type, t.dims)));
    }
}

void TestGgufReader::stories260KFacts() {
    const auto f = GgufFile::open(test::model_path("stories260K-f32.gguf"));
    QCOMPARE(f->get_string("general.architecture"), std::string("llama"));
    QCOMPARE(f->get_int("llama.embedding_length"), 64);
    QCOMPARE(f->get_int("llama.block_count"), 5);
    QCOMPARE(f->get_int("llama.attention.head_count"), 8);
    QCOMPARE(f->get_int("llama.attention.head_count_kv"), 4);
    QCOMPARE(f->get_int("llama.context_length"), 512);
    QCOMPARE(f->get_int("llama.feed_forward_length"), 172);
    QCOMPARE(f->get_int("llama.rope.dimension_count"), 8);
    QCOMPARE(f->get_float_or("llama.attention.layer_norm_rms_epsilon", 0.0), static_cast<double>(1e-5f));
    QCOMPARE(f->get_float_or("llama.rope.freq_base", 10000.0), 10000.0);  // absent: fallback
    QVERIFY(!f->has("general.file_type"));
    QCOMPARE(f->get_string("tokenizer.ggml.model"), std::string("llama"));
    QCOMPARE(f->get_int("tokenizer.ggml.bos_token_id"), 1);
    QCOMPARE(f->get_int("tokenizer.ggml.eos_token_id"), 2);
    // Stored as u32 4294967295 ("none"); get_int keeps the value, the tokenizer interprets it.
    QCOMPARE(f->get_int("tokenizer.ggml.padding_token_id"), int64_t{4294967295});

    const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
    QCOMPARE(tokens.size(), size_t{512});
    QCOMPARE(tokens[0], std::string("<unk>"));
    QCOMPARE(tokens[1], std::string("<s>"));
    QCOMPARE(tokens[2], std::string("</s>"));
    QCOMPARE(tokens[3], std::string("<0x00>"));
    QCOMPARE(tokens[258], std::string("<0xFF>"));
    QCOMPARE(f->get_float_array("tokenizer.ggml.scores").size(), size_t{512});
    const auto types = f->get_int_array("tokenizer.ggml.token_type");
    QCOMPARE(types.size(), size_t{512});
    QCOMPARE(types[0], 2);  // UNKNOWN
    QCOMPARE(types[1], 3);  // CONTROL
    QCOMPARE(types[3], 6);  // BYTE

    QCOMPARE(f->tensors().size(), size_t{48});
    const TensorInfo* embd = f->find_tensor("token_embd.weight");
    QVERIFY(embd != nullptr);
    QCOMPARE(embd->dims, (std::vector<int64_t>{64, 512}));
    QCOMPARE(embd->type, TensorType::F32);
    QCOMPARE(embd->n_bytes, uint64_t{64 * 512 * 4});
    const TensorInfo* down = f->find_tensor("blk.4.ffn_down.weight");
    QVERIFY(down != nullptr);
    QCOMPARE(down->dims, (std::vector<int64_t>{172, 64}));
    QCOMPARE(f->find_tensor("output_norm.weight")->dims, (std::vector<int64_t>{64}));
    QVERIFY(f->find_tensor("blk.5.attn_q.weight") == nullptr);

    // output.weight equals token_embd.weight (the checkpoint tied them); both are F32 here.
    const TensorInfo* out = f->find_tensor("output.weight");
    QVERIFY(out != nullptr);
    QCOMPARE(out->n_bytes, embd->n_bytes);
    QVERIFY(std::memcmp(out->data, embd->data, embd->n_bytes) == 0);
    // RMSNorm weights are real floats, not garbage: finite and not all zero.
    const auto* norm = reinterpret_cast<const float*>(f->find_tensor("blk.0.attn_norm.weight")->data);
    bool any_nonzero = false;
    for (int i = 0; i < 64; ++i) {
        QVERIFY(std::isfinite(norm[i]));
        any_nonzero |= norm[i] != 0.0f;
    }
    QVERIFY(any_nonzero);
}

void TestGgufReader::tensorTypesPerFile_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("tensor");
    QTest::addColumn<int>("type");
    const auto row = [](const char* file, const char* tensor, TensorType type) {
        QTest::addRow("%s %s", file, tensor) << QString(file) << QString(tensor) << static_cast<int>(type);
    };
    // The README's table of storage types per file.
    row("stories260K-f16.gguf", "token_embd.weight", TensorType::F16);
    row("stories260K-f16.gguf", "blk.0.ffn_down.weight", TensorType::F16);
    row("stories260K-f16.gguf", "blk.0.attn_norm.weight", TensorType::F32);
    row("stories260K-q8_0.gguf", "token_embd.weight", TensorType::Q8_0);
    row("stories260K-q8_0.gguf", "output.weight", TensorType::Q8_0);
    row("stories260K-q8_0.gguf", "blk.3.attn_k.weight", TensorType::Q8_0);
    row("stories260K-q8_0.gguf", "blk.3.ffn_up.weight", TensorType::Q8_0);
    row("stories260K-q8_0.gguf", "blk.3.ffn_down.weight", TensorType::F16);
    row("stories260K-q8_0.gguf", "output_norm.weight", TensorType::F32);
    row("stories260K-q4_0.gguf", "token_embd.weight", TensorType::Q4_0);
    row("stories260K-q4_0.gguf", "output.weight", TensorType::Q8_0);
    row("stories260K-q4_0.gguf", "blk.1.attn_output.weight", TensorType::Q4_0);
    row("stories260K-q4_0.gguf", "blk.1.ffn_gate.weight", TensorType::Q4_0);
    row("stories260K-q4_0.gguf", "blk.1.ffn_down.weight", TensorType::F16);
    row("stories260K-q4_0.gguf", "blk.1.ffn_norm.weight", TensorType::F32);
    row("stories260K-q4_k_m.gguf", "token_embd.weight", TensorType::Q5_0);
    row("stories260K-q4_k_m.gguf", "output.weight", TensorType::Q8_0);
    row("stories260K-q4_k_m.gguf", "blk.0.attn_v.weight", TensorType::Q5_0);
    row("stories260K-q4_k_m.gguf", "blk.2.attn_v.weight", TensorType::Q8_0);
    row("stories260K-q4_k_m.gguf", "blk.4.attn_v.weight", TensorType::Q8_0);
    row("stories260K-q4_k_m.gguf", "blk.4.ffn_up.weight", TensorType::Q5_0);
    row("stories260K-q4_k_m.gguf", "blk.4.ffn_down.weight", TensorType::F16);
    row("stories260K-q4_k_m.gguf", "blk.4.attn_norm.weight", TensorType::F32);
}

void TestGgufReader::tensorTypesPerFile() {
    QFETCH(QString, file);
    QFETCH(QString, tensor);
    QFETCH(int, type);
    const auto f = GgufFile::open(test::model_path(file.toStdString()));
    const TensorInfo* t = f->find_tensor(tensor.toStdString());
    QVERIFY(t != nullptr);
    QCOMPARE(static_cast<int>(t->type), type);
    QCOMPARE(f->tensors().size(), size_t{48});
    // general.file_type as listed in the README: F16 1, Q8_0 7, Q4_0 2, Q4_K_M 15.
    const int64_t expected_file_type = file.contains("f16") ? 1 : file.contains("q8_0") ? 7 : file.contains("q4_0") ? 2 : 15;
    QCOMPARE(f->get_int("general.file_type"), expected_file_type);
}

void TestGgufReader::quantReferenceTensors_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("type");
    const std::pair<const char*, TensorType> types[] = {
        {"f32", TensorType::F32},   {"f16", TensorType::F16},   {"bf16", TensorType::BF16},
        {"q4_0", TensorType::Q4_0}, {"q4_1", TensorType::Q4_1}, {"q5_0", TensorType::Q5_0},
        {"q5_1", TensorType::Q5_1}, {"q8_0", TensorType::Q8_0}, {"q2_K", TensorType::Q2_K},
        {"q3_K", TensorType::Q3_K}, {"q4_K", TensorType::Q4_K}, {"q5_K", TensorType::Q5_K},
        {"q6_K", TensorType::Q6_K}, {"iq4_nl", TensorType::IQ4_NL}, {"iq4_xs", TensorType::IQ4_XS},
    };
    for (const auto& [name, type] : types) QTest::newRow(name) << QString(name) << static_cast<int>(type);
}

void TestGgufReader::quantReferenceTensors() {
    QFETCH(QString, name);
    QFETCH(int, type);
    const auto f = GgufFile::open(test::model_path("ggml-quant-reference.gguf"));
    QCOMPARE(f->get_string("general.type"), std::string("test-data"));
    QCOMPARE(f->tensors().size(), size_t{31});
    const TensorInfo* source = f->find_tensor("source");
    QVERIFY(source != nullptr);
    QCOMPARE(source->type, TensorType::F32);

    const TensorInfo* t = f->find_tensor(name.toStdString());
    QVERIFY(t != nullptr);
    QCOMPARE(static_cast<int>(t->type), type);
    QCOMPARE(tensor_type_name(t->type), std::string_view(name.toStdString()));
    QCOMPARE(t->dims, (std::vector<int64_t>{512, 4}));
    QCOMPARE(t->n_bytes, static_cast<uint64_t>(tensor_row_size(t->type, 512) * 4));
    const TensorInfo* dq = f->find_tensor(name.toStdString() + ".dequant");
    QVERIFY(dq != nullptr);
    QCOMPARE(dq->type, TensorType::F32);
    QCOMPARE(dq->dims, (std::vector<int64_t>{512, 4}));
    // f32 "quantization" is a copy of the source.
    if (name == "f32") QVERIFY(std::memcmp(t->data, source->data, t->n_bytes) == 0);
}

void TestGgufReader::llama2TinyRandomFacts() {
    const auto f = GgufFile::open(test::model_path("llama-2-tiny-random.gguf"));
    QCOMPARE(f->get_int("llama.embedding_length"), 8);
    QCOMPARE(f->get_int("llama.block_count"), 1);
    QCOMPARE(f->get_int("llama.attention.head_count"), 2);
    QCOMPARE(f->get_int("llama.context_length"), 4096);
    QCOMPARE(f->get_int("general.file_type"), 1);
    QCOMPARE(f->get_string_array("tokenizer.ggml.tokens").size(), size_t{32000});
    const TensorInfo* out = f->find_tensor("output.weight");
    QVERIFY(out != nullptr);
    QCOMPARE(out->type, TensorType::F16);
    QCOMPARE(out->dims, (std::vector<int64_t>{8, 32000}));
    QCOMPARE(f->find_tensor("blk.0.ffn_norm.weight")->type, TensorType::F32);
}

void TestGgufReader::vocabFacts_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("n_vocab");
    QTest::addColumn<int>("bos");
    // From the vocab table of shared/models/README.md.
    QTest::newRow("llama-spm") << "ggml-vocab-llama-spm.gguf" << "llama" << 32000 << 1;
    QTest::newRow("phi-3") << "ggml-vocab-phi-3.gguf" << "llama" << 32064 << 1;
    QTest::newRow("gpt-2") << "ggml-vocab-gpt-2.gguf" << "gpt2" << 50257 << 50256;
    QTest::newRow("deepseek-llm") << "ggml-vocab-deepseek-llm.gguf" << "gpt2" << 102400 << 100000;
    QTest::newRow("falcon") << "ggml-vocab-falcon.gguf" << "gpt2" << 65024 << 11;
    QTest::newRow("bert-bge") << "ggml-vocab-bert-bge.gguf" << "bert" << 30522 << 101;
    QTest::newRow("llama3") << "rebuilt-vocab-llama3.gguf" << "gpt2" << 128256 << 128000;
    QTest::newRow("qwen3") << "rebuilt-vocab-qwen3.gguf" << "gpt2" << 151936 << 151643;
}

void TestGgufReader::vocabFacts() {
    QFETCH(QString, file);
    QFETCH(QString, model);
    QFETCH(int, n_vocab);
    QFETCH(int, bos);
    const auto f = GgufFile::open(test::vocab_path(file.toStdString()));
    QCOMPARE(f->get_string("tokenizer.ggml.model"), model.toStdString());
    QCOMPARE(f->get_string_array("tokenizer.ggml.tokens").size(), static_cast<size_t>(n_vocab));
    const int64_t bos_id = f->has("tokenizer.ggml.bos_token_id") ? f->get_int("tokenizer.ggml.bos_token_id")
                                                                 : f->get_int("tokenizer.ggml.cls_token_id");
    QCOMPARE(bos_id, bos);
    if (model == "gpt2") QVERIFY(!f->get_string_array("tokenizer.ggml.merges").empty());
}

void TestGgufReader::gettersConvertAndCheckTypes() {
    const auto f = GgufFile::open(test::model_path("stories260K-q8_0.gguf"));
    // Absent keys: *_or gives the fallback, plain forms throw naming the key.
    QCOMPARE(f->get_int_or("llama.expert_count", -7), -7);
    QCOMPARE(f->get_string_or("tokenizer.ggml.pre", "default"), std::string("default"));
    QCOMPARE(f->get_bool_or("tokenizer.ggml.add_bos_token", true), true);
    QVERIFY(f->get_string_array("no.such.key").empty());
    try {
        f->get_int("llama.expert_count");
        QFAIL("expected GgufError");
    } catch (const GgufError& e) {
        QVERIFY(QString(e.what()).contains("llama.expert_count"));
        QVERIFY(QString(e.what()).contains("stories260K-q8_0.gguf"));
    }
    // Present with the wrong type: an error naming file, key and offset, never the fallback.
    try {
        f->get_int_or("general.architecture", 0);
        QFAIL("expected GgufError");
    } catch (const GgufError& e) {
        const QString msg = e.what();
        QVERIFY2(msg.contains("general.architecture") && msg.contains("offset") && msg.contains("string"),
                 e.what());
    }
    QVERIFY_THROWS_EXCEPTION(GgufError, f->get_string("llama.block_count"));
    QVERIFY_THROWS_EXCEPTION(GgufError, f->get_bool_or("llama.block_count", false));
    QVERIFY_THROWS_EXCEPTION(GgufError, f->get_float_or("general.name", 1.0));
    QVERIFY_THROWS_EXCEPTION(GgufError, f->get_string_array("tokenizer.ggml.scores"));
    QVERIFY_THROWS_EXCEPTION(GgufError, f->get_int_array("tokenizer.ggml.tokens"));
    QVERIFY_THROWS_EXCEPTION(GgufError, f->get_float_array("general.name"));
    // Integers convert to floats; float arrays accept integer elements.
    QCOMPARE(f->get_float_or("llama.block_count", 0.0), 5.0);
    QCOMPARE(f->get_float_array("tokenizer.ggml.token_type")[3], 6.0f);

    // Range checks on raw values.
    const Value big = Value::make_uint(ValueType::UINT64, ~uint64_t{0});
    QVERIFY_THROWS_EXCEPTION(GgufError, big.to_int64("big"));
    QCOMPARE(big.to_uint64("big"), ~uint64_t{0});
    const Value negative = Value::make_int(ValueType::INT8, -3);
    QCOMPARE(negative.to_int64("neg"), -3);
    QVERIFY_THROWS_EXCEPTION(GgufError, negative.to_uint64("neg"));
    QVERIFY(negative.is_integer());
    QVERIFY(!Value::make_float(ValueType::FLOAT32, 1.0).is_integer());
}

void TestGgufReader::openMatchesFromBytes() {
    const std::string path = test::model_path("stories260K-q4_k_m.gguf");
    const auto mapped = GgufFile::open(path);
    const std::string bytes = test::read_file(path);
    const auto copied = GgufFile::from_bytes(as_bytes(bytes), "copy.gguf");
    QCOMPARE(copied->path(), std::string("copy.gguf"));
    QCOMPARE(copied->data_offset(), mapped->data_offset());
    QCOMPARE(copied->metadata().size(), mapped->metadata().size());
    QCOMPARE(copied->tensors().size(), mapped->tensors().size());
    for (size_t i = 0; i < mapped->tensors().size(); ++i) {
        const TensorInfo& a = mapped->tensors()[i];
        const TensorInfo& b = copied->tensors()[i];
        QCOMPARE(a.name, b.name);
        QCOMPARE(a.offset, b.offset);
        QVERIFY(a.data != b.data);
        QVERIFY(std::memcmp(a.data, b.data, a.n_bytes) == 0);
    }
}

void TestGgufReader::writerRoundTripsEveryValueType() {
    GgufWriter w;
    w.set("u8", Value::make_uint(ValueType::UINT8, 255));
    w.set("i8", Value::make_int(ValueType::INT8, -128));
    w.set("u16", Value::make_uint(ValueType::UINT16, 65535));
    w.set("i16", Value::make_int(ValueType::INT16, -32768));
    w.set_uint32("u32", 4294967295u);
    w.set_int32("i32", -2147483647 - 1);
    w.set_float32("f32", 0.1f);
    w.set_bool("bool.true", true);
    w.set_bool("bool.false", false);
    w.set_string("string", std::string("héllo\0world", 12));
    w.set_string("string.empty", "");
    w.set_uint64("u64", ~uint64_t{0});
    w.set("i64", Value::make_int(ValueType::INT64, INT64_MIN));
    w.set("f64", Value::make_float(ValueType::FLOAT64, 1.0 / 3.0));
    w.set_string_array("array.string", {"a", "", "ccc"});
    w.set_float32_array("array.f32", {1.5f, -2.25f});
    w.set_int32_array("array.i32", {-1, 0, 7});
    w.set("array.u16", Value::make_array(int_array(ValueType::INT16, {-5, 5})));
    w.set("array.empty", Value::make_array(Array{ValueType::UINT64, {}}));
    Array nested{ValueType::ARRAY, {}};
    nested.items.push_back(Value::make_array(int_array(ValueType::INT64, {1, 2})));
    nested.items.push_back(Value::make_array(Array{ValueType::STRING, {Value::make_string("x")}}));
    w.set("array.nested", Value::make_array(nested));
    w.set_uint32("u32", 7);  // replaces, keeps the first position

    const std::vector<uint8_t> bytes = w.to_bytes();
    QCOMPARE(w.to_bytes(), bytes);  // deterministic
    const auto f = GgufFile::from_bytes(bytes, "values.gguf");
    QCOMPARE(f->version(), 3u);
    QCOMPARE(f->metadata().size(), size_t{20});
    QCOMPARE(f->metadata()[4].first, std::string("u32"));
    QCOMPARE(f->get_int("u8"), 255);
    QCOMPARE(f->find("u8")->type, ValueType::UINT8);
    QCOMPARE(f->get_int("i8"), -128);
    QCOMPARE(f->find("i8")->type, ValueType::INT8);
    QCOMPARE(f->get_int("u16"), 65535);
    QCOMPARE(f->get_int("i16"), -32768);
    QCOMPARE(f->get_int("u32"), 7);
    QCOMPARE(f->find("u32")->type, ValueType::UINT32);
    QCOMPARE(f->get_int("i32"), int64_t{INT32_MIN});
    QCOMPARE(f->get_float_or("f32", 0), static_cast<double>(0.1f));
    QCOMPARE(f->find("f32")->type, ValueType::FLOAT32);
    QCOMPARE(f->get_bool_or("bool.true", false), true);
    QCOMPARE(f->get_bool_or("bool.false", true), false);
    QCOMPARE(f->get_string("string"), std::string("héllo\0world", 12));
    QCOMPARE(f->get_string("string.empty"), std::string());
    QCOMPARE(f->find("u64")->to_uint64("u64"), ~uint64_t{0});
    QVERIFY_THROWS_EXCEPTION(GgufError, f->get_int("u64"));  // does not fit in int64
    QCOMPARE(f->get_int("i64"), INT64_MIN);
    QCOMPARE(f->get_float_or("f64", 0), 1.0 / 3.0);
    QCOMPARE(f->find("f64")->type, ValueType::FLOAT64);
    QCOMPARE(f->get_string_array("array.string"), (std::vector<std::string>{"a", "", "ccc"}));
    QCOMPARE(f->get_float_array("array.f32"), (std::vector<float>{1.5f, -2.25f}));
    QCOMPARE(f->get_int_array("array.i32"), (std::vector<int64_t>{-1, 0, 7}));
    QCOMPARE(f->find("array.i32")->to_array("a").element_type, ValueType::INT32);
    QCOMPARE(f->get_int_array("array.u16"), (std::vector<int64_t>{-5, 5}));
    QVERIFY(f->get_int_array("array.empty").empty());
    QCOMPARE(f->find("array.empty")->to_array("a").element_type, ValueType::UINT64);
    const Array& n = f->find("array.nested")->to_array("nested");
    QCOMPARE(n.element_type, ValueType::ARRAY);
    QCOMPARE(n.items.size(), size_t{2});
    QCOMPARE(n.items[0].to_array("n0").items[1].to_int64("n01"), 2);
    QCOMPARE(n.items[1].to_array("n1").items[0].to_string("n10"), std::string("x"));
    QVERIFY(f->tensors().empty());
}

void TestGgufReader::writerRoundTripsTensors_data() {
    QTest::addColumn<uint>("alignment");
    QTest::newRow("default 32") << 32u;
    QTest::newRow("64") << 64u;
    QTest::newRow("1") << 1u;
    QTest::newRow("4096") << 4096u;
}

void TestGgufReader::writerRoundTripsTensors() {
    QFETCH(uint, alignment);
    struct Spec {
        const char* name;
        TensorType type;
        std::vector<int64_t> dims;
    };
    const std::vector<Spec> specs = {
        {"f32.vector", TensorType::F32, {3}},           // 12 bytes: forces padding
        {"f16.matrix", TensorType::F16, {5, 3}},
        {"bf16.cube", TensorType::BF16, {2, 3, 4}},
        {"q8_0.rows", TensorType::Q8_0, {64, 3}},
        {"q4_0.4d", TensorType::Q4_0, {32, 2, 1, 2}},
        {"q4_K.rows", TensorType::Q4_K, {256, 2}},
        {"q6_K.row", TensorType::Q6_K, {512}},
    };
    GgufWriter w(alignment);
    w.set_string("general.architecture", "test");
    std::vector<std::vector<uint8_t>> payloads;
    for (size_t i = 0; i < specs.size(); ++i) {
        payloads.push_back(random_bytes(tensor_bytes(specs[i].type, specs[i].dims), static_cast<uint32_t>(i)));
        w.add_tensor(specs[i].name, specs[i].type, specs[i].dims, payloads.back());
    }
    const std::vector<uint8_t> bytes = w.to_bytes();
    QCOMPARE(bytes.size() % alignment, size_t{0});
    const auto f = GgufFile::from_bytes(bytes, "tensors.gguf");
    QCOMPARE(f->alignment(), alignment);
    QCOMPARE(f->has("general.alignment"), alignment != 32);
    QCOMPARE(f->data_offset() % alignment, uint64_t{0});
    QCOMPARE(f->tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorInfo& t = f->tensors()[i];
        QCOMPARE(t.name, std::string(specs[i].name));
        QCOMPARE(t.type, specs[i].type);
        QCOMPARE(t.dims, specs[i].dims);
        QCOMPARE(t.offset % alignment, uint64_t{0});
        QCOMPARE(t.n_bytes, static_cast<uint64_t>(payloads[i].size()));
        QVERIFY(std::memcmp(t.data, payloads[i].data(), t.n_bytes) == 0);
    }
}

void TestGgufReader::writerReproducesRealFileByteForByte_data() {
    QTest::addColumn<QString>("file");
    QTest::newRow("f32") << "stories260K-f32.gguf";
    QTest::newRow("q8_0") << "stories260K-q8_0.gguf";
    QTest::newRow("q4_k_m") << "stories260K-q4_k_m.gguf";
    QTest::newRow("quant-reference") << "ggml-quant-reference.gguf";
}

// The writer lays files out as llama.cpp does: rewriting a llama.cpp file gives the same bytes.
void TestGgufReader::writerReproducesRealFileByteForByte() {
    QFETCH(QString, file);
    const std::string path = test::model_path(file.toStdString());
    const auto f = GgufFile::open(path);
    GgufWriter w(f->alignment());
    w.copy_metadata(*f);
    for (const TensorInfo& t : f->tensors()) w.add_tensor(t.name, t.type, t.dims, {t.data, t.n_bytes});
    const std::vector<uint8_t> bytes = w.to_bytes();
    const std::string original = test::read_file(path);
    QCOMPARE(bytes.size(), original.size());
    QVERIFY(std::memcmp(bytes.data(), original.data(), original.size()) == 0);
}

void TestGgufReader::writerWritesAtomically() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("out.gguf").toStdString();
    GgufWriter w(64);
    w.set_string("general.name", "atomic");
    const auto payload = random_bytes(tensor_bytes(TensorType::Q8_0, {32, 2}), 42);
    w.add_tensor("t", TensorType::Q8_0, {32, 2}, payload);
    w.write(path);
    QVERIFY(!QFile::exists(QString::fromStdString(path + ".tmp")));
    const auto f = GgufFile::open(path);
    QCOMPARE(f->get_string("general.name"), std::string("atomic"));
    QCOMPARE(f->alignment(), 64u);
    QVERIFY(std::memcmp(f->find_tensor("t")->data, payload.data(), payload.size()) == 0);
    QCOMPARE(test::read_file(path), std::string(reinterpret_cast<const char*>(w.to_bytes().data()), w.to_bytes().size()));
    // A directory that does not exist: an Error naming the path, and nothing left behind.
    const std::string bad = dir.filePath("missing/out.gguf").toStdString();
    try {
        w.write(bad);
        QFAIL("expected Error");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("missing/out.gguf"), e.what());
    }
}

void TestGgufReader::writerCopiesMetadataByPrefix() {
    const auto vocab = GgufFile::open(test::vocab_path("ggml-vocab-gpt-2.gguf"));
    GgufWriter w;
    w.set_string("general.architecture", "gpt2");
    w.copy_metadata(*vocab, "tokenizer.");
    const auto f = GgufFile::from_bytes(w.to_bytes(), "copied.gguf");
    size_t expected = 1;
    for (const auto& [key, value] : vocab->metadata()) expected += key.rfind("tokenizer.", 0) == 0 ? 1 : 0;
    QCOMPARE(f->metadata().size(), expected);
    QVERIFY(!f->has("general.name"));
    QCOMPARE(f->get_string_array("tokenizer.ggml.tokens"), vocab->get_string_array("tokenizer.ggml.tokens"));
    QCOMPARE(f->get_string_array("tokenizer.ggml.merges"), vocab->get_string_array("tokenizer.ggml.merges"));
    QCOMPARE(f->get_int("tokenizer.ggml.bos_token_id"), 50256);
}

void TestGgufReader::readerAcceptsVersion2() {
    GgufWriter w;
    w.set_uint32("x", 1);
    w.add_tensor("t", TensorType::F32, {4}, random_bytes(16, 1));
    std::vector<uint8_t> bytes = w.to_bytes();
    bytes[4] = 2;  // version field; v2 and v3 share the layout
    const auto f = GgufFile::from_bytes(bytes, "v2.gguf");
    QCOMPARE(f->version(), 2u);
    QCOMPARE(f->get_int("x"), 1);
}

void TestGgufReader::writerRejectsBadInput() {
    GgufWriter w;
    const auto q8 = random_bytes(tensor_bytes(TensorType::Q8_0, {32}), 3);
    w.add_tensor("ok", TensorType::Q8_0, {32}, q8);
    QVERIFY_THROWS_EXCEPTION(Error, w.add_tensor("ok", TensorType::Q8_0, {32}, q8));            // duplicate
    QVERIFY_THROWS_EXCEPTION(Error, w.add_tensor("short", TensorType::Q8_0, {64}, q8));         // wrong size
    QVERIFY_THROWS_EXCEPTION(Error, w.add_tensor("odd", TensorType::Q8_0, {16}, {q8.data(), 17}));  // not a block
    QVERIFY_THROWS_EXCEPTION(Error, w.add_tensor("5d", TensorType::F32, {1, 1, 1, 1, 1}, {q8.data(), 4}));
    QVERIFY_THROWS_EXCEPTION(Error, w.add_tensor("zero", TensorType::F32, {0}, {}));
    QVERIFY_THROWS_EXCEPTION(Error, w.add_tensor(std::string(64, 'n'), TensorType::F32, {1}, {q8.data(), 4}));
    QVERIFY_THROWS_EXCEPTION(Error, w.set_uint32("general.alignment", 64));
    QVERIFY_THROWS_EXCEPTION(Error, GgufWriter(48));
    w.set("too.big", Value::make_uint(ValueType::UINT8, 256));
    QVERIFY_THROWS_EXCEPTION(Error, w.to_bytes());
    w.set("too.big", Value::make_array(Array{ValueType::INT32, {Value::make_string("not an int")}}));
    QVERIFY_THROWS_EXCEPTION(Error, w.to_bytes());
    w.set("too.big", Value::make_uint(ValueType::UINT8, 255));
    QCOMPARE(GgufFile::from_bytes(w.to_bytes(), "fixed.gguf")->get_int("too.big"), 255);
}

QTEST_GUILESS_MAIN(TestGgufReader)
#include "tst_gguf_reader.moc"
