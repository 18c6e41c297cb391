// EngineWorker without the controller, to observe the engine thread itself: a cancel raised from inside
// a chunk (on the batched Engine's thread, through the shared CancelFlag only) takes effect before the
// next decode step (no token is generated after it).
#include <QSignalSpy>
#include <QThread>
#include <QtTest>

#include "bridge/cancel_flag.h"
#include "bridge/engine_worker.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::ui;

class TestEngineWorker : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        qRegisterMetaType<StreamChunk>();
        qRegisterMetaType<GenerationOutcome>();
        qRegisterMetaType<ModelSummary>();
    }

    void cancelTakesEffectBeforeTheNextDecodeStep_data() {
        QTest::addColumn<int>("cancelAtChunk");
        QTest::newRow("first chunk") << 1;
        QTest::newRow("third chunk") << 3;
    }

    void cancelTakesEffectBeforeTheNextDecodeStep() {
        QFETCH(int, cancelAtChunk);
        auto cancel = std::make_shared<CancelFlag>();
        EngineWorker worker(cancel);  // runs on this thread: slots are called directly
        QSignalSpy loaded(&worker, &EngineWorker::loaded);
        worker.load({1, QString::fromStdString(test::model_path("stories260K-q8_0.gguf")), {}});
        QCOMPARE(loaded.size(), 1);

        int chunks = 0;
        int tokensWhenCancelled = -1;
        // Direct connection: runs inside the engine's text callback, like a stop at that exact token.
        connect(&worker, &EngineWorker::chunk, this, [&](const StreamChunk& chunk) {
            if (++chunks == cancelAtChunk) {
                tokensWhenCancelled = chunk.stats.generatedTokens;
                cancel->cancelThrough(chunk.requestId);
            }
        }, Qt::DirectConnection);
        QSignalSpy finished(&worker, &EngineWorker::finished);
        GenerationRequest request;
        request.id = 2;
        request.messages = {{"user", "Once upon a time"}};
        request.options.sampling.temperature = 0;  // greedy story: every token is plain text
        request.options.maxTokens = -1;
        // Slow the stream down so several chunks happen: each chunk is a frame (16 ms) apart.
        connect(&worker, &EngineWorker::chunk, this, [] { QThread::msleep(20); }, Qt::DirectConnection);
        worker.generate(request);  // returns at once: the batched Engine generates on its own thread
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 20000);
        const auto outcome = finished[0][0].value<GenerationOutcome>();
        QVERIFY2(tokensWhenCancelled > 0, "the reply ended before the chosen chunk");
        QVERIFY(outcome.cancelled);
        QCOMPARE(outcome.stats.generatedTokens, tokensWhenCancelled);
    }

    void requestCancelledBeforeItStartsDoesNothing() {
        auto cancel = std::make_shared<CancelFlag>();
        EngineWorker worker(cancel);
        worker.load({1, QString::fromStdString(test::model_path("stories260K-q8_0.gguf")), {}});
        cancel->cancelThrough(5);
        QSignalSpy chunks(&worker, &EngineWorker::chunk);
        QSignalSpy finished(&worker, &EngineWorker::finished);
        GenerationRequest request;
        request.id = 5;
        request.messages = {{"user", "Hi"}};
        worker.generate(request);
        QCOMPARE(chunks.size(), 0);
        QCOMPARE(finished.size(), 1);
        QVERIFY(finished[0][0].value<GenerationOutcome>().cancelled);
        // A later id is not affected by that cancel.
        request.id = 6;
        request.options.maxTokens = 4;
        worker.generate(request);
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 20000);
        QVERIFY(!finished[1][0].value<GenerationOutcome>().cancelled);
        QVERIFY(finished[1][0].value<GenerationOutcome>().stats.generatedTokens > 0);
    }
};

QTEST_GUILESS_MAIN(TestEngineWorker)
#include "tst_engine_worker.moc"
