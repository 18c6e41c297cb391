// GgufFile on malformed and hostile input. Every case is one mutation of a file that parses (a
// handcrafted one, one from GgufWriter, or the real stories260K-q8_0.gguf), and every case must end
// in a GgufError whose message names the file and a byte offset: no other exception, no crash, no
// huge allocation. Run under ASan/UBSan too (label "asan").
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>

#include "peregrine/gguf.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::gguf;

// Records the largest single allocation so the test can prove that absurd counts and lengths are
// rejected before anything is allocated for them.
namespace {
std::atomic<size_t> g_largest_allocation{0};
}

void* operator new(size_t n) {
    size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
    while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n)) {
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kHuge63 = uint64_t{1} << 63;
constexpr size_t kAllocationLimit = size_t{64} << 20;  // far above what a valid test file needs

// ---- Handcrafted files: every field spelled out so any one of them can be made wrong. ----

// resize + memcpy rather than insert(): g++ 12 warns falsely (-Warray-bounds) on insert.
void append(Bytes& out, const void* data, size_t n) {
    if (n == 0) return;
    const size_t at = out.size();
    out.resize(at + n);
    std::memcpy(out.data() + at, data, n);
}
void append(Bytes& out, const Bytes& more) { append(out, more.data(), more.size()); }
template <typename T>
void put(Bytes& out, T v) {
    append(out, &v, sizeof(T));
}
void put_str(Bytes& out, std::string_view s) {
    put<uint64_t>(out, s.size());
    append(out, s.data(), s.size());
}
Bytes enc_u32(uint32_t v) { Bytes b; put(b, v); return b; }
Bytes enc_str(std::string_view s) { Bytes b; put_str(b, s); return b; }
Bytes enc_array(uint32_t element_type, uint64_t count, const Bytes& items) {
    Bytes b;
    put(b, element_type);
    put(b, count);
    append(b, items);
    return b;
}
// `depth` arrays, each holding the next; the innermost holds one u8.
Bytes enc_nested(int depth) {
    Bytes inner = enc_array(static_cast<uint32_t>(ValueType::UINT8), 1, {7});
    for (int i = 1; i < depth; ++i) inner = enc_array(static_cast<uint32_t>(ValueType::ARRAY), 1, inner);
    return inner;
}

struct Kv {
    std::string key;
    uint32_t type;
    Bytes value;
};
struct Info {
    std::string name;
    uint32_t n_dims;
    std::vector<uint64_t> dims;
    uint32_t type;
    uint64_t offset;
};
struct Spec {
    std::string magic = "GGUF";
    uint32_t version = 3;
    std::optional<uint64_t> n_tensors, n_kv;  // override the true counts
    std::vector<Kv> kvs;
    std::vector<Info> infos;
    uint64_t data_bytes = 0;
};

Bytes build(const Spec& s) {
    Bytes out(s.magic.begin(), s.magic.end());
    put(out, s.version);
    put<uint64_t>(out, s.n_tensors.value_or(s.infos.size()));
    put<uint64_t>(out, s.n_kv.value_or(s.kvs.size()));
    for (const Kv& kv : s.kvs) {
        put_str(out, kv.key);
        put(out, kv.type);
        append(out, kv.value);
    }
    for (const Info& t : s.infos) {
        put_str(out, t.name);
        put(out, t.n_dims);
        for (uint64_t d : t.dims) put(out, d);
        put(out, t.type);
        put(out, t.offset);
    }
    while (out.size() % 32 != 0) out.push_back(0);
    for (uint64_t i = 0; i < s.data_bytes; ++i) out.push_back(static_cast<uint8_t>(i));
    return out;
}

constexpr uint32_t T_U32 = static_cast<uint32_t>(ValueType::UINT32);
constexpr uint32_t T_BOOL = static_cast<uint32_t>(ValueType::BOOL);
constexpr uint32_t T_STRING = static_cast<uint32_t>(ValueType::STRING);
constexpr uint32_t T_ARRAY = static_cast<uint32_t>(ValueType::ARRAY);
constexpr uint32_t T_U64 = static_cast<uint32_t>(ValueType::UINT64);
constexpr uint32_t F32 = static_cast<uint32_t>(TensorType::F32);
constexpr uint32_t Q8_0 = static_cast<uint32_t>(TensorType::Q8_0);

// Parses: two tensors (F32 [8] at 0, Q8_0 [32, 2] at 32; 100 bytes of data) and five keys.
Spec valid_spec() {
    Spec s;
    Bytes tokens = enc_str("a");
    const Bytes bc = enc_str("bc");
    append(tokens, bc);
    s.kvs = {
        {"general.architecture", T_STRING, enc_str("llama")},
        {"general.alignment", T_U32, enc_u32(32)},
        {"test.count", T_U32, enc_u32(7)},
        {"test.flag", T_BOOL, {1}},
        {"test.tokens", T_ARRAY, enc_array(T_STRING, 2, tokens)},
    };
    s.infos = {{"a.weight", 1, {8}, F32, 0}, {"b.weight", 2, {32, 2}, Q8_0, 32}};
    s.data_bytes = 128;
    return s;
}

Spec with(const std::function<void(Spec&)>& mutate) {
    Spec s = valid_spec();
    mutate(s);
    return s;
}

// ---- Locating fields inside real files. ----

// Offset of a GGUF string (u64 length + bytes) equal to `s`; npos when absent.
size_t find_string_field(const Bytes& bytes, std::string_view s) {
    Bytes needle;
    put_str(needle, s);
    const auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    return it == bytes.end() ? std::string::npos : static_cast<size_t>(it - bytes.begin());
}

Bytes load(const std::string& path) {
    const std::string s = test::read_file(path);
    return Bytes(s.begin(), s.end());
}

template <typename T>
void poke(Bytes& bytes, size_t at, T v) {
    std::memcpy(bytes.data() + at, &v, sizeof(T));
}

// Runs `parse` and describes what went wrong; empty when it threw a GgufError that names `file`
// and an offset (and `expected_offset` when given).
QString rejection_problem(const std::function<void()>& parse, const QString& file, const QString& fragment,
                          qint64 expected_offset = -1) {
    g_largest_allocation = 0;
    try {
        parse();
    } catch (const GgufError& e) {
        const QString msg = QString::fromUtf8(e.what());
        if (!msg.contains(file)) return "message lacks the file name: " + msg;
        if (!msg.contains("offset")) return "message lacks an offset: " + msg;
        if (!fragment.isEmpty() && !msg.contains(fragment)) return "message lacks '" + fragment + "': " + msg;
        if (expected_offset >= 0 && !msg.contains(QString("at offset %1:").arg(expected_offset))) {
            return QString("message does not name offset %1: %2").arg(expected_offset).arg(msg);
        }
        if (g_largest_allocation > kAllocationLimit) {
            return QString("allocated %1 bytes before rejecting: %2").arg(g_largest_allocation.load()).arg(msg);
        }
        return {};
    } catch (const std::exception& e) {
        return QString("threw a non-GgufError exception: ") + e.what();
    } catch (...) {
        return "threw a non-std exception";
    }
    return "parsed without error";
}

QString bytes_problem(const Bytes& bytes, const QString& fragment, qint64 expected_offset = -1) {
    return rejection_problem([&] { GgufFile::from_bytes(bytes, "hostile.gguf"); }, "hostile.gguf", fragment,
                             expected_offset);
}

QByteArray to_qba(const Bytes& b) { return QByteArray(reinterpret_cast<const char*>(b.data()), qsizetype(b.size())); }
Bytes from_qba(const QByteArray& b) { return Bytes(b.begin(), b.end()); }

Bytes writer_file() {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "hello"});
    w.set_float32_array("tokenizer.ggml.scores", {0.0f, 0.0f, -1.5f});
    w.set_bool("tokenizer.ggml.add_bos_token", true);
    Bytes f32(4 * 5, 1), q8(tensor_row_size(TensorType::Q8_0, 64) * 2, 2), q4k(tensor_row_size(TensorType::Q4_K, 256), 3);
    w.add_tensor("norm", TensorType::F32, {5}, f32);
    w.add_tensor("matrix", TensorType::Q8_0, {64, 2}, q8);
    w.add_tensor("kquant", TensorType::Q4_K, {256}, q4k);
    return w.to_bytes();
}

// End of the last byte any tensor needs: cutting the file anywhere before it must fail.
uint64_t end_of_tensor_data(const GgufFile& f) {
    uint64_t end = f.data_offset();
    for (const TensorInfo& t : f.tensors()) end = std::max(end, f.data_offset() + t.offset + t.n_bytes);
    return end;
}

}  // namespace

class TestGgufHostile : public QObject {
    Q_OBJECT

private slots:
    void baseFilesParse();
    void handcrafted_data();
    void handcrafted();
    void nestingAtTheLimitIsAccepted();
    void realFileMutations_data();
    void realFileMutations();
    void boolNotZeroOrOneInRealVocab();
    void truncatedWriterFileAtEveryOffset();
    void truncatedRealFile();
    void realFilesOnDisk();
    void controlBytesInNamesAreEscaped();

private:
    // Shared body of the data-driven cases: columns bytes, fragment, offset.
    void expectRejected();
};

// The mutations below are meaningful only if the unmutated files parse.
void TestGgufHostile::baseFilesParse() {
    const auto hand = GgufFile::from_bytes(build(valid_spec()), "valid.gguf");
    QCOMPARE(hand->tensors().size(), size_t{2});
    QCOMPARE(hand->get_string_array("test.tokens"), (std::vector<std::string>{"a", "bc"}));
    QCOMPARE(hand->find_tensor("b.weight")->n_bytes, uint64_t{68});
    const auto written = GgufFile::from_bytes(writer_file(), "writer.gguf");
    QCOMPARE(written->tensors().size(), size_t{3});
    QVERIFY(GgufFile::open(test::model_path("stories260K-q8_0.gguf")) != nullptr);
}

void TestGgufHostile::handcrafted_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("fragment");   // must appear in the message
    QTest::addColumn<qint64>("offset");      // exact "at offset N:" expected, or -1
    const auto row = [](const char* name, const Spec& s, const char* fragment, qint64 offset = -1) {
        QTest::newRow(name) << to_qba(build(s)) << QString(fragment) << offset;
    };
    const Bytes valid = build(valid_spec());
    QTest::newRow("empty file") << QByteArray() << QString("magic") << qint64{0};
    QTest::newRow("three bytes") << to_qba(Bytes(valid.begin(), valid.begin() + 3)) << QString("magic") << qint64{0};
    QTest::newRow("magic only") << to_qba(Bytes(valid.begin(), valid.begin() + 4)) << QString("version") << qint64{4};
    row("bad magic", with([](Spec& s) { s.magic = "GGML"; }), "magic", 0);
    row("version 1", with([](Spec& s) { s.version = 1; }), "version 1", 4);
    row("version 4", with([](Spec& s) { s.version = 4; }), "version 4", 4);
    row("version 0", with([](Spec& s) { s.version = 0; }), "version", 4);
    row("big-endian version", with([](Spec& s) { s.version = 0x03000000; }), "big-endian", 4);
    row("n_tensors 2^63", with([](Spec& s) { s.n_tensors = kHuge63; }), "tensor count", 8);
    row("n_tensors 2^64-1", with([](Spec& s) { s.n_tensors = ~uint64_t{0}; }), "tensor count", 8);
    row("n_tensors larger than the file", with([](Spec& s) { s.n_tensors = 100; }), "tensor count", 8);
    row("n_kv 2^62", with([](Spec& s) { s.n_kv = uint64_t{1} << 62; }), "metadata count", 16);
    row("n_kv larger than the file", with([](Spec& s) { s.n_kv = 1000; }), "metadata count", 16);
    row("n_kv one too many", with([](Spec& s) { s.n_kv = 6; }), "");
    row("n_tensors one too many", with([](Spec& s) { s.n_tensors = 3; }), "");
    {
        Bytes b = valid;
        poke<uint64_t>(b, 24, uint64_t{1} << 60);  // length of the first key
        QTest::newRow("key length 2^60") << to_qba(b) << QString("string length") << qint64{24};
        poke<uint64_t>(b, 24, b.size() - 32 + 1);
        QTest::newRow("key length one past the end") << to_qba(b) << QString("exceeds") << qint64{24};
        b = valid;
        const size_t name = find_string_field(b, "b.weight");
        poke<uint64_t>(b, name, uint64_t{1} << 62);
        QTest::newRow("tensor name length 2^62") << to_qba(b) << QString("name") << qint64(name);
    }
    row("string value length 2^60",
        with([](Spec& s) { s.kvs[0].value = Bytes(8); poke<uint64_t>(s.kvs[0].value, 0, uint64_t{1} << 60); }),
        "string value");
    row("array length 2^63 of u8", with([](Spec& s) { s.kvs[4].value = enc_array(0, kHuge63, {}); }), "array length");
    row("array length 2^64-1 of arrays",
        with([](Spec& s) { s.kvs[4].value = enc_array(T_ARRAY, ~uint64_t{0}, {}); }), "array length");
    row("array of u32 longer than the file",
        with([](Spec& s) { s.kvs[4].value = enc_array(T_U32, 200, {}); }), "array length");
    row("array of strings with a 2^60 string",
        with([](Spec& s) { Bytes item(8); poke<uint64_t>(item, 0, uint64_t{1} << 60); s.kvs[4].value = enc_array(T_STRING, 1, item); }),
        "string value");
    row("unknown value type 13", with([](Spec& s) { s.kvs[2].type = 13; }), "value type 13");
    row("value type 2^31", with([](Spec& s) { s.kvs[2].type = 0x80000000u; }), "value type");
    row("unknown array element type", with([](Spec& s) { s.kvs[4].value = enc_array(99, 1, {0}); }), "unknown value type 99");
    row("bool value 2", with([](Spec& s) { s.kvs[3].value = {2}; }), "neither 0 nor 1");
    row("bool 255 inside an array", with([](Spec& s) { s.kvs[4].value = enc_array(T_BOOL, 3, {0, 1, 255}); }), "bool");
    row("duplicate key", with([](Spec& s) { s.kvs[2].key = "general.architecture"; }), "duplicate key");
    row("arrays nested 9 deep", with([](Spec& s) { s.kvs[4].value = enc_nested(kMaxArrayNesting + 1); }), "nested");
    row("arrays nested 10000 deep", with([](Spec& s) { s.kvs[4].value = enc_nested(10000); }), "nested");
    row("alignment 0", with([](Spec& s) { s.kvs[1].value = enc_u32(0); }), "power of two");
    row("alignment 48", with([](Spec& s) { s.kvs[1].value = enc_u32(48); }), "power of two");
    row("alignment as u64", with([](Spec& s) { s.kvs[1].type = T_U64; s.kvs[1].value = Bytes(8); s.kvs[1].value[0] = 32; }), "u32");
    row("alignment as string", with([](Spec& s) { s.kvs[1].type = T_STRING; s.kvs[1].value = enc_str("32"); }), "u32");
    row("n_dims 0", with([](Spec& s) { s.infos[1].n_dims = 0; s.infos[1].dims.clear(); }), "n_dims");
    row("n_dims 5", with([](Spec& s) { s.infos[1].n_dims = 5; s.infos[1].dims = {32, 2, 1, 1, 1}; }), "n_dims");
    row("n_dims 2^32-1", with([](Spec& s) { s.infos[1].n_dims = ~0u; }), "n_dims");
    row("dim 0", with([](Spec& s) { s.infos[1].dims = {32, 0}; }), "dims[1]");
    row("dim 2^63 (negative as int64)", with([](Spec& s) { s.infos[0].dims = {kHuge63}; }), "dims[0]");
    row("dims product overflows int64", with([](Spec& s) { s.infos[1].dims = {uint64_t{1} << 32, uint64_t{1} << 32}; }), "overflows");
    row("four dims product overflows", with([](Spec& s) { s.infos[1].n_dims = 4; s.infos[1].dims = {1u << 20, 1u << 20, 1u << 20, 1u << 20}; }), "overflows");
    row("byte size overflows uint64", with([](Spec& s) { s.infos[0].dims = {uint64_t{1} << 62}; }), "overflows");
    row("tensor type 4 (removed from ggml)", with([](Spec& s) { s.infos[1].type = 4; }), "unknown tensor type id 4");
    row("tensor type 1000", with([](Spec& s) { s.infos[1].type = 1000; }), "unknown tensor type");
    row("row not a multiple of the block", with([](Spec& s) { s.infos[1].dims = {33, 2}; }), "not a multiple");
    row("offset not aligned", with([](Spec& s) { s.infos[1].offset = 48; }), "alignment");
    row("offset past the data", with([](Spec& s) { s.infos[1].offset = 4096; }), "outside the file");
    row("data straddles the end", with([](Spec& s) { s.infos[1].offset = 64; }), "outside the file");
    row("offset near 2^64", with([](Spec& s) { s.infos[1].offset = ~uint64_t{0} - 31; }), "outside the file");
    row("no data section", with([](Spec& s) { s.data_bytes = 0; }), "outside the file");
    row("duplicate tensor name", with([](Spec& s) { s.infos[1].name = "a.weight"; }), "duplicate tensor");
}

void TestGgufHostile::handcrafted() { expectRejected(); }

void TestGgufHostile::expectRejected() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, fragment);
    QFETCH(qint64, offset);
    const QString problem = bytes_problem(from_qba(bytes), fragment, offset);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void TestGgufHostile::nestingAtTheLimitIsAccepted() {
    Spec s = valid_spec();
    s.kvs[4].value = enc_nested(kMaxArrayNesting);
    const auto f = GgufFile::from_bytes(build(s), "nested.gguf");
    const Value* v = f->find("test.tokens");
    for (int i = 1; i < kMaxArrayNesting; ++i) v = &v->to_array("nested").items.at(0);
    QCOMPARE(v->to_array("innermost").items.at(0).to_int64("item"), 7);
}

void TestGgufHostile::realFileMutations_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("fragment");
    QTest::addColumn<qint64>("offset");
    const Bytes real = load(test::model_path("stories260K-q8_0.gguf"));
    const auto row = [&](const char* name, const std::function<void(Bytes&)>& mutate, const char* fragment,
                         qint64 offset = -1) {
        Bytes b = real;
        mutate(b);
        QTest::newRow(name) << to_qba(b) << QString(fragment) << offset;
    };
    // Layout of this file (see the README): the first key is tokenizer.ggml.tokens, 512 strings.
    const size_t tokens_key = find_string_field(real, "tokenizer.ggml.tokens");
    QCOMPARE(tokens_key, size_t{24});
    const size_t tokens_type = tokens_key + 8 + 21;
    const size_t tokens_elem_type = tokens_type + 4;
    const size_t tokens_count = tokens_elem_type + 4;
    const size_t first_token = tokens_count + 8;
    // A tensor info: name, n_dims, dims, type, offset.
    const size_t embd = find_string_field(real, "token_embd.weight") + 8 + 17;
    const size_t embd_type = embd + 4 + 16;
    const size_t embd_offset = embd_type + 4;
    const size_t last = find_string_field(real, "blk.4.ffn_norm.weight") + 8 + 21;
    QVERIFY(embd > first_token && last > embd);

    row("real: bad magic", [](Bytes& b) { b[3] = 'X'; }, "magic", 0);
    row("real: version 1", [](Bytes& b) { poke<uint32_t>(b, 4, 1); }, "version 1", 4);
    row("real: version 4", [](Bytes& b) { poke<uint32_t>(b, 4, 4); }, "version 4", 4);
    row("real: n_tensors 2^63", [](Bytes& b) { poke<uint64_t>(b, 8, kHuge63); }, "tensor count", 8);
    row("real: n_tensors 49", [](Bytes& b) { poke<uint64_t>(b, 8, 49); }, "");
    row("real: n_kv 2^62", [](Bytes& b) { poke<uint64_t>(b, 16, uint64_t{1} << 62); }, "metadata count", 16);
    row("real: first key length 2^60", [&](Bytes& b) { poke<uint64_t>(b, tokens_key, uint64_t{1} << 60); }, "key", qint64(tokens_key));
    row("real: value type 13", [&](Bytes& b) { poke<uint32_t>(b, tokens_type, 13); }, "value type", qint64(tokens_type));
    row("real: token array element type 99", [&](Bytes& b) { poke<uint32_t>(b, tokens_elem_type, 99); }, "element type", qint64(tokens_elem_type));
    row("real: token count 2^61", [&](Bytes& b) { poke<uint64_t>(b, tokens_count, uint64_t{1} << 61); }, "array length", qint64(tokens_count));
    row("real: token count 2^40", [&](Bytes& b) { poke<uint64_t>(b, tokens_count, uint64_t{1} << 40); }, "array length", qint64(tokens_count));
    row("real: first token length 2^60", [&](Bytes& b) { poke<uint64_t>(b, first_token, uint64_t{1} << 60); }, "string value", qint64(first_token));
    row("real: duplicate key (bos renamed eos)", [&](Bytes& b) {
        b[find_string_field(b, "tokenizer.ggml.bos_token_id") + 8 + 15] = 'e';
    }, "duplicate key");
    row("real: duplicate tensor (attn_q renamed attn_k)", [&](Bytes& b) {
        b[find_string_field(b, "blk.0.attn_q.weight") + 8 + 11] = 'k';
    }, "duplicate tensor");
    row("real: n_dims 0", [&](Bytes& b) { poke<uint32_t>(b, embd, 0); }, "n_dims", qint64(embd));
    row("real: n_dims 5", [&](Bytes& b) { poke<uint32_t>(b, embd, 5); }, "n_dims", qint64(embd));
    row("real: dims overflow", [&](Bytes& b) {
        poke<uint64_t>(b, embd + 4, uint64_t{1} << 32);
        poke<uint64_t>(b, embd + 12, uint64_t{1} << 32);
    }, "overflows", qint64(embd + 12));
    row("real: tensor type 99", [&](Bytes& b) { poke<uint32_t>(b, embd_type, 99); }, "unknown tensor type", qint64(embd_type));
    row("real: row 48 is not a q8_0 block multiple", [&](Bytes& b) { poke<uint64_t>(b, embd + 4, 48); }, "not a multiple");
    row("real: misaligned data offset", [&](Bytes& b) { poke<uint64_t>(b, embd_offset, 1); }, "alignment", qint64(embd_offset));
    row("real: last tensor beyond the end", [&](Bytes& b) { poke<uint64_t>(b, last + 4 + 8 + 4, 400000); }, "outside the file");
}

void TestGgufHostile::realFileMutations() { expectRejected(); }

void TestGgufHostile::boolNotZeroOrOneInRealVocab() {
    // bert-bge's vocab file stores bert.attention.causal = false, the only bool among the shared files.
    Bytes b = load(test::vocab_path("ggml-vocab-bert-bge.gguf"));
    const size_t key = find_string_field(b, "bert.attention.causal");
    QVERIFY(key != std::string::npos);
    const size_t value = key + 8 + 21 + 4;
    QCOMPARE(b[value], uint8_t{0});
    QCOMPARE(GgufFile::from_bytes(b, "bert.gguf")->get_bool_or("bert.attention.causal", true), false);
    b[value] = 2;
    const QString problem = bytes_problem(b, "bert.attention.causal", qint64(value));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void TestGgufHostile::truncatedWriterFileAtEveryOffset() {
    const Bytes full = writer_file();
    const uint64_t needed = end_of_tensor_data(*GgufFile::from_bytes(full, "writer.gguf"));
    QVERIFY(needed <= full.size());
    for (size_t cut = 0; cut < full.size(); ++cut) {
        const Bytes part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
        if (cut < needed) {
            const QString problem = bytes_problem(part, "");
            QVERIFY2(problem.isEmpty(), qPrintable(QString("cut at %1: %2").arg(cut).arg(problem)));
        } else {
            // Only the final tensor's alignment padding is missing: every tensor is still whole.
            QCOMPARE(GgufFile::from_bytes(part, "writer.gguf")->tensors().size(), size_t{3});
        }
    }
}

void TestGgufHostile::truncatedRealFile() {
    const Bytes full = load(test::model_path("stories260K-q8_0.gguf"));
    const auto f = GgufFile::from_bytes(full, "q8_0.gguf");
    QCOMPARE(end_of_tensor_data(*f), uint64_t{full.size()});
    // Every cut inside the header, metadata and tensor infos, then a sample across the tensor data.
    std::vector<size_t> cuts;
    for (size_t cut = 0; cut <= f->data_offset(); ++cut) cuts.push_back(cut);
    for (size_t cut = f->data_offset() + 1; cut < full.size(); cut += 997) cuts.push_back(cut);
    cuts.push_back(full.size() - 1);
    for (size_t cut : cuts) {
        const QString problem = rejection_problem(
            [&] { GgufFile::from_bytes({full.data(), cut}, "q8_0.gguf"); }, "q8_0.gguf", "");
        QVERIFY2(problem.isEmpty(), qPrintable(QString("cut at %1: %2").arg(cut).arg(problem)));
    }
}

void TestGgufHostile::realFilesOnDisk() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const auto write_file = [&](const QString& name, const Bytes& bytes) {
        QFile out(dir.filePath(name));
        QVERIFY(out.open(QIODevice::WriteOnly));
        QCOMPARE(out.write(reinterpret_cast<const char*>(bytes.data()), qint64(bytes.size())), qint64(bytes.size()));
    };
    const auto open_problem = [&](const QString& name, const QString& fragment) {
        const std::string path = dir.filePath(name).toStdString();
        return rejection_problem([&] { GgufFile::open(path); }, name, fragment);
    };
    const Bytes real = load(test::model_path("stories260K-q8_0.gguf"));

    write_file("empty.gguf", {});
    QString problem = open_problem("empty.gguf", "magic");
    QVERIFY2(problem.isEmpty(), qPrintable(problem));

    write_file("truncated.gguf", Bytes(real.begin(), real.begin() + 200000));
    problem = open_problem("truncated.gguf", "outside the file");
    QVERIFY2(problem.isEmpty(), qPrintable(problem));

    Bytes bad_magic = real;
    bad_magic[0] = 'g';
    write_file("bad-magic.gguf", bad_magic);
    problem = open_problem("bad-magic.gguf", "magic");
    QVERIFY2(problem.isEmpty(), qPrintable(problem));

    Bytes huge_kv = real;
    poke<uint64_t>(huge_kv, 16, ~uint64_t{0});
    write_file("huge-kv.gguf", huge_kv);
    problem = open_problem("huge-kv.gguf", "metadata count");
    QVERIFY2(problem.isEmpty(), qPrintable(problem));

    // Nothing to parse here, so there is no byte offset: the message names the path and the reason.
    for (const QString& name : {QString("does-not-exist.gguf"), QString("a-directory.gguf")}) {
        if (name.startsWith("a-directory")) QVERIFY(QDir(dir.path()).mkdir(name));
        const std::string path = dir.filePath(name).toStdString();
        try {
            GgufFile::open(path);
            QFAIL("expected GgufError");
        } catch (const GgufError& e) {
            QVERIFY2(QString(e.what()).contains(name), e.what());
        }
    }
    // The intact file still opens from disk (the mutations above were of copies).
    write_file("intact.gguf", real);
    QCOMPARE(GgufFile::open(dir.filePath("intact.gguf").toStdString())->tensors().size(), size_t{48});
}

void TestGgufHostile::controlBytesInNamesAreEscaped() {
    Spec s = valid_spec();
    s.kvs[2].key = std::string("evil\n\x01key");
    s.kvs[3].key = s.kvs[2].key;
    try {
        GgufFile::from_bytes(build(s), "escape.gguf");
        QFAIL("expected GgufError");
    } catch (const GgufError& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.find('\n') == std::string::npos && msg.find('\x01') == std::string::npos, e.what());
        QVERIFY2(msg.find("evil\\x0a\\x01key") != std::string::npos, e.what());
    }
}

QTEST_GUILESS_MAIN(TestGgufHostile)
#include "tst_gguf_hostile.moc"
