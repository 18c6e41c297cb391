// The app on the batched Engine, with the real tiny model (stories260K), a real SQLite file and an offscreen
// window: two conversations generate at once and stop independently, each reply landing in its own
// conversation; "3 alternatives" samples three replies in one request that the user browses with ‹ ›
// (the choice persists); and the stats bar's engine-wide numbers (tokens/s over all replies, KV blocks,
// prefix hits, speculative acceptance) come from a real generation.
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <map>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "chat/chat_view.h"
#include "chat/message_delegate.h"
#include "chat/message_list_model.h"
#include "settings/engine_settings.h"
#include "stats/stats_bar.h"
#include "store/chat_store.h"
#include "support/test_paths.h"
#include "window/chat_panel.h"
#include "window/main_window.h"

using namespace peregrine::ui;

namespace {

QString modelPath(const char* file) { return QString::fromStdString(peregrine::test::model_path(file)); }

// The point of the reply's "‹ n/m ›" control that asks for alternative `wanted`, found through the
// delegate's own hit test (so the test clicks where the user would); null when there is none.
QPoint pointAskingFor(ChatView* view, int row, int wanted) {
    const QModelIndex index = view->model()->index(row, 0);
    const QRect rect = view->visualRect(index);
    for (int y = rect.top(); y < rect.top() + 60 && y <= rect.bottom(); y += 2) {
        for (int x = rect.left(); x <= rect.right(); x += 2) {
            if (view->messageDelegate()->alternativeAt(index, rect, {x, y}) == wanted) return {x, y};
        }
    }
    return {};
}

}  // namespace

class TestParallelReplies : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    int files_ = 0;
    std::unique_ptr<MainWindow> window_;
    QString storePath_;

    ChatSession& session() { return window_->session(); }
    EngineController& engine() { return window_->engine(); }

    void applyOptions(float temperature, uint64_t seed, int maxTokens) {
        EngineSettings settings = window_->engineSettings();
        settings.sampling.temperature = temperature;
        settings.sampling.seed = seed;
        settings.maxTokens = maxTokens;
        window_->applyEngineSettings(settings);
    }

    GenerationOutcome waitFor(QSignalSpy& finished, int count) {
        if (!QTest::qWaitFor([&] { return finished.size() >= count; }, 30000)) return {};
        return finished[count - 1][0].value<GenerationOutcome>();
    }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init() {
        storePath_ = dir_.filePath(QStringLiteral("chats-%1.sqlite").arg(++files_));
        window_ = std::make_unique<MainWindow>(
            ChatStore::open(storePath_),
            std::make_unique<QSettings>(dir_.filePath(QStringLiteral("settings-%1.ini").arg(files_)),
                                        QSettings::IniFormat));
        window_->show();
        QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
        QSignalSpy loaded(&engine(), &EngineController::modelLoaded);
        window_->loadModel(modelPath("stories260K-q8_0.gguf"));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
        QVERIFY(engine().model().maxSequences >= 2);
    }

    void cleanup() { window_.reset(); }

    void twoConversationsGenerateAtOnceAndStopIndependently() {
        applyOptions(1.0f, 11, -1);  // sampled and unbounded: long enough to overlap and to be stopped
        QSignalSpy finished(&session(), &ChatSession::replyFinished);
        const int64_t a = session().newConversation();
        QVERIFY(session().send("Once upon a time"));
        const quint64 requestA = session().replyRequestId(a);
        const int64_t b = session().newConversation();  // switch away while A is generating...
        QVERIFY(session().send("The little dog"));       // ...and start B: not refused, A keeps going
        const quint64 requestB = session().replyRequestId(b);
        QVERIFY(requestA != 0 && requestB != 0 && requestA != requestB);
        QCOMPARE(session().runningReplies(), 2);
        QVERIFY(engine().isGenerating(requestA) && engine().isGenerating(requestB));

        // Both stream: A keeps producing text after B's first text, then the user stops A (on screen).
        std::map<quint64, int> chunks;
        int chunksOfAAfterB = 0;
        int chunksOfBAfterStop = 0;
        bool stopped = false;
        const auto watch = connect(&engine(), &EngineController::textArrived, this, [&](quint64 id) {
            ++chunks[id];
            if (id == requestA && chunks[requestB] > 0) ++chunksOfAAfterB;
            if (id == requestB && stopped) ++chunksOfBAfterStop;
            if (!stopped && chunksOfAAfterB >= 2 && chunks[requestB] >= 2) {
                stopped = true;
                session().openConversation(a);
                QVERIFY(session().isGenerating());
                session().stop();  // the reply of the conversation on screen: A only
            }
        });
        const GenerationOutcome first = waitFor(finished, 1);
        QVERIFY2(stopped, "the replies did not overlap: one ended before the other streamed twice");
        QCOMPARE(first.requestId, requestA);
        QVERIFY(first.cancelled);
        QVERIFY(engine().isGenerating(requestB));  // B was not stopped with it
        const GenerationOutcome second = waitFor(finished, 2);
        QCOMPARE(second.requestId, requestB);
        QVERIFY2(!second.cancelled && second.error.isEmpty(), qPrintable(second.stats.stopReason + second.error));
        QVERIFY2(chunksOfBAfterStop > 0, "B streamed nothing after A was stopped");
        disconnect(watch);  // it refers to this function's variables
        QVERIFY(second.stats.generatedTokens > first.stats.generatedTokens);

        // Each reply is in its own conversation, in the file and on screen.
        const QList<StoredMessage> savedA = window_->store().messages().list(a);
        const QList<StoredMessage> savedB = window_->store().messages().list(b);
        QCOMPARE(savedA.size(), 2);
        QCOMPARE(savedB.size(), 2);
        QCOMPARE(savedA[0].content, QString("Once upon a time"));
        QCOMPARE(savedB[0].content, QString("The little dog"));
        QCOMPARE(savedA[1].content, first.text);
        QCOMPARE(savedA[1].state, MessageState::Stopped);
        QCOMPARE(savedB[1].content, second.text);
        QCOMPARE(savedB[1].state, MessageState::Complete);
        QVERIFY(!first.text.isEmpty() && first.text != second.text);
        QCOMPARE(session().conversationId(), a);
        QCOMPARE(session().messages()->at(1).content, first.text);
        session().openConversation(b);
        QCOMPARE(session().messages()->at(1).content, second.text);
        QCOMPARE(session().runningReplies(), 0);
    }

    void threeAlternativesInOneBatchAreBrowsedAndTheChoicePersists() {
        applyOptions(1.0f, 5, 40);
        QSignalSpy finished(&session(), &ChatSession::replyFinished);
        QSignalSpy engineFinished(&engine(), &EngineController::generationFinished);
        QVERIFY(session().send("Once upon a time"));
        waitFor(finished, 1);
        const int64_t conversation = session().conversationId();

        // The panel's "3 alternatives" button: one request to the engine with three samples.
        QPushButton* alternatives = window_->chatPanel()->alternativesButton();
        QVERIFY(alternatives->isEnabled());
        alternatives->click();
        QVERIFY(session().isGenerating());
        const GenerationOutcome outcome = waitFor(finished, 2);
        QCOMPARE(engineFinished.size(), 2);  // one request for the three
        QVERIFY2(outcome.error.isEmpty(), qPrintable(outcome.error));
        QCOMPARE(outcome.alternatives.size(), 3);
        QCOMPARE(outcome.text, outcome.alternatives[0]);
        for (const QString& text : outcome.alternatives) QVERIFY(!text.trimmed().isEmpty());
        // Sampled with seeds 5, 6, 7: three different replies.
        QVERIFY(outcome.alternatives[0] != outcome.alternatives[1]);
        QVERIFY(outcome.alternatives[1] != outcome.alternatives[2]);
        QVERIFY(outcome.alternatives[0] != outcome.alternatives[2]);

        MessageListModel* model = session().messages();
        QCOMPARE(model->rowCount(), 2);  // the old reply was replaced, not added to
        const QModelIndex reply = model->index(1, 0);
        const int64_t replyId = model->at(1).id;
        QCOMPARE(reply.data(MessageListModel::AlternativeCountRole).toInt(), 3);
        QCOMPARE(reply.data(MessageListModel::AlternativeIndexRole).toInt(), 0);

        // Click "›" in the reply's header: the second alternative is shown and saved.
        ChatView* view = window_->chatPanel()->view();
        const QPoint next = pointAskingFor(view, 1, 1);
        QVERIFY2(!next.isNull(), "no ‹ › control in the reply's header");
        QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, next);
        QCOMPARE(model->at(1).content, outcome.alternatives[1]);
        QCOMPARE(reply.data(MessageListModel::AlternativeIndexRole).toInt(), 1);
        const QPoint again = pointAskingFor(view, 1, 2);
        QVERIFY(!again.isNull());
        QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, again);
        QCOMPARE(model->at(1).content, outcome.alternatives[2]);
        QCOMPARE(pointAskingFor(view, 1, 3), QPoint());  // no fourth
        QVERIFY(!session().chooseAlternative(replyId, 3));
        QVERIFY(!session().chooseAlternative(replyId, -1));

        // The choice persists: a fresh store on the same file has the third as the content, and all three.
        {
            auto reopened = ChatStore::open(storePath_);
            const QList<StoredMessage> saved = reopened->messages().list(conversation);
            QCOMPARE(saved.size(), 2);
            QCOMPARE(saved[1].content, outcome.alternatives[2]);
            QCOMPARE(saved[1].alternatives, outcome.alternatives);
            QCOMPARE(saved[1].alternativeIndex(), 2);
        }
        // The next turn continues from the chosen alternative.
        QVERIFY(session().send("And then?"));
        waitFor(finished, 3);
        QCOMPARE(session().messages()->rowCount(), 4);
        QCOMPARE(session().messages()->at(1).content, outcome.alternatives[2]);
    }

    void statsBarShowsTheEnginesNumbersFromARealGeneration() {
        StatsBar* stats = window_->statsBar();
        QSignalSpy finished(&session(), &ChatSession::replyFinished);
        QSignalSpy snapshots(&engine(), &EngineController::engineStats);
        const int total = engine().model().kvBlocksTotal;
        QVERIFY(total > 0);
        QTRY_COMPARE_WITH_TIMEOUT(stats->engineShown().kvBlocksTotal, total, 5000);

        // Three long replies at once: the engine's numbers are sampled (every 100 ms) while they run. On a
        // quiet machine three replies may all end within two samples: then three more, up to five rounds.
        QString runningText;  // the bar's aggregate field while tokens were being generated
        const auto watch = connect(&engine(), &EngineController::engineStats, this, [&](const EngineSnapshot& s) {
            if (s.running > 0 && s.tokensPerSecond > 0) runningText = stats->aggregateText();
        });
        int rounds = 0;
        while (runningText.isEmpty() && rounds < 5) {
            applyOptions(1.0f, 11 + rounds, -1);
            for (const char* prompt : {"Once upon a time", "The cat", "A little girl"}) {
                session().newConversation();
                QVERIFY(session().send(prompt));
            }
            QCOMPARE(session().runningReplies(), 3);
            ++rounds;
            waitFor(finished, 3 * rounds);
        }
        int tokens = 0;
        for (const QList<QVariant>& args : finished) tokens += args[0].value<GenerationOutcome>().stats.generatedTokens;
        double bestRate = 0;
        int mostBlocks = 0;
        int mostRunning = 0;
        for (const QList<QVariant>& args : snapshots) {
            const auto snapshot = args[0].value<EngineSnapshot>();
            QCOMPARE(snapshot.kvBlocksTotal, total);
            QVERIFY(snapshot.kvBlocksUsed <= snapshot.kvBlocksTotal);
            QVERIFY(snapshot.kvBlocksUsed >= snapshot.running);  // every running sequence holds a block
            QVERIFY(snapshot.prefixHitRate >= 0 && snapshot.prefixHitRate <= 1);
            QVERIFY(snapshot.running <= 3);
            bestRate = std::max(bestRate, snapshot.tokensPerSecond);
            mostBlocks = std::max(mostBlocks, snapshot.kvBlocksUsed);
            mostRunning = std::max(mostRunning, snapshot.running);
        }
        qInfo("%d round(s), %lld snapshots over %d tokens: up to %.0f tok/s, %d blocks, %d replies running", rounds,
              static_cast<long long>(snapshots.size()), tokens, bestRate, mostBlocks, mostRunning);
        QVERIFY2(bestRate > 0, "no snapshot saw tokens being generated");
        QVERIFY2(mostBlocks > 0, "no snapshot saw a block in use");
        QVERIFY(mostRunning >= 1);
        // Consistent with what was generated: a rate over at least one tick (100 ms) cannot exceed ten
        // times the tokens that exist.
        QVERIFY(bestRate <= tokens * 10.0);
        disconnect(watch);
        QVERIFY2(runningText.contains(QRegularExpression("^[1-3] repl(y|ies) · [0-9,.]+ tok/s$")), qPrintable(runningText));

        // The replies ended: nothing runs, every block is back in the pool, their prefixes stay cached.
        // (The snapshot that saw the last step may come one tick after the last outcome.)
        QTRY_VERIFY_WITH_TIMEOUT(stats->engineShown().kvBlocksUsed == 0 && stats->engineShown().running == 0, 5000);
        QVERIFY(stats->engineShown().kvBlocksCached > 0);
        QCOMPARE(stats->aggregateText(), QString("No reply running"));
        QCOMPARE(stats->engineShown().tokensPerSecond, 0.0);
        QVERIFY(stats->kvText().contains(QStringLiteral("0/%1 blocks").arg(total)));

        // A short conversation's second turn: its prompt starts with the first turn, served from the prefix
        // cache. (The long replies above filled their context; their next turn would drop old messages.)
        applyOptions(1.0f, 3, 30);
        const int before = static_cast<int>(finished.size());
        session().newConversation();
        QVERIFY(session().send("Once upon a time"));
        const GenerationOutcome opening = waitFor(finished, before + 1);
        QVERIFY(session().send("What happened next?"));
        const GenerationOutcome second = waitFor(finished, before + 2);
        QVERIFY(second.stats.promptTokens > opening.stats.promptTokens + opening.stats.generatedTokens);
        QVERIFY2(second.stats.cachedPromptTokens > 0, "the second turn recomputed the whole conversation");
        QVERIFY(second.stats.cachedPromptTokens < second.stats.promptTokens);
        QCOMPARE(second.stats.cachedPromptTokens % engine().model().kvBlockSize, 0);
        QCOMPARE(stats->shown().cachedPromptTokens, second.stats.cachedPromptTokens);
        QTRY_VERIFY_WITH_TIMEOUT(stats->engineShown().prefixHitRate > 0, 5000);
        QVERIFY(stats->kvText().contains("prefix hits"));
        QVERIFY2(!stats->kvText().contains("prefix hits 0%"), qPrintable(stats->kvText()));
        QVERIFY(stats->speculativeText().isEmpty());  // no speculation yet: the field is hidden
    }

    void speculativeReplyShowsItsAcceptanceRateAndKeepsTheOutput_data() {
        QTest::addColumn<int>("mode");
        QTest::addColumn<QString>("draft");
        QTest::addColumn<int>("draftTokens");
        QTest::newRow("prompt lookup, K=4") << static_cast<int>(SpeculativeMode::PromptLookup) << QString() << 4;
        QTest::newRow("draft model q4_0, K=4")
            << static_cast<int>(SpeculativeMode::DraftModel) << modelPath("stories260K-q4_0.gguf") << 4;
        // Auto may find that drafting does not pay on so small a target and stop guessing: only the
        // output and a valid rate are checked.
        QTest::newRow("draft model q4_0, K auto")
            << static_cast<int>(SpeculativeMode::DraftModel) << modelPath("stories260K-q4_0.gguf") << 0;
    }

    void speculativeReplyShowsItsAcceptanceRateAndKeepsTheOutput() {
        QFETCH(int, mode);
        QFETCH(QString, draft);
        QFETCH(int, draftTokens);
        QSignalSpy finished(&session(), &ChatSession::replyFinished);
        // Greedy without speculation first: the reference text.
        applyOptions(0.0f, 1, 120);
        session().newConversation();
        QVERIFY(session().send("Once upon a time"));
        const GenerationOutcome plain = waitFor(finished, 1);
        QCOMPARE(plain.stats.acceptanceRate, -1.0);

        EngineSettings settings = window_->engineSettings();
        settings.speculative = static_cast<SpeculativeMode>(mode);
        settings.draftModelPath = draft;
        settings.draftTokens = draftTokens;
        window_->applyEngineSettings(settings);
        session().newConversation();
        QVERIFY(session().send("Once upon a time"));
        const GenerationOutcome speculative = waitFor(finished, 2);
        QVERIFY2(speculative.error.isEmpty(), qPrintable(speculative.error));
        QCOMPARE(speculative.text, plain.text);  // same output, greedy
        const double acceptance = speculative.stats.acceptanceRate;
        qInfo("acceptance %.3f over %d tokens", acceptance, speculative.stats.generatedTokens);
        QVERIFY2(acceptance >= 0 && acceptance <= 1, qPrintable(QString::number(acceptance)));
        if (draftTokens > 0) QVERIFY2(acceptance > 0, "a fixed K accepted no guess at all");
        QCOMPARE(window_->store().messages().list(session().conversationId()).last().stats.acceptanceRate, acceptance);
        StatsBar* stats = window_->statsBar();
        QTRY_COMPARE_WITH_TIMEOUT(stats->engineShown().acceptanceRate, acceptance, 5000);
        QVERIFY2(stats->speculativeText().contains(QStringLiteral("%1%").arg(qRound(100 * acceptance))),
                 qPrintable(stats->speculativeText()));
    }
};

QTEST_MAIN(TestParallelReplies)
#include "tst_parallel_replies.moc"
