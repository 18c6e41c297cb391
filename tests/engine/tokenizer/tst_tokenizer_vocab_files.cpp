// llama.cpp's own tokenizer test pairs: for every shared/models/vocab/X.gguf.inp there is an X.gguf.out
// with the ids the Hugging Face tokenizer produced (no special tokens added, none parsed). Every line
// of every pair must match (bert-bge excepted: WordPiece is not supported).
#include <QDir>
#include <QtTest>

#include <map>
#include <memory>

#include "peregrine/gguf.h"
#include "peregrine/vocab.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";

// The .inp file is the test strings, each followed by the separator.
std::vector<std::string> split_inputs(const std::string& content) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t end = content.find(kSeparator, start);
        if (end == std::string::npos) break;
        parts.push_back(content.substr(start, end - start));
        start = end + kSeparator.size();
    }
    return parts;
}

std::vector<std::string> split_lines(const std::string& content) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < content.size()) {
        const size_t end = content.find('\n', start);
        lines.push_back(content.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return lines;
}

QString ids_string(const std::vector<int32_t>& ids) {
    QStringList parts;
    for (const int32_t id : ids) parts << QString::number(id);
    return parts.join(' ');
}

const Vocab& vocab_for(const std::string& gguf_name) {
    static std::map<std::string, std::shared_ptr<const Vocab>> cache;
    auto it = cache.find(gguf_name);
    if (it == cache.end()) {
        const auto file = gguf::GgufFile::open(test::vocab_path(gguf_name));
        it = cache.emplace(gguf_name, Vocab::from_gguf(*file)).first;
    }
    return *it->second;
}

std::vector<std::string> vocab_test_files() {
    const QDir dir(QString::fromStdString(test::vocab_path("")));
    std::vector<std::string> files;
    for (const QString& name : dir.entryList({"*.gguf.inp"}, QDir::Files, QDir::Name)) {
        if (name.contains("bert-bge")) continue;
        files.push_back(name.chopped(4).toStdString());   // X.gguf
    }
    return files;
}

}  // namespace

class TokenizerVocabFilesTest : public QObject {
    Q_OBJECT

private slots:
    void pairsPresent() {
        // 11 pairs with tokenizers in scope: 12 .inp files minus bert-bge.
        QCOMPARE(vocab_test_files().size(), size_t{11});
    }

    void inputMatchesOutput_data() {
        QTest::addColumn<QString>("ggufName");
        QTest::addColumn<QByteArray>("input");   // bytes as in the file
        QTest::addColumn<QString>("expected");
        for (const std::string& name : vocab_test_files()) {
            const auto inputs = split_inputs(test::read_file(test::vocab_path(name + ".inp")));
            const auto outputs = split_lines(test::read_file(test::vocab_path(name + ".out")));
            QVERIFY2(!inputs.empty() && inputs.size() == outputs.size(), name.c_str());
            for (size_t i = 0; i < inputs.size(); ++i) {
                const std::string row = name + " #" + std::to_string(i);
                QTest::newRow(row.c_str()) << QString::fromStdString(name) << QByteArray::fromStdString(inputs[i])
                                           << QString::fromStdString(outputs[i]).simplified();
            }
        }
    }

    void inputMatchesOutput() {
        QFETCH(QString, ggufName);
        QFETCH(QByteArray, input);
        QFETCH(QString, expected);
        const Vocab& vocab = vocab_for(ggufName.toStdString());
        const std::vector<int32_t> ids = vocab.tokenize(input.toStdString(), /*add_special=*/false, /*parse_special=*/false);
        QCOMPARE(ids_string(ids), expected);
    }
};

QTEST_GUILESS_MAIN(TokenizerVocabFilesTest)
#include "tst_tokenizer_vocab_files.moc"
