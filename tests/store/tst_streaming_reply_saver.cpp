// StreamingReplySaver: text is on disk within the interval even while it keeps streaming, a burst of
// appends costs one transaction, finish() writes the end state, and a failed save is reported once.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "store/chat_store.h"
#include "store/streaming_reply_saver.h"

using namespace peregrine::ui;

class TestStreamingReplySaver : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<ChatStore> store_;
    int64_t reply_ = 0;

    QString savedText() { return store_->messages().find(reply_)->content; }

private slots:
    void init() {
        store_ = ChatStore::open(dir_.filePath(QTest::currentTestFunction() + QString(".sqlite")));
        const int64_t c = store_->conversations().create("c");
        reply_ = store_->messages().append(c, MessageRole::Assistant, "", MessageState::Streaming);
    }
    void cleanup() { store_.reset(); }

    void burstIsOneSaveWithinTheInterval() {
        StreamingReplySaver saver(store_->messages(), reply_, 100);
        for (int i = 0; i < 1000; ++i) saver.append("x");
        QCOMPARE(savedText(), QString());  // nothing written synchronously per token
        QTRY_COMPARE_WITH_TIMEOUT(savedText(), QString(1000, 'x'), 1000);
        QCOMPARE(saver.saveCount(), 1);
    }

    void steadyStreamIsSavedEveryInterval() {
        StreamingReplySaver saver(store_->messages(), reply_, 100);
        QElapsedTimer clock;
        clock.start();
        int appended = 0;
        qint64 worstLagMs = 0;  // how long appended text stays unsaved
        qint64 lastSavedLength = 0;
        qint64 lastSaveAt = 0;
        while (clock.elapsed() < 800) {
            saver.append("tok ");
            ++appended;
            QTest::qWait(3);
            const qint64 length = savedText().size();
            if (length != lastSavedLength) {
                lastSavedLength = length;
                lastSaveAt = clock.elapsed();
            }
            worstLagMs = std::max(worstLagMs, clock.elapsed() - lastSaveAt);
        }
        QVERIFY2(saver.saveCount() >= 4, qPrintable(QString::number(saver.saveCount())));
        QVERIFY2(worstLagMs < 400, qPrintable(QString::number(worstLagMs)));  // 100 ms + scheduling slack
        QVERIFY(QString(appended * 4, ' ').size() >= lastSavedLength);
    }

    void finishWritesStateAndStopsSaving() {
        StreamingReplySaver saver(store_->messages(), reply_, 50);
        saver.append("The end.");
        MessageStats stats;
        stats.model = "m.gguf";
        stats.generatedTokens = 3;
        saver.finish("The end.", MessageState::Complete, stats);
        const StoredMessage row = *store_->messages().find(reply_);
        QCOMPARE(row.content, QString("The end."));
        QCOMPARE(row.state, MessageState::Complete);
        QCOMPARE(row.stats.generatedTokens, 3);
        saver.append(" more");  // ignored after finish
        QTest::qWait(120);
        QCOMPARE(savedText(), QString("The end."));
    }

    void failedSaveIsReportedOnce() {
        StreamingReplySaver saver(store_->messages(), reply_, 10);
        QSignalSpy failures(&saver, &StreamingReplySaver::saveFailed);
        store_->messages().removeFrom(reply_);  // the row disappears under the saver
        saver.append("a");
        QTRY_COMPARE_WITH_TIMEOUT(failures.size(), 1, 1000);
        saver.append("b");
        QTest::qWait(50);
        QCOMPARE(failures.size(), 1);
        QVERIFY(failures[0][0].toString().contains("does not exist"));
    }
};

QTEST_GUILESS_MAIN(TestStreamingReplySaver)
#include "tst_streaming_reply_saver.moc"
