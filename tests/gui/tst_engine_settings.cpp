// The speed trade-off settings: they survive a QSettings round trip, bad values in the file fall back to
// defaults, the dialog edits every field and gives each a one-line note, unsupported knobs are greyed,
// and a change that needs a reload (context, parallel replies, KV blocks) says so in the window and
// reloads the engine with the new values when asked; speculation and structured output reach the next
// reply's options without a reload.
#include <QCheckBox>
#include <QComboBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "settings/engine_settings.h"
#include "settings/settings_dialog.h"
#include "stats/stats_bar.h"
#include "store/chat_store.h"
#include "support/test_paths.h"
#include "window/main_window.h"
#include "window/notice_bar.h"

using namespace peregrine::ui;

namespace {

EngineSettings customised() {
    EngineSettings s;
    s.threads = 3;
    s.contextLength = 1024;
    s.batchSize = 128;
    s.useMmap = false;
    s.maxTokens = 77;
    s.sampling.temperature = 0.25f;
    s.sampling.top_k = 12;
    s.sampling.top_p = 0.5f;
    s.sampling.min_p = 0.1f;
    s.sampling.repeat_penalty = 1.1f;
    s.sampling.seed = 1234;
    s.maxSequences = 3;
    s.kvCacheBlocks = 96;
    s.speculative = SpeculativeMode::DraftModel;
    s.draftModelPath = QStringLiteral("/models/draft.gguf");
    s.draftTokens = 0;  // auto
    s.structured = StructuredOutput::JsonSchema;
    s.jsonSchema = QStringLiteral(R"({"type": "object", "properties": {"a": {"type": "integer"}}})");
    return s;
}

}  // namespace

class TestEngineSettings : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void roundTripsThroughQSettings() {
        const QString path = dir_.filePath("roundtrip.ini");
        {
            QSettings settings(path, QSettings::IniFormat);
            writeEngineSettings(settings, customised());
        }
        QSettings settings(path, QSettings::IniFormat);
        QVERIFY(readEngineSettings(settings) == customised());
        EngineSettings random = customised();
        random.sampling.seed = peregrine::kSeedFromOs;
        writeEngineSettings(settings, random);
        QCOMPARE(readEngineSettings(settings).sampling.seed, peregrine::kSeedFromOs);
        QVERIFY(readEngineSettings(QSettings(dir_.filePath("empty.ini"), QSettings::IniFormat)) == EngineSettings{});
    }

    void invalidSamplingInTheFileFallsBackToDefaults() {
        QSettings settings(dir_.filePath("bad.ini"), QSettings::IniFormat);
        settings.setValue("sampling/topP", 0);  // the engine rejects top_p <= 0
        settings.setValue("sampling/temperature", 0.3);
        const EngineSettings s = readEngineSettings(settings);
        QCOMPARE(s.sampling.top_p, EngineSettings{}.sampling.top_p);
        QCOMPARE(s.sampling.temperature, EngineSettings{}.sampling.temperature);
    }

    void reloadIsNeededOnlyForLoadSettings() {
        const EngineSettings base;
        EngineSettings context = base;
        context.contextLength = 4096;
        EngineSettings threads = base;
        threads.threads = 1;
        EngineSettings temperature = base;
        temperature.sampling.temperature = 0.1f;
        EngineSettings batch = base;
        batch.batchSize = 64;
        QVERIFY(EngineSettings::needsReload(base, context));
        QVERIFY(EngineSettings::needsReload(base, threads));
        QVERIFY(!EngineSettings::needsReload(base, temperature));
        QVERIFY(!EngineSettings::needsReload(base, batch));
        QCOMPARE(context.loadOptions().contextLength, 4096);
        QCOMPARE(batch.generationOptions().batchSize, 64);
        // The batched engine's size needs a reload; speculation and structured output apply to the next reply.
        EngineSettings sequences = base;
        sequences.maxSequences = 8;
        EngineSettings blocks = base;
        blocks.kvCacheBlocks = 200;
        QVERIFY(EngineSettings::needsReload(base, sequences));
        QVERIFY(EngineSettings::needsReload(base, blocks));
        QCOMPARE(sequences.loadOptions().maxSequences, 8);
        QCOMPARE(blocks.loadOptions().kvCacheBlocks, 200);
        const EngineSettings custom = customised();
        QVERIFY(!EngineSettings::needsReload(base, [&] {
            EngineSettings s = base;
            s.speculative = custom.speculative;
            s.draftModelPath = custom.draftModelPath;
            s.draftTokens = custom.draftTokens;
            s.structured = custom.structured;
            s.jsonSchema = custom.jsonSchema;
            return s;
        }()));
        const GenerationOptions options = custom.generationOptions();
        QCOMPARE(options.speculation.mode, SpeculativeMode::DraftModel);
        QCOMPARE(options.speculation.draftModelPath, custom.draftModelPath);
        QCOMPARE(options.speculation.draftTokens, 0);
        QCOMPARE(options.structured, StructuredOutput::JsonSchema);
        QCOMPARE(options.jsonSchema, custom.jsonSchema);
    }

    void dialogEditsEveryFieldWithANote() {
        SettingsDialog dialog(customised());
        QVERIFY(dialog.settings() == customised());
        for (const char* field : {"threads", "contextLength", "batchSize", "kvCacheType", "useMmap", "maxSequences",
                                  "kvCacheBlocks", "speculative", "draftModel", "draftTokens", "structured",
                                  "jsonSchema", "temperature", "topK", "topP", "minP", "repeatPenalty", "seed",
                                  "maxTokens"}) {
            const QString note = dialog.noteFor(field);
            QVERIFY2(!note.isEmpty() && !note.contains('\n'), field);
        }
        // Greyed until the engine supports it.
        QVERIFY(!dialog.findChild<QComboBox*>("kvCacheType")->isEnabled());
        // Speculative decoding is supported; the draft model (and its picker) only matters in draft-model
        // mode, the draft tokens whenever speculation is on, the schema only for "JSON schema".
        auto* speculative = dialog.findChild<QComboBox*>("speculative");
        auto* browse = dialog.findChild<QPushButton*>("browseDraftModel");
        auto* draftTokens = dialog.findChild<QSpinBox*>("draftTokens");
        auto* structured = dialog.findChild<QComboBox*>("structured");
        QVERIFY(speculative && browse && draftTokens && structured);
        QVERIFY(speculative->isEnabled());
        QVERIFY(browse->isEnabled());
        QCOMPARE(draftTokens->specialValueText(), QString("Auto"));
        speculative->setCurrentIndex(static_cast<int>(SpeculativeMode::PromptLookup));
        QVERIFY(!browse->isEnabled());
        QVERIFY(draftTokens->isEnabled());
        QCOMPARE(dialog.settings().speculative, SpeculativeMode::PromptLookup);
        speculative->setCurrentIndex(static_cast<int>(SpeculativeMode::Off));
        QVERIFY(!draftTokens->isEnabled());
        structured->setCurrentIndex(static_cast<int>(StructuredOutput::AnyJsonObject));
        QCOMPARE(dialog.settings().structured, StructuredOutput::AnyJsonObject);
        dialog.findChild<QSpinBox*>("maxSequences")->setValue(6);
        dialog.findChild<QSpinBox*>("kvCacheBlocks")->setValue(320);
        QCOMPARE(dialog.settings().maxSequences, 6);
        QCOMPARE(dialog.settings().kvCacheBlocks, 320);
#ifndef PEREGRINE_HAVE_CUDA
        QCOMPARE(dialog.findChild<QComboBox*>("backend"), nullptr);  // no GPU backend in this build: not shown
#endif
        dialog.findChild<QSpinBox*>("contextLength")->setValue(2048);
        dialog.findChild<QCheckBox*>("useMmap")->setChecked(true);
        QCOMPARE(dialog.settings().contextLength, 2048);
        QVERIFY(dialog.settings().useMmap);
        for (QPushButton* button : dialog.findChildren<QPushButton*>()) {
            if (button->text().contains("Restore")) button->click();
        }
        QVERIFY(dialog.settings() == EngineSettings{});
    }

    void windowOffersAReloadAndAppliesIt() {
        MainWindow window(ChatStore::open(dir_.filePath("chats.sqlite")),
                          std::make_unique<QSettings>(dir_.filePath("window.ini"), QSettings::IniFormat));
        QSignalSpy loaded(&window.engine(), &EngineController::modelLoaded);
        window.loadModel(QString::fromStdString(peregrine::test::model_path("stories260K-q8_0.gguf")));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
        QCOMPARE(window.engine().model().contextLength, 512);

        EngineSettings sampling = window.engineSettings();
        sampling.sampling.temperature = 0.1f;
        sampling.speculative = SpeculativeMode::PromptLookup;
        sampling.draftTokens = 3;
        sampling.structured = StructuredOutput::AnyJsonObject;
        window.applyEngineSettings(sampling);
        QVERIFY(window.noticeBar()->text().isEmpty());  // applies to the next reply, no reload
        const GenerationOptions next = window.session().generationOptions();
        QCOMPARE(next.sampling.temperature, 0.1f);
        QCOMPARE(next.speculation.mode, SpeculativeMode::PromptLookup);
        QCOMPARE(next.speculation.draftTokens, 3);
        QCOMPARE(next.structured, StructuredOutput::AnyJsonObject);

        EngineSettings smaller = window.engineSettings();
        smaller.contextLength = 256;
        smaller.maxSequences = 2;
        smaller.kvCacheBlocks = 24;  // of 16 positions: 384, less than 2 full sequences of 256
        window.applyEngineSettings(smaller);
        QVERIFY(window.noticeBar()->text().contains("reload"));
        QPushButton* reload = nullptr;
        for (QPushButton* button : window.noticeBar()->findChildren<QPushButton*>()) {
            if (button->text() == "Reload now") reload = button;
        }
        QVERIFY(reload);
        reload->click();
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 2, 20000);
        QCOMPARE(window.engine().model().contextLength, 256);
        QCOMPARE(window.engine().model().maxSequences, 2);
        QCOMPARE(window.engine().model().kvBlocksTotal, 24);
        // The stats bar's KV field counts the engine's pool as configured.
        QTRY_COMPARE_WITH_TIMEOUT(window.statsBar()->engineShown().kvBlocksTotal, 24, 5000);
        QVERIFY2(window.statsBar()->kvText().contains("/24 blocks"), qPrintable(window.statsBar()->kvText()));
        // Persisted: a new read of the file has it.
        QCOMPARE(readEngineSettings(QSettings(dir_.filePath("window.ini"), QSettings::IniFormat)).contextLength, 256);
    }
};

QTEST_MAIN(TestEngineSettings)
#include "tst_engine_settings.moc"
