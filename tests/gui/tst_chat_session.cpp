// ChatSession with the real tiny model and a real store file, no window: send, regenerate, edit and
// resend, a system prompt, a reply that keeps streaming into its own conversation while the user looks
// at another, deleting a conversation mid-reply, and asking without a model.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "store/chat_store.h"
#include "support/test_paths.h"

using namespace peregrine::ui;

namespace {

GenerationOptions sampled(uint64_t seed, int maxTokens) {
    GenerationOptions options;
    options.sampling.temperature = 1.0f;
    options.sampling.seed = seed;
    options.maxTokens = maxTokens;
    return options;
}

}  // namespace

class TestChatSession : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<ChatStore> store_;
    std::unique_ptr<EngineController> engine_;
    std::unique_ptr<ChatSession> session_;
    int files_ = 0;

    GenerationOutcome waitForReply(QSignalSpy& finished, int count) {
        if (!QTest::qWaitFor([&] { return finished.size() >= count; }, 30000)) return {};
        return finished[count - 1][0].value<GenerationOutcome>();
    }

private slots:
    void initTestCase() {
        engine_ = std::make_unique<EngineController>();
        QSignalSpy loaded(engine_.get(), &EngineController::modelLoaded);
        engine_->loadModel(QString::fromStdString(peregrine::test::model_path("stories260K-q8_0.gguf")), {});
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
    }

    void init() {
        store_ = ChatStore::open(dir_.filePath(QStringLiteral("chats-%1.sqlite").arg(++files_)));
        session_ = std::make_unique<ChatSession>(*store_, *engine_);
        session_->setGenerationOptions(sampled(5, 40));
    }

    void cleanup() {
        session_.reset();
        store_.reset();
    }

    void sendStreamsAndSavesTheReply() {
        QSignalSpy finished(session_.get(), &ChatSession::replyFinished);
        QSignalSpy generating(session_.get(), &ChatSession::generatingChanged);
        QVERIFY(session_->send("Once upon a time"));
        QVERIFY(session_->isGenerating());
        QVERIFY(!session_->send("again"));  // one reply at a time
        const GenerationOutcome outcome = waitForReply(finished, 1);
        QVERIFY(!session_->isGenerating());
        QCOMPARE(generating.size(), 2);
        const QList<StoredMessage> saved = store_->messages().list(session_->conversationId());
        QCOMPARE(saved.size(), 2);
        QCOMPARE(saved[1].content, outcome.text);
        QCOMPARE(saved[1].content, session_->messages()->at(1).content);
        QCOMPARE(saved[1].state, MessageState::Complete);
        QCOMPARE(saved[1].stats.generatedTokens, outcome.stats.generatedTokens);
        QCOMPARE(saved[1].stats.model, QString("stories260K-q8_0.gguf"));
    }

    void regenerateReplacesTheLastReply() {
        QSignalSpy finished(session_.get(), &ChatSession::replyFinished);
        session_->send("Once upon a time");
        const QString first = waitForReply(finished, 1).text;
        session_->setGenerationOptions(sampled(99, 40));
        QVERIFY(session_->regenerate());
        const GenerationOutcome second = waitForReply(finished, 2);
        QVERIFY(second.text != first);  // another seed, another reply
        QCOMPARE(session_->messages()->rowCount(), 2);
        QCOMPARE(session_->messages()->at(1).content, second.text);
        const QList<StoredMessage> saved = store_->messages().list(session_->conversationId());
        QCOMPARE(saved.size(), 2);
        QCOMPARE(saved[1].content, second.text);
    }

    void editAndResendReplacesLaterTurns() {
        QSignalSpy finished(session_.get(), &ChatSession::replyFinished);
        session_->send("First question");
        waitForReply(finished, 1);
        session_->send("Second question");
        waitForReply(finished, 2);
        QCOMPARE(session_->messages()->rowCount(), 4);
        const int64_t firstUser = session_->messages()->at(0).id;
        QVERIFY(session_->editAndResend(firstUser, "Edited question"));
        const GenerationOutcome outcome = waitForReply(finished, 3);
        const QList<StoredMessage> saved = store_->messages().list(session_->conversationId());
        QCOMPARE(saved.size(), 2);
        QCOMPARE(saved[0].id, firstUser);
        QCOMPARE(saved[0].content, QString("Edited question"));
        QCOMPARE(saved[1].content, outcome.text);
        QCOMPARE(session_->messages()->rowCount(), 2);
        QVERIFY(!session_->editAndResend(saved[1].id, "not a user message"));
    }

    void systemPromptIsPartOfThePrompt() {
        QSignalSpy finished(session_.get(), &ChatSession::replyFinished);
        session_->send("Hello");
        const int without = waitForReply(finished, 1).stats.promptTokens;
        session_->setSystemPrompt("You tell short stories about cats and dogs.");
        QCOMPARE(store_->conversations().find(session_->conversationId())->systemPrompt,
                 QString("You tell short stories about cats and dogs."));
        QVERIFY(session_->regenerate());
        const int with = waitForReply(finished, 2).stats.promptTokens;
        QVERIFY2(with > without + 5, qPrintable(QStringLiteral("%1 vs %2").arg(with).arg(without)));
    }

    void replyKeepsStreamingIntoItsOwnConversation() {
        session_->setGenerationOptions(sampled(11, -1));
        QSignalSpy finished(session_.get(), &ChatSession::replyFinished);
        session_->send("Once upon a time");
        const int64_t story = session_->conversationId();
        int chunks = 0;
        int64_t other = 0;
        // Counted at the engine: while another conversation is on screen the session shows (and sends
        // liveStats for) nothing of this reply, but it keeps streaming into its own row.
        const auto switchOnText = connect(engine_.get(), &EngineController::textArrived, this, [&] {
            ++chunks;
            if (chunks == 1) other = session_->newConversation();   // look elsewhere mid-reply...
            if (chunks == 2) session_->openConversation(story);      // ...and come back while it streams
        });
        const GenerationOutcome outcome = waitForReply(finished, 1);
        disconnect(switchOnText);  // the engine outlives this test
        QVERIFY2(chunks >= 2, "the reply was too short to switch away and back while it streamed");
        QCOMPARE(session_->conversationId(), story);
        QCOMPARE(session_->messages()->rowCount(), 2);
        QCOMPARE(session_->messages()->at(1).content, outcome.text);  // nothing lost or doubled
        QCOMPARE(store_->messages().list(story).last().content, outcome.text);
        QCOMPARE(store_->messages().count(other), 0);
    }

    void deletingTheConversationMidReplyStopsIt() {
        session_->setGenerationOptions(sampled(11, -1));
        QSignalSpy errors(session_.get(), &ChatSession::errorOccurred);
        QSignalSpy generating(session_.get(), &ChatSession::generatingChanged);
        session_->send("Once upon a time");
        const int64_t doomed = session_->conversationId();
        const auto deleteOnFirstText = connect(session_.get(), &ChatSession::liveStats, this, [&] {
            if (session_->conversationId() == doomed) session_->deleteConversation(doomed);
        });
        QTRY_COMPARE_WITH_TIMEOUT(generating.size(), 2, 10000);
        disconnect(deleteOnFirstText);
        QVERIFY(!session_->isGenerating());
        QVERIFY(!store_->conversations().find(doomed).has_value());
        QCOMPARE(session_->conversationId(), int64_t(0));
        QTest::qWait(100);  // the engine's late chunks and outcome are ignored
        QCOMPARE(errors.size(), 0);
        // And the session is usable again.
        QSignalSpy finished(session_.get(), &ChatSession::replyFinished);
        session_->setGenerationOptions(sampled(1, 8));
        QVERIFY(session_->send("Hi"));
        waitForReply(finished, 1);
        QCOMPARE(store_->messages().count(session_->conversationId()), 2);
    }

    void loadingAModelMidReplyEndsTheReplyAsStopped() {
        session_->setGenerationOptions(sampled(11, -1));
        QSignalSpy finished(session_.get(), &ChatSession::replyFinished);
        QSignalSpy loaded(engine_.get(), &EngineController::modelLoaded);
        session_->send("Once upon a time");
        const auto reloadOnFirstText = connect(session_.get(), &ChatSession::liveStats, this, [&] {
            if (loaded.isEmpty() && engine_->hasModel()) {
                engine_->loadModel(QString::fromStdString(peregrine::test::model_path("stories260K-q8_0.gguf")), {});
            }
        });
        const GenerationOutcome outcome = waitForReply(finished, 1);
        disconnect(reloadOnFirstText);
        QVERIFY(outcome.cancelled);
        QVERIFY(!session_->isGenerating());
        QCOMPARE(session_->messages()->at(1).state, MessageState::Stopped);
        QCOMPARE(store_->messages().list(session_->conversationId()).last().content, outcome.text);
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
    }

    void sendingWithoutAModelSaysSo() {
        EngineController noModel;
        ChatSession session(*store_, noModel);
        QSignalSpy errors(&session, &ChatSession::errorOccurred);
        QVERIFY(!session.send("Hello?"));
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors[0][0].toString().contains("No model"));
        // The user's message is kept; a reply can be asked for once a model is there.
        QCOMPARE(session.messages()->rowCount(), 1);
    }
};

QTEST_GUILESS_MAIN(TestChatSession)
#include "tst_chat_session.moc"
