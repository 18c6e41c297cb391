// The speed trade-off settings: they survive a QSettings round trip, bad values in the file fall back to
// defaults, the dialog edits every field and gives each a one-line note, unsupported knobs are greyed,
// and a change that needs a reload says so in the window and reloads with the new value when asked.
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
#include "settings/engine_settings.h"
#include "settings/settings_dialog.h"
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
    }

    void dialogEditsEveryFieldWithANote() {
        SettingsDialog dialog(customised());
        QVERIFY(dialog.settings() == customised());
        for (const char* field : {"threads", "contextLength", "batchSize", "kvCacheType", "useMmap", "speculative",
                                  "draftModel", "draftTokens", "temperature", "topK", "topP", "minP",
                                  "repeatPenalty", "seed", "maxTokens"}) {
            const QString note = dialog.noteFor(field);
            QVERIFY2(!note.isEmpty() && !note.contains('\n'), field);
        }
        // Greyed until the engine supports them.
        QVERIFY(!dialog.findChild<QComboBox*>("speculative")->isEnabled());
        QVERIFY(!dialog.findChild<QComboBox*>("kvCacheType")->isEnabled());
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
        window.applyEngineSettings(sampling);
        QVERIFY(window.noticeBar()->text().isEmpty());  // applies to the next reply, no reload

        EngineSettings smaller = window.engineSettings();
        smaller.contextLength = 256;
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
        // Persisted: a new read of the file has it.
        QCOMPARE(readEngineSettings(QSettings(dir_.filePath("window.ini"), QSettings::IniFormat)).contextLength, 256);
    }
};

QTEST_MAIN(TestEngineSettings)
#include "tst_engine_settings.moc"
