// ConversationTable on a real file: create/rename/system prompt/delete (cascading to messages), the
// newest-first order, and search by title and message text with LIKE wildcards taken literally.
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include "store/chat_store.h"

using namespace peregrine::ui;

class TestConversationTable : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<ChatStore> store_;
    int files_ = 0;

private slots:
    // A new file for every test and every data row.
    void init() { store_ = ChatStore::open(dir_.filePath(QStringLiteral("chats-%1.sqlite").arg(++files_))); }
    void cleanup() { store_.reset(); }

    void createRenameAndSystemPrompt() {
        ConversationTable& table = store_->conversations();
        const int64_t id = table.create("New chat", "You are a pirate.");
        auto row = table.find(id);
        QVERIFY(row.has_value());
        QCOMPARE(row->title, QString("New chat"));
        QCOMPARE(row->systemPrompt, QString("You are a pirate."));
        QVERIFY(row->createdAtMs > 0);
        table.rename(id, QString::fromUtf8("Ünïcödé ✓ title"));
        table.setSystemPrompt(id, "");
        row = table.find(id);
        QCOMPARE(row->title, QString::fromUtf8("Ünïcödé ✓ title"));
        QCOMPARE(row->systemPrompt, QString());
        QVERIFY_THROWS_EXCEPTION(StoreError, table.rename(id + 100, "missing"));
        QVERIFY(!table.find(id + 100).has_value());
    }

    void listsMostRecentlyUpdatedFirst() {
        ConversationTable& table = store_->conversations();
        const int64_t a = table.create("a");
        const int64_t b = table.create("b");
        const int64_t c = table.create("c");
        QThread::msleep(5);
        store_->messages().append(a, MessageRole::User, "bump a");  // touching a moves it to the top
        const QList<Conversation> rows = table.list();
        QCOMPARE(rows.size(), 3);
        QCOMPARE(rows[0].id, a);
        QCOMPARE(rows[1].id, c);
        QCOMPARE(rows[2].id, b);
    }

    void removeDeletesItsMessages() {
        const int64_t keep = store_->conversations().create("keep");
        const int64_t drop = store_->conversations().create("drop");
        store_->messages().append(keep, MessageRole::User, "k");
        const int64_t m = store_->messages().append(drop, MessageRole::User, "d");
        store_->conversations().remove(drop);
        QVERIFY(!store_->conversations().find(drop).has_value());
        QVERIFY(!store_->messages().find(m).has_value());
        QCOMPARE(store_->messages().count(keep), 1);
    }

    void search_data() {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QStringList>("expectedTitles");
        QTest::newRow("title") << "recipe" << QStringList{"Pancake recipe"};
        QTest::newRow("message text") << "dragon" << QStringList{"Story time"};
        QTest::newRow("case-insensitive") << "PANCAKE" << QStringList{"Pancake recipe"};
        QTest::newRow("both") << "e" << QStringList{"100% done", "Story time", "Pancake recipe"};
        QTest::newRow("percent is literal") << "100%" << QStringList{"100% done"};
        QTest::newRow("underscore is literal") << "a_b" << QStringList{"Story time"};
        QTest::newRow("no match") << "zebra" << QStringList{};
        QTest::newRow("blank lists all") << "  " << QStringList{"100% done", "Story time", "Pancake recipe"};
    }

    void search() {
        QFETCH(QString, query);
        QFETCH(QStringList, expectedTitles);
        ConversationTable& table = store_->conversations();
        const int64_t pancakes = table.create("Pancake recipe");
        store_->messages().append(pancakes, MessageRole::User, "flour, eggs, milk");
        QThread::msleep(2);
        const int64_t story = table.create("Story time");
        store_->messages().append(story, MessageRole::Assistant, "Once upon a time a dragon said a_b.");
        QThread::msleep(2);
        table.create("100% done");
        QStringList titles;
        for (const Conversation& c : table.search(query)) titles << c.title;
        QCOMPARE(titles, expectedTitles);
    }
};

QTEST_GUILESS_MAIN(TestConversationTable)
#include "tst_conversation_table.moc"
