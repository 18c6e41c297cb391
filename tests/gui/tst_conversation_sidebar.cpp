// The conversation sidebar over a real store: search by title and by message text as you type, rename,
// delete (the open conversation closes), and clicking opens a conversation in the session.
#include <QLineEdit>
#include <QListView>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "chat/conversation_list_model.h"
#include "store/chat_store.h"
#include "window/conversation_sidebar.h"

using namespace peregrine::ui;

namespace {

QStringList titles(const ConversationListModel& model) {
    QStringList out;
    for (int row = 0; row < model.rowCount(); ++row) out << model.index(row).data().toString();
    return out;
}

}  // namespace

class TestConversationSidebar : public QObject {
    Q_OBJECT

private slots:
    void searchRenameDeleteAndOpen() {
        QTemporaryDir dir;
        auto store = ChatStore::open(dir.filePath("chats.sqlite"));
        const int64_t cats = store->conversations().create("Cats");
        store->messages().append(cats, MessageRole::User, "Tell me about whiskers");
        const int64_t dogs = store->conversations().create("Dogs");
        store->messages().append(dogs, MessageRole::User, "Tell me about tails");
        EngineController engine;
        ChatSession session(*store, engine);
        ConversationSidebar sidebar(*store, session);
        sidebar.show();
        QVERIFY(QTest::qWaitForWindowExposed(&sidebar));
        QCOMPARE(titles(*sidebar.model()), QStringList({"Dogs", "Cats"}));

        // Typing in the search box filters after a short pause, by title or by message text.
        auto* search = sidebar.findChild<QLineEdit*>();
        QTest::keyClicks(search, "whisk");
        QTRY_COMPARE(titles(*sidebar.model()), QStringList({"Cats"}));
        search->clear();
        QTest::keyClicks(search, "dog");
        QTRY_COMPARE(titles(*sidebar.model()), QStringList({"Dogs"}));
        search->clear();
        QTRY_COMPARE(sidebar.model()->rowCount(), 2);

        // Clicking opens it.
        QListView* list = sidebar.listView();
        QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualRect(sidebar.model()->index(1)).center());
        QCOMPARE(session.conversationId(), cats);
        QCOMPARE(session.messages()->rowCount(), 1);

        QVERIFY(sidebar.renameConversation(cats, "  Felines  "));
        QCOMPARE(store->conversations().find(cats)->title, QString("Felines"));
        QVERIFY(titles(*sidebar.model()).contains("Felines"));
        QVERIFY(!sidebar.renameConversation(cats, "   "));  // blank titles are refused

        session.deleteConversation(cats);  // the sidebar's Delete action, after its confirmation
        QCOMPARE(titles(*sidebar.model()), QStringList({"Dogs"}));
        QCOMPARE(session.conversationId(), int64_t(0));
        QCOMPARE(session.messages()->rowCount(), 0);
    }
};

QTEST_MAIN(TestConversationSidebar)
#include "tst_conversation_sidebar.moc"
