// StreamDecoder: ids in one at a time, never a broken UTF-8 sequence out, and all the output together
// equals the detokenized text. Emoji and CJK through the 512-token stories260K vocabulary become one
// <0xNN> token per byte, and through Qwen's byte-level BPE they split mid-character as well.
#include <QStringDecoder>
#include <QtTest>

#include <map>
#include <memory>

#include "peregrine/gguf.h"
#include "peregrine/vocab.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

const Vocab& vocab_for(const std::string& path) {
    static std::map<std::string, std::shared_ptr<const Vocab>> cache;
    auto it = cache.find(path);
    if (it == cache.end()) it = cache.emplace(path, Vocab::from_gguf(*gguf::GgufFile::open(path))).first;
    return *it->second;
}

bool is_valid_utf8(const std::string& bytes) {
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString decoded = decoder.decode(QByteArrayView(bytes.data(), static_cast<qsizetype>(bytes.size())));
    return !decoder.hasError() && decoded.toUtf8() == QByteArray::fromStdString(bytes);
}

struct Streamed {
    std::string text;
    int held_back = 0;   // pushes that returned nothing although the piece was not empty
};

Streamed stream(const Vocab& vocab, const std::vector<int32_t>& ids, bool special) {
    StreamDecoder decoder(vocab, special);
    Streamed result;
    for (const int32_t id : ids) {
        const std::string out = decoder.push(id);
        if (!is_valid_utf8(out)) {
            qWarning("push(%d) returned invalid UTF-8", id);
            return {};
        }
        if (out.empty() && !vocab.token_to_piece(id, special).empty()) ++result.held_back;
        result.text += out;
    }
    result.text += decoder.flush();
    return result;
}

const char* kTexts[] = {
    "emoji: \xF0\x9F\xA6\x99\xF0\x9F\x9A\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD done",   // 🦙🚀👍🏽
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88",   // 日本語のテキスト
    "Caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 \xE2\x82\xAC 5",   // Café naïve résumé € 5
    "mixed \xE4\xBD\xA0\xE5\xA5\xBD, world! \xF0\x9F\x98\x80",   // 你好 😀
};

}  // namespace

class StreamDecoderTest : public QObject {
    Q_OBJECT

private slots:
    void matchesDetokenize_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QByteArray>("text");
        const std::string models[] = {test::model_path("stories260K-f32.gguf"),
                                      test::vocab_path("rebuilt-vocab-qwen3.gguf"),
                                      test::vocab_path("ggml-vocab-llama-spm.gguf")};
        for (const std::string& model : models) {
            for (size_t i = 0; i < std::size(kTexts); ++i) {
                const std::string name = model.substr(model.rfind('/') + 1) + " #" + std::to_string(i);
                QTest::newRow(name.c_str()) << QString::fromStdString(model) << QByteArray(kTexts[i]);
            }
        }
    }

    void matchesDetokenize() {
        QFETCH(QString, model);
        QFETCH(QByteArray, text);
        const Vocab& vocab = vocab_for(model.toStdString());
        const std::vector<int32_t> ids = vocab.tokenize(text.toStdString(), /*add_special=*/false, false);

        const Streamed streamed = stream(vocab, ids, /*special=*/false);
        QVERIFY(is_valid_utf8(streamed.text));
        // detokenize strips SPM's prefix space from the first piece unless a BOS comes first; with a
        // BOS that remove_special drops, detokenize is the plain concatenation a stream shows.
        std::vector<int32_t> with_bos = ids;
        if (vocab.bos() >= 0) with_bos.insert(with_bos.begin(), vocab.bos());
        QCOMPARE(QByteArray::fromStdString(streamed.text),
                 QByteArray::fromStdString(vocab.detokenize(with_bos, /*remove_special=*/true, false)));
        std::string expected = text.toStdString();
        if (vocab.add_space_prefix()) expected.insert(expected.begin(), ' ');   // SPM's prefix space
        QCOMPARE(QByteArray::fromStdString(streamed.text), QByteArray::fromStdString(expected));
    }

    // The byte-fallback path really is exercised: stories260K spells the emoji as <0xNN> tokens and
    // the decoder has to hold three of each four bytes back.
    void holdsPartialCharacters() {
        const Vocab& vocab = vocab_for(test::model_path("stories260K-f32.gguf"));
        const std::vector<int32_t> ids = vocab.tokenize(kTexts[0], false, false);
        const Streamed streamed = stream(vocab, ids, false);
        QCOMPARE(streamed.held_back, 4 * 3);   // four emoji code points, three bytes each held
    }

    void invalidBytesBecomeReplacementCharacters() {
        const Vocab& vocab = vocab_for(test::model_path("stories260K-f32.gguf"));
        const auto byte = [&](const char* name) { return vocab.token_id(name); };
        StreamDecoder decoder(vocab);
        QCOMPARE(decoder.push(byte("<0xFF>")), std::string("\xEF\xBF\xBD"));   // can never start a character
        QCOMPARE(decoder.push(byte("<0xE6>")), std::string());                  // may still become one
        QCOMPARE(decoder.push(byte("<0x41>")), std::string("\xEF\xBF\xBD" "A"));   // it did not
        QCOMPARE(decoder.push(byte("<0xF0>")), std::string());
        QCOMPARE(decoder.push(byte("<0x9F>")), std::string());
        QCOMPARE(decoder.flush(), std::string("\xEF\xBF\xBD"));   // unfinished at the end
        QCOMPARE(decoder.flush(), std::string());
        QCOMPARE(decoder.push(byte("<0xC3>")), std::string());
        QCOMPARE(decoder.push(byte("<0xA9>")), std::string("\xC3\xA9"));   // é, completed across pushes
    }

    void specialTokensFollowTheFlag() {
        const Vocab& vocab = vocab_for(test::model_path("stories260K-f32.gguf"));
        StreamDecoder plain(vocab, /*special=*/false);
        StreamDecoder special(vocab, /*special=*/true);
        QCOMPARE(plain.push(vocab.bos()), std::string());
        QCOMPARE(special.push(vocab.bos()), std::string("<s>"));
    }
};

QTEST_GUILESS_MAIN(StreamDecoderTest)
#include "tst_stream_decoder.moc"
