// The whole app window with the real tiny model (stories260K), driven like a user: load the model, type a
// prompt, press Enter, watch the reply stream in and the stats bar show real speeds, press Esc in the
// middle of a reply and keep the partial text, switch conversations and back, then close everything and
// find the same messages after the store is reopened.
#include <QApplication>
#include <QLabel>
#include <QListView>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "bridge/engine_controller.h"
#include "chat/chat_input.h"
#include "chat/chat_session.h"
#include "chat/conversation_list_model.h"
#include "chat/message_list_model.h"
#include "settings/engine_settings.h"
#include "stats/rate_chart.h"
#include "stats/stats_bar.h"
#include "store/chat_store.h"
#include "support/test_paths.h"
#include "window/chat_panel.h"
#include "window/conversation_sidebar.h"
#include "window/main_window.h"
#include "window/model_status.h"
#include "window/notice_bar.h"

using namespace peregrine::ui;

namespace {

QString tinyModel() { return QString::fromStdString(peregrine::test::model_path("stories260K-q8_0.gguf")); }

struct Snapshot {
    MessageRole role;
    QString content;
    MessageState state;
};

QList<Snapshot> snapshot(const MessageListModel& model) {
    QList<Snapshot> out;
    for (int row = 0; row < model.rowCount(); ++row) {
        const StoredMessage& m = model.at(row);
        out << Snapshot{m.role, m.content, m.state};
    }
    return out;
}

QList<Snapshot> snapshot(const QList<StoredMessage>& messages) {
    QList<Snapshot> out;
    for (const StoredMessage& m : messages) out << Snapshot{m.role, m.content, m.state};
    return out;
}

bool operator==(const Snapshot& a, const Snapshot& b) {
    return a.role == b.role && a.content == b.content && a.state == b.state;
}

void clickConversation(ConversationSidebar* sidebar, int64_t id) {
    const int row = sidebar->model()->rowOf(id);
    QVERIFY(row >= 0);
    QListView* list = sidebar->listView();
    const QRect rect = list->visualRect(list->model()->index(row, 0));
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, rect.center());
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QString storePath() const { return dir_.filePath("chats.sqlite"); }
    std::unique_ptr<QSettings> settings() const {
        return std::make_unique<QSettings>(dir_.filePath("settings.ini"), QSettings::IniFormat);
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        // Sampled replies (seeded, so the run is repeatable) that go on long enough to be stopped.
        auto s = settings();
        EngineSettings engine;
        engine.sampling.temperature = 1.0f;
        engine.sampling.seed = 11;
        engine.maxTokens = -1;
        writeEngineSettings(*s, engine);
    }

    void chatStreamsStopsSwitchesAndPersists() {
        int64_t storyConversation = 0;
        QList<Snapshot> before;
        {
            MainWindow window(ChatStore::open(storePath()), settings());
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            ChatSession& session = window.session();
            ChatInput* input = window.chatPanel()->input();

            // Load the model: progress, then the status bar names it.
            QSignalSpy loaded(&window.engine(), &EngineController::modelLoaded);
            window.loadModel(tinyModel());
            QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 20000);
            QVERIFY(window.modelStatus()->text().contains("stories260K-q8_0.gguf"));

            // Type a prompt and press Enter: the reply streams in.
            QSignalSpy finished(&session, &ChatSession::replyFinished);
            QSignalSpy live(&session, &ChatSession::liveStats);
            input->setFocus();
            QTest::keyClicks(input, "Once upon a time");
            QTest::keyClick(input, Qt::Key_Return);
            QCOMPARE(input->toPlainText(), QString());  // sent, box cleared
            QCOMPARE(session.messages()->rowCount(), 2);
            QCOMPARE(session.messages()->at(0).content, QString("Once upon a time"));
            QCOMPARE(session.messages()->at(1).role, MessageRole::Assistant);
            QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 30000);
            QVERIFY(!live.isEmpty());  // text arrived in chunks before the end
            const StoredMessage& reply = session.messages()->at(1);
            QVERIFY(!reply.content.trimmed().isEmpty());
            QCOMPARE(reply.state, MessageState::Complete);
            QVERIFY(reply.stats.generatedTokens > 0);
            QVERIFY(reply.stats.toolTip().contains("tok/s"));  // hover shows the reply's stats

            // The stats bar shows real, non-zero speeds.
            StatsBar* stats = window.statsBar();
            QVERIFY(stats->shown().decodeTokensPerSecond > 0);
            QVERIFY(stats->shown().prefillTokensPerSecond > 0);
            QVERIFY(stats->shown().timeToFirstTokenMs > 0);
            QVERIFY(stats->shown().contextUsed > 0);
            QCOMPARE(stats->shown().contextLength, 512);
            QVERIFY(!stats->findChild<QLabel*>("decodeRate")->text().contains(QChar(0x2013)));
            // The first message named the conversation.
            storyConversation = session.conversationId();
            QCOMPARE(window.sidebar()->model()->find(storyConversation)->title, QString("Once upon a time"));

            // A second prompt; Esc as soon as text starts arriving keeps the partial reply.
            bool escPressed = false;
            QMetaObject::Connection stopOnFirstText = connect(&session, &ChatSession::liveStats, this, [&] {
                if (escPressed) return;
                escPressed = true;
                QTest::keyClick(input, Qt::Key_Escape);
            });
            QTest::keyClicks(input, "Tell me about a dragon");
            QTest::keyClick(input, Qt::Key_Return);
            QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 30000);
            disconnect(stopOnFirstText);
            QVERIFY(escPressed);
            const auto stopped = finished.last()[0].value<GenerationOutcome>();
            QVERIFY2(stopped.cancelled, qPrintable("reply ended by " + stopped.stats.stopReason + " before Esc"));
            QCOMPARE(session.messages()->rowCount(), 4);
            const StoredMessage& partial = session.messages()->at(3);
            QCOMPARE(partial.state, MessageState::Stopped);
            QVERIFY(!partial.content.isEmpty());
            QCOMPARE(partial.content, stopped.text);
            QCOMPARE(window.store().messages().find(partial.id)->content, partial.content);  // saved as shown

            // Ctrl+N: a new, empty conversation; then back to the story by clicking it in the sidebar.
            before = snapshot(*session.messages());
            QTest::keyClick(&window, Qt::Key_N, Qt::ControlModifier);
            QVERIFY(session.conversationId() != storyConversation);
            QCOMPARE(session.messages()->rowCount(), 0);
            QCOMPARE(window.sidebar()->model()->rowCount(), 2);
            clickConversation(window.sidebar(), storyConversation);
            QCOMPARE(session.conversationId(), storyConversation);
            QCOMPARE(snapshot(*session.messages()), before);
            QVERIFY(window.noticeBar()->text().isEmpty());  // no error was shown along the way
        }

        // Everything closed. Reopen the store: the same conversation, the same messages.
        auto reopened = ChatStore::open(storePath());
        QVERIFY(reopened->recoveryNote().isEmpty());
        QCOMPARE(reopened->database().integrityCheck(), QString("ok"));
        QCOMPARE(snapshot(reopened->messages().list(storyConversation)), before);

        // And a new window on it shows them once the conversation is opened.
        MainWindow window(std::move(reopened), settings());
        window.show();
        clickConversation(window.sidebar(), storyConversation);
        QCOMPARE(snapshot(*window.session().messages()), before);
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
