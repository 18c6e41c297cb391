// EngineController + EngineWorker with the real tiny model (stories260K): text arrives in order and
// equals what the engine produces when called directly, stop(id) ends a reply quickly and keeps the
// partial text, load errors come back as messages and leave the controller usable, loads can be cancelled
// and superseded, and the GUI thread's event loop never stalls during generation.
#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "bridge/engine_controller.h"
#include "peregrine/context.h"
#include "peregrine/generation.h"
#include "peregrine/loaded_model.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::ui;

namespace {

QString tinyModel() { return QString::fromStdString(test::model_path("stories260K-q8_0.gguf")); }

GenerationOptions greedy(int maxTokens) {
    GenerationOptions options;
    options.sampling.temperature = 0;
    options.maxTokens = maxTokens;
    return options;
}

QList<ChatTurn> storyPrompt() { return {{"user", "Once upon a time"}}; }

// Collects the streamed chunks of one request and its outcome.
struct Reply {
    QString streamed;
    int chunks = 0;
    LiveStats lastStats;
    std::optional<GenerationOutcome> outcome;

    explicit Reply(EngineController& controller) {
        QObject::connect(&controller, &EngineController::textArrived, &controller,
                         [this](quint64, const QString& text, const LiveStats& stats) {
                             streamed += text;
                             ++chunks;
                             lastStats = stats;
                         });
        QObject::connect(&controller, &EngineController::generationFinished, &controller,
                         [this](const GenerationOutcome& o) { outcome = o; });
    }
};

void loadTinyModel(EngineController& controller, int contextLength = 0) {
    QSignalSpy loaded(&controller, &EngineController::modelLoaded);
    QSignalSpy failed(&controller, &EngineController::loadFailed);
    LoadOptions options;
    options.contextLength = contextLength;
    controller.loadModel(tinyModel(), options);
    QTRY_VERIFY_WITH_TIMEOUT(loaded.size() + failed.size() > 0, 20000);
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][0].toString()));
    QVERIFY(controller.hasModel());
}

}  // namespace

class TestEngineController : public QObject {
    Q_OBJECT

private slots:
    void loadReportsProgressAndSummary() {
        EngineController controller;
        QSignalSpy progress(&controller, &EngineController::loadProgress);
        loadTinyModel(controller);
        QVERIFY(!progress.isEmpty());
        QCOMPARE(progress.last()[0].toInt(), 100);
        for (int i = 1; i < progress.size(); ++i) QVERIFY(progress[i][0].toInt() >= progress[i - 1][0].toInt());
        const ModelSummary& model = controller.model();
        QCOMPARE(model.fileName, QString("stories260K-q8_0.gguf"));
        QCOMPARE(model.architecture, QString("llama"));
        QCOMPARE(model.contextLength, 512);
        QVERIFY(model.parameterCount > 200000);
        QVERIFY(model.kvCacheBytes > 0);
    }

    void textArrivesInOrderAndMatchesTheEngine() {
        EngineController controller;
        loadTinyModel(controller);
        Reply reply(controller);
        controller.generate(storyPrompt(), greedy(200));
        QTRY_VERIFY_WITH_TIMEOUT(reply.outcome.has_value(), 20000);
        const GenerationOutcome& outcome = *reply.outcome;
        QVERIFY2(outcome.error.isEmpty(), qPrintable(outcome.error));
        QVERIFY(!outcome.cancelled);
        QVERIFY(outcome.stats.generatedTokens > 10);
        QCOMPARE(reply.streamed, outcome.text);  // every chunk, in order, nothing lost or repeated
        QVERIFY(reply.chunks >= 1);
        QVERIFY(reply.chunks <= outcome.stats.generatedTokens);
        QVERIFY(outcome.stats.decodeTokensPerSecond > 0);
        QVERIFY(outcome.stats.prefillTokensPerSecond > 0);
        QCOMPARE(outcome.stats.model, QString("stories260K-q8_0.gguf"));

        // The same request straight through the engine on this thread gives the same text.
        const LoadedModel model = LoadedModel::load(tinyModel().toStdString());
        ContextParams contextParams;
        contextParams.n_seq_max = 1;
        Context context(model.model, contextParams);
        GenerationParams params;
        params.sampling.temperature = 0;
        params.n_predict = 200;
        const auto prompt = model.tokenize_chat({{"user", "Once upon a time"}});
        const GenerationResult direct = peregrine::generate(context, *model.vocab, prompt, params);
        QCOMPARE(outcome.text, QString::fromStdString(direct.text));
        QCOMPARE(outcome.stats.generatedTokens, direct.stats.n_generated);
    }

    void stopEndsTheReplyQuicklyAndKeepsThePartialText() {
        EngineController controller;
        loadTinyModel(controller);
        Reply reply(controller);
        // Sampled so the story does not end early; long enough that it is still running when stopped.
        GenerationOptions options = greedy(-1);
        options.sampling.temperature = 1.0f;
        options.sampling.seed = 7;
        QElapsedTimer sinceStop;
        quint64 requestId = 0;
        QObject::connect(&controller, &EngineController::textArrived, &controller, [&](quint64 id) {
            if (!sinceStop.isValid()) {
                QCOMPARE(id, requestId);
                controller.stop(id);
                sinceStop.start();
            }
        });
        requestId = controller.generate(storyPrompt(), options);
        QVERIFY(controller.isGenerating(requestId));
        QTRY_VERIFY_WITH_TIMEOUT(reply.outcome.has_value(), 20000);
        QCOMPARE(reply.outcome->requestId, requestId);
        QVERIFY(!controller.isGenerating());
        const qint64 stopLatencyMs = sinceStop.elapsed();
        const GenerationOutcome& outcome = *reply.outcome;
        QVERIFY(outcome.cancelled);
        QCOMPARE(outcome.stats.stopReason, QString("cancelled"));
        QVERIFY(!outcome.text.isEmpty());
        QCOMPARE(reply.streamed, outcome.text);
        QVERIFY2(stopLatencyMs < 250, qPrintable(QString::number(stopLatencyMs)));
        // Far fewer tokens than the context would allow: it really stopped.
        QVERIFY2(outcome.stats.generatedTokens < 300, qPrintable(QString::number(outcome.stats.generatedTokens)));
    }

    void loadErrorsComeBackAsMessagesAndLeaveItUsable_data() {
        QTest::addColumn<QString>("kind");
        QTest::newRow("missing file") << "missing";
        QTest::newRow("truncated gguf") << "truncated";
        QTest::newRow("not a gguf") << "text";
    }

    void loadErrorsComeBackAsMessagesAndLeaveItUsable() {
        QFETCH(QString, kind);
        QTemporaryDir dir;
        const QString path = dir.filePath("broken.gguf");
        if (kind == "truncated") {
            QFile source(tinyModel());
            QVERIFY(source.open(QIODevice::ReadOnly));
            QFile out(path);
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write(source.read(source.size() / 3));
        } else if (kind == "text") {
            QFile out(path);
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write("hello, I am not a model\n");
        }
        EngineController controller;
        QSignalSpy failed(&controller, &EngineController::loadFailed);
        QSignalSpy loaded(&controller, &EngineController::modelLoaded);
        controller.loadModel(path, {});
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 10000);
        QCOMPARE(loaded.size(), 0);
        QVERIFY2(failed[0][0].toString().contains("broken.gguf"), qPrintable(failed[0][0].toString()));
        QCOMPARE(failed[0][1].toBool(), false);
        QVERIFY(!controller.hasModel());
        QVERIFY(!controller.isLoading());

        // Asking for a reply now is an error message, not a crash.
        Reply noModel(controller);
        controller.generate(storyPrompt(), greedy(5));
        QTRY_VERIFY_WITH_TIMEOUT(noModel.outcome.has_value(), 5000);
        QVERIFY(noModel.outcome->error.contains("No model"));

        loadTinyModel(controller);  // and a good model still loads afterwards
    }

    void promptTooLongForTheContextIsAnError() {
        EngineController controller;
        loadTinyModel(controller, /*contextLength=*/64);
        Reply reply(controller);
        controller.generate({{"user", QString("word ").repeated(400)}}, greedy(8));
        QTRY_VERIFY_WITH_TIMEOUT(reply.outcome.has_value(), 10000);
        QVERIFY2(reply.outcome->error.contains("context"), qPrintable(reply.outcome->error));
    }

    void oldTurnsAreDroppedToFitTheContext() {
        EngineController controller;
        loadTinyModel(controller, /*contextLength=*/128);
        QList<ChatTurn> conversation{{"system", "Tell stories."}};
        for (int i = 0; i < 12; ++i) {
            conversation << ChatTurn{"user", QStringLiteral("Tell me story number %1 please").arg(i)};
            conversation << ChatTurn{"assistant", "Once upon a time there was a cat who liked to play."};
        }
        conversation << ChatTurn{"user", "One more"};
        Reply reply(controller);
        controller.generate(conversation, greedy(16));
        QTRY_VERIFY_WITH_TIMEOUT(reply.outcome.has_value(), 10000);
        QVERIFY2(reply.outcome->error.isEmpty(), qPrintable(reply.outcome->error));
        QVERIFY(reply.outcome->live.droppedMessages > 0);
        QVERIFY(reply.outcome->live.contextUsed <= 128);
        QVERIFY(reply.outcome->stats.promptTokens <= 128 - 16);
    }

    void cancelledLoadReportsCancelled() {
        EngineController controller;
        QSignalSpy failed(&controller, &EngineController::loadFailed);
        QSignalSpy loaded(&controller, &EngineController::modelLoaded);
        controller.loadModel(tinyModel(), {});
        controller.cancelLoad();  // the flag is set before the worker even starts
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 10000);
        QCOMPARE(failed[0][1].toBool(), true);
        QCOMPARE(loaded.size(), 0);
        QVERIFY(!controller.hasModel());
    }

    void newerLoadSupersedesAnOlderOne() {
        EngineController controller;
        QSignalSpy loaded(&controller, &EngineController::modelLoaded);
        QSignalSpy failed(&controller, &EngineController::loadFailed);
        controller.loadModel(QString::fromStdString(test::model_path("stories260K-f32.gguf")), {});
        controller.loadModel(tinyModel(), {});
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
        QTest::qWait(50);
        QCOMPARE(loaded.size(), 1);
        QCOMPARE(failed.size(), 0);  // the superseded load is dropped silently
        QCOMPARE(loaded[0][0].value<ModelSummary>().fileName, QString("stories260K-q8_0.gguf"));
    }

    void eventLoopNeverStallsAndChunksAreBatched() {
        EngineController controller;
        loadTinyModel(controller);
        qint64 worstGapMs = 0;
        QElapsedTimer sinceTick;
        QTimer ticker;
        ticker.setInterval(2);
        QObject::connect(&ticker, &QTimer::timeout, [&] {
            if (sinceTick.isValid()) worstGapMs = std::max(worstGapMs, sinceTick.elapsed());
            sinceTick.restart();
        });
        int chunks = 0;
        int tokens = 0;
        int replies = 0;
        QObject::connect(&controller, &EngineController::textArrived, &controller, [&] { ++chunks; });
        GenerationOptions options = greedy(-1);
        options.sampling.temperature = 1.0f;
        QObject::connect(&controller, &EngineController::generationFinished, &controller,
                         [&](const GenerationOutcome& outcome) {
                             tokens += outcome.stats.generatedTokens;
                             ++replies;
                         });
        QElapsedTimer clock;
        clock.start();
        ticker.start();
        // Back-to-back replies for about two seconds of generation.
        while (clock.elapsed() < 2000) {
            const int before = replies;
            options.sampling.seed = static_cast<uint64_t>(before + 1);
            controller.generate(storyPrompt(), options);
            QTRY_VERIFY_WITH_TIMEOUT(replies > before, 20000);
        }
        ticker.stop();
        const qint64 elapsed = clock.elapsed();
        QVERIFY2(worstGapMs < 50, qPrintable(QStringLiteral("event loop stalled for %1 ms").arg(worstGapMs)));
        QVERIFY(tokens > 100);
        // Batched per frame: at most one chunk per 16 ms (+ the immediate first and the final flush).
        QVERIFY2(chunks <= elapsed / 16 + 2 * replies + 2,
                 qPrintable(QStringLiteral("%1 chunks for %2 tokens in %3 ms").arg(chunks).arg(tokens).arg(elapsed)));
        qInfo("%d replies, %d tokens, %d chunks in %lld ms, worst event-loop gap %lld ms", replies, tokens, chunks,
              elapsed, worstGapMs);
    }
};

QTEST_GUILESS_MAIN(TestEngineController)
#include "tst_engine_controller.moc"
