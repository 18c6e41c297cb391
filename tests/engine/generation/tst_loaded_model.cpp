// LoadedModel: the file → model + tokenizer + chat template path every front end uses.
#include <QtTest>

#include "peregrine/error.h"
#include "peregrine/gguf.h"
#include "peregrine/loaded_model.h"
#include "peregrine/log.h"
#include "support/test_paths.h"

using namespace peregrine;

class TestLoadedModel : public QObject {
    Q_OBJECT
private slots:
    void loadsModelTokenizerAndTemplate() {
        const auto loaded = LoadedModel::load(test::model_path("stories260K-q4_0.gguf"));
        QCOMPARE(loaded.model->info().n_vocab, 512);
        QCOMPARE(loaded.vocab->n_tokens(), 512);
        QCOMPARE(loaded.tokenize_prompt("Once upon a time"), (std::vector<int32_t>{1, 403, 407, 261, 378}));
    }

    // The model has no template: chatting uses ChatML and says so once per conversation rendered.
    void chatWithoutTemplateWarnsAndUsesChatML() {
        const auto loaded = LoadedModel::load(test::model_path("stories260K-q4_0.gguf"));
        std::vector<std::string> warnings;
        set_log_callback([&](LogLevel level, std::string_view m) {
            if (level == LogLevel::Warn) warnings.emplace_back(m);
        });
        const auto ids = loaded.tokenize_chat({{"user", "hi"}});
        set_log_callback({});
        QCOMPARE(warnings.size(), size_t(1));
        QVERIFY(warnings[0].find("ChatML") != std::string::npos);
        QCOMPARE(ids.front(), loaded.vocab->bos());
        // "<|im_start|>" is not a token of this vocabulary, so it is spelled out in pieces.
        QVERIFY(loaded.vocab->detokenize(ids, true, false).find("<|im_start|>user\nhi<|im_end|>") != std::string::npos);
    }

    void vocabularySizeMismatchIsRejected() {
        // A model whose tokenizer has fewer tokens than its embedding rows cannot be run.
        const auto source = gguf::GgufFile::open(test::model_path("stories260K-f32.gguf"));
        gguf::GgufWriter writer;
        for (const auto& [key, value] : source->metadata()) writer.set(key, value);
        std::vector<std::string> tokens = source->get_string_array("tokenizer.ggml.tokens");
        tokens.pop_back();
        writer.set_string_array("tokenizer.ggml.tokens", tokens);
        std::vector<float> scores = source->get_float_array("tokenizer.ggml.scores");
        scores.pop_back();
        writer.set_float32_array("tokenizer.ggml.scores", scores);
        std::vector<int64_t> types64 = source->get_int_array("tokenizer.ggml.token_type");
        std::vector<int32_t> types(types64.begin(), types64.end() - 1);
        writer.set_int32_array("tokenizer.ggml.token_type", types);
        for (const auto& t : source->tensors()) {
            writer.add_tensor(t.name, t.type, t.dims, {t.data, t.n_bytes});
        }
        QTemporaryDir dir;
        const std::string path = dir.filePath("mismatch.gguf").toStdString();
        writer.write(path);
        try {
            LoadedModel::load(path);
            QFAIL("a vocabulary/embedding mismatch must be rejected");
        } catch (const UnsupportedModelError& e) {
            QVERIFY2(std::string(e.what()).find("511") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestLoadedModel)
#include "tst_loaded_model.moc"
