// Vocab::from_gguf on malformed tokenizer metadata. Each case copies the tokenizer keys of a real
// vocabulary (stories260K for SPM, deepseek-coder for BPE) with GgufWriter and breaks one thing. Bad
// data must end in GgufError / UnsupportedModelError naming the key; questionable but usable data
// (ids llama.cpp also ignores, unknown token types, empty texts) must load and tokenize without a
// crash. Runs under ASan/UBSan too (label "asan").
#include <QtTest>

#include <functional>
#include <map>
#include <set>

#include "peregrine/error.h"
#include "peregrine/gguf.h"
#include "peregrine/vocab.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::gguf;

namespace {

const GgufFile& base_file(const std::string& name) {
    static std::map<std::string, std::unique_ptr<GgufFile>> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        const std::string path = name.rfind("ggml-vocab", 0) == 0 ? test::vocab_path(name) : test::model_path(name);
        it = cache.emplace(name, GgufFile::open(path)).first;
    }
    return *it->second;
}

constexpr const char* kSpm = "stories260K-f32.gguf";
constexpr const char* kBpe = "ggml-vocab-deepseek-coder.gguf";

using Edit = std::function<void(const GgufFile& base, GgufWriter& out)>;

// The base file's tokenizer keys and general.name, minus `drop`, then `edit`.
std::unique_ptr<GgufFile> mutated(const std::string& base_name, const Edit& edit, const std::set<std::string>& drop = {}) {
    const GgufFile& base = base_file(base_name);
    GgufWriter writer;
    for (const auto& [key, value] : base.metadata()) {
        if ((key.rfind("tokenizer.", 0) == 0 || key == "general.name") && !drop.count(key)) writer.set(key, value);
    }
    if (edit) edit(base, writer);
    const std::vector<uint8_t> bytes = writer.to_bytes();
    return GgufFile::from_bytes(bytes, "hostile-" + base_name);
}

struct RejectCase {
    const char* name;
    const char* base;
    Edit edit;
    std::set<std::string> drop;
    bool unsupported;   // UnsupportedModelError rather than GgufError
    const char* key;    // must appear in the message
};

const std::vector<RejectCase>& reject_cases() {
    static const std::vector<RejectCase> cases = {
        {"scores shorter than tokens", kSpm,
         [](const GgufFile& b, GgufWriter& w) {
             auto scores = b.get_float_array("tokenizer.ggml.scores");
             scores.pop_back();
             w.set_float32_array("tokenizer.ggml.scores", scores);
         },
         {}, false, "tokenizer.ggml.scores"},
        {"token_type longer than tokens", kSpm,
         [](const GgufFile& b, GgufWriter& w) {
             std::vector<int32_t> types;
             for (int64_t t : b.get_int_array("tokenizer.ggml.token_type")) types.push_back(static_cast<int32_t>(t));
             types.push_back(1);
             w.set_int32_array("tokenizer.ggml.token_type", types);
         },
         {}, false, "tokenizer.ggml.token_type"},
        {"bos id = n_tokens", kSpm, [](const GgufFile&, GgufWriter& w) { w.set_uint32("tokenizer.ggml.bos_token_id", 512); },
         {}, false, "tokenizer.ggml.bos_token_id"},
        {"eos id huge", kBpe,
         [](const GgufFile&, GgufWriter& w) { w.set_uint32("tokenizer.ggml.eos_token_id", 0x7FFFFFF0u); },
         {}, false, "tokenizer.ggml.eos_token_id"},
        {"unk id out of range", kSpm,
         [](const GgufFile&, GgufWriter& w) { w.set_uint32("tokenizer.ggml.unknown_token_id", 100000); },
         {}, false, "tokenizer.ggml.unknown_token_id"},
        {"bos id is a string", kSpm,
         [](const GgufFile&, GgufWriter& w) { w.set_string("tokenizer.ggml.bos_token_id", "1"); },
         {}, false, "tokenizer.ggml.bos_token_id"},
        {"merge names an unknown token", kBpe,
         [](const GgufFile& b, GgufWriter& w) {
             auto merges = b.get_string_array("tokenizer.ggml.merges");
             merges[10] = "notatoken\xC4\xA0 x";
             w.set_string_array("tokenizer.ggml.merges", merges);
         },
         {}, false, "tokenizer.ggml.merges"},
        {"merge result is not a token", kBpe,
         [](const GgufFile& b, GgufWriter& w) {
             auto merges = b.get_string_array("tokenizer.ggml.merges");
             merges.push_back("\xC3\xB5 \xC3\xB7");   // "õ" and "÷" exist, "õ÷" does not
             w.set_string_array("tokenizer.ggml.merges", merges);
         },
         {}, false, "tokenizer.ggml.merges"},
        {"merge without a separator", kBpe,
         [](const GgufFile& b, GgufWriter& w) {
             auto merges = b.get_string_array("tokenizer.ggml.merges");
             merges[0] = "ab";
             w.set_string_array("tokenizer.ggml.merges", merges);
         },
         {}, false, "tokenizer.ggml.merges"},
        {"merges missing", kBpe, nullptr, {"tokenizer.ggml.merges"}, false, "tokenizer.ggml.merges"},
        {"merges are numbers", kBpe,
         [](const GgufFile&, GgufWriter& w) { w.set_int32_array("tokenizer.ggml.merges", {1, 2, 3}); },
         {}, false, "tokenizer.ggml.merges"},
        {"empty vocabulary", kSpm,
         [](const GgufFile&, GgufWriter& w) {
             w.set_string_array("tokenizer.ggml.tokens", {});
             w.set_float32_array("tokenizer.ggml.scores", {});
             w.set_int32_array("tokenizer.ggml.token_type", {});
         },
         {}, false, "tokenizer.ggml.tokens"},
        {"tokens missing", kSpm, nullptr, {"tokenizer.ggml.tokens"}, false, "tokenizer.ggml.tokens"},
        {"tokens are numbers", kSpm,
         [](const GgufFile&, GgufWriter& w) { w.set_int32_array("tokenizer.ggml.tokens", {1, 2, 3}); },
         {}, false, "tokenizer.ggml.tokens"},
        {"scores are strings", kSpm,
         [](const GgufFile& b, GgufWriter& w) {
             w.set_string_array("tokenizer.ggml.scores", b.get_string_array("tokenizer.ggml.tokens"));
         },
         {}, false, "tokenizer.ggml.scores"},
        {"duplicate token text", kSpm,
         [](const GgufFile& b, GgufWriter& w) {
             auto tokens = b.get_string_array("tokenizer.ggml.tokens");
             tokens[300] = tokens[301];
             w.set_string_array("tokenizer.ggml.tokens", tokens);
         },
         {}, false, "tokenizer.ggml.tokens"},
        {"model missing", kSpm, nullptr, {"tokenizer.ggml.model"}, false, "tokenizer.ggml.model"},
        {"model is a number", kSpm, [](const GgufFile&, GgufWriter& w) { w.set_uint32("tokenizer.ggml.model", 1); },
         {}, false, "tokenizer.ggml.model"},
        {"unknown tokenizer model", kSpm,
         [](const GgufFile&, GgufWriter& w) { w.set_string("tokenizer.ggml.model", "sentencepiece-v9"); },
         {}, true, "tokenizer.ggml.model"},
        {"WordPiece model", kSpm, [](const GgufFile&, GgufWriter& w) { w.set_string("tokenizer.ggml.model", "bert"); },
         {}, true, "tokenizer.ggml.model"},
        {"unknown pre-tokenizer", kBpe,
         [](const GgufFile&, GgufWriter& w) { w.set_string("tokenizer.ggml.pre", "no-such-pretokenizer"); },
         {}, true, "tokenizer.ggml.pre"},
    };
    return cases;
}

std::string to_string(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += std::to_string(id) + ' ';
    return s;
}

}  // namespace

class VocabHostileTest : public QObject {
    Q_OBJECT

private slots:
    void basesLoad() {
        // The unmodified copies load: every failure below is caused by its one mutation.
        QCOMPARE(Vocab::from_gguf(*mutated(kSpm, nullptr))->n_tokens(), 512);
        QCOMPARE(Vocab::from_gguf(*mutated(kBpe, nullptr))->n_tokens(), 32256);
    }

    void rejects_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < reject_cases().size(); ++i) QTest::newRow(reject_cases()[i].name) << static_cast<int>(i);
    }

    void rejects() {
        QFETCH(int, index);
        const RejectCase& c = reject_cases()[static_cast<size_t>(index)];
        std::unique_ptr<GgufFile> file;
        try {
            file = mutated(c.base, c.edit, c.drop);
        } catch (const GgufError& e) {
            // A mutation the GGUF layer itself refuses is fine too, as long as it names the key.
            QVERIFY2(QString(e.what()).contains(c.key), e.what());
            return;
        }
        try {
            Vocab::from_gguf(*file);
            QFAIL("from_gguf accepted the mutated metadata");
        } catch (const UnsupportedModelError& e) {
            QVERIFY2(c.unsupported, e.what());
            QVERIFY2(QString(e.what()).contains(c.key), e.what());
            QVERIFY2(QString(e.what()).contains("hostile-"), e.what());   // names the file
        } catch (const GgufError& e) {
            QVERIFY2(!c.unsupported, e.what());
            QVERIFY2(QString(e.what()).contains(c.key), e.what());
            QVERIFY2(QString(e.what()).contains("hostile-"), e.what());
        }
    }

    // 4294967295 is how GGUF files write "no such token" (stories260K has it for sep/pad).
    void noneIdMeansNone() {
        const auto vocab = Vocab::from_gguf(*mutated(kSpm, [](const GgufFile&, GgufWriter& w) {
            w.set_uint32("tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
            w.set_uint32("tokenizer.ggml.eot_token_id", 0xFFFFFFFFu);
        }));
        QCOMPARE(vocab->bos(), -1);
        QCOMPARE(vocab->eot(), -1);
        QVERIFY(!vocab->add_bos());   // nothing to add
        QCOMPARE(to_string(vocab->tokenize("", true, true)), std::string());
    }

    // llama.cpp only warns about such ids and keeps its default; real files carry them.
    void outOfRangePaddingIdIsIgnored() {
        const auto vocab = Vocab::from_gguf(*mutated(kBpe, [](const GgufFile&, GgufWriter& w) {
            w.set_uint32("tokenizer.ggml.padding_token_id", 40000);
            w.set_uint32("tokenizer.ggml.fim_pad_token_id", 99999);
        }));
        QCOMPARE(vocab->eog_ids(), std::vector<int32_t>{32014});
    }

    void unknownTokenTypesAndEmptyTexts() {
        const auto vocab = Vocab::from_gguf(*mutated(kSpm, [](const GgufFile& b, GgufWriter& w) {
            std::vector<int32_t> types;
            for (int64_t t : b.get_int_array("tokenizer.ggml.token_type")) types.push_back(static_cast<int32_t>(t));
            types[400] = 99;
            auto tokens = b.get_string_array("tokenizer.ggml.tokens");
            tokens[401] = "";
            w.set_int32_array("tokenizer.ggml.token_type", types);
            w.set_string_array("tokenizer.ggml.tokens", tokens);
        }));
        QCOMPARE(vocab->token_type(400), TokenType::Undefined);
        QCOMPARE(vocab->token_to_piece(400), std::string());   // undefined tokens print nothing
        QCOMPARE(vocab->token_text(401), std::string("[EMPTY_401]"));
        QVERIFY(!vocab->tokenize("Once upon a time", true, true).empty());
    }

    // An SPM vocabulary whose byte tokens are missing or malformed: byte fallback goes to UNK.
    void spmWithoutByteTokens() {
        const auto vocab = Vocab::from_gguf(*mutated(kSpm, [](const GgufFile& b, GgufWriter& w) {
            auto tokens = b.get_string_array("tokenizer.ggml.tokens");
            for (int id = 3; id < 3 + 256; ++id) tokens[id] = "byte" + std::to_string(id);   // still typed BYTE
            w.set_string_array("tokenizer.ggml.tokens", tokens);
        }));
        const std::vector<int32_t> ids = vocab->tokenize("\xE6\x97\xA5", false, false);   // "日", not in the vocabulary
        QVERIFY(!ids.empty());
        for (int32_t id : ids) QVERIFY(id == vocab->unk() || id == vocab->token_id("\xE2\x96\x81"));
        QCOMPARE(vocab->token_to_piece(3), std::string("byte3"));   // malformed byte token: shown as text
    }

    void invalidUtf8Input() {
        // GPT-2: byte-level BPE without user-defined tokens loses nothing. (deepseek-coder would not
        // round-trip: it has "\xC3\xBF" etc. as USER_DEFINED tokens, which print as their text.)
        const auto bpe = Vocab::from_gguf(*GgufFile::open(test::vocab_path("ggml-vocab-gpt-2.gguf")));
        const std::string broken = "ok \xFF\xFE bad \xE6\x97 tail \xC3";
        const std::vector<int32_t> ids = bpe->tokenize(broken, false, false);
        QCOMPARE(bpe->detokenize(ids, false, false), broken);

        // SPM splits text into "characters" by lead byte alone (as llama.cpp does), so a broken lead
        // byte swallows what follows, here part of the next "\xE2\x96\x81" (an escaped space). Those
        // bytes come out as <0xNN> tokens, so the space reappears as a literal U+2581, as in llama.cpp.
        const auto spm = Vocab::from_gguf(*mutated(kSpm, nullptr));
        const std::vector<int32_t> spm_ids = spm->tokenize(broken, true, true);
        QCOMPARE(spm->detokenize(spm_ids, true, false),
                 std::string(" ok \xFF\xFE\xE2\x96\x81" "bad \xE6\x97\xE2\x96\x81tail \xC3"));
    }

    void badIdsAreRequestErrors() {
        const auto vocab = Vocab::from_gguf(*mutated(kSpm, nullptr));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, vocab->token_to_piece(512));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, vocab->token_to_piece(-1));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, vocab->token_text(600));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, vocab->detokenize(std::vector<int32_t>{1, 2, 9999}, false, true));
        StreamDecoder decoder(*vocab);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, decoder.push(100000));
        QCOMPARE(vocab->token_id("no such token"), -1);
    }
};

QTEST_GUILESS_MAIN(VocabHostileTest)
#include "tst_vocab_hostile.moc"
