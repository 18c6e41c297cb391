// MessageTable on a real file: order, streaming saves and finish with stats, edit, removing a message
// and everything after it (regenerate / edit-and-resend), a reply's alternatives and the chosen one, role
// and state names round-tripping.
#include <QTemporaryDir>
#include <QtTest>

#include "store/chat_store.h"

using namespace peregrine::ui;

class TestMessageTable : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<ChatStore> store_;
    int64_t conversation_ = 0;

private slots:
    void init() {
        store_ = ChatStore::open(dir_.filePath(QTest::currentTestFunction() + QString(".sqlite")));
        conversation_ = store_->conversations().create("c");
    }
    void cleanup() { store_.reset(); }

    void keepsOrderRolesAndText() {
        MessageTable& table = store_->messages();
        table.append(conversation_, MessageRole::System, "sys");
        table.append(conversation_, MessageRole::User, "line 1\nline 2 ✓");
        table.append(conversation_, MessageRole::Assistant, "answer");
        const QList<StoredMessage> rows = table.list(conversation_);
        QCOMPARE(rows.size(), 3);
        QCOMPARE(rows[0].role, MessageRole::System);
        QCOMPARE(rows[1].content, QString::fromUtf8("line 1\nline 2 ✓"));
        QCOMPARE(rows[2].role, MessageRole::Assistant);
        QVERIFY(rows[0].id < rows[1].id && rows[1].id < rows[2].id);
        QCOMPARE(table.count(conversation_), 3);
    }

    void streamingThenFinishKeepsStats() {
        MessageTable& table = store_->messages();
        const int64_t id = table.append(conversation_, MessageRole::Assistant, "", MessageState::Streaming);
        table.updateContent(id, "Once upon");
        QCOMPARE(table.find(id)->content, QString("Once upon"));
        QCOMPARE(table.find(id)->state, MessageState::Streaming);
        MessageStats stats;
        stats.model = "stories260K-q8_0.gguf";
        stats.promptTokens = 12;
        stats.generatedTokens = 40;
        stats.prefillTokensPerSecond = 5000.5;
        stats.decodeTokensPerSecond = 1234.25;
        stats.timeToFirstTokenMs = 3.5;
        stats.stopReason = "cancelled";
        table.finish(id, "Once upon a time", MessageState::Stopped, stats);
        const StoredMessage row = *table.find(id);
        QCOMPARE(row.content, QString("Once upon a time"));
        QCOMPARE(row.state, MessageState::Stopped);
        QCOMPARE(row.stats.model, stats.model);
        QCOMPARE(row.stats.generatedTokens, 40);
        QCOMPARE(row.stats.decodeTokensPerSecond, 1234.25);
        QCOMPARE(row.stats.stopReason, QString("cancelled"));
        QVERIFY(row.stats.toolTip().contains("stories260K-q8_0.gguf"));
        QVERIFY(row.stats.toolTip().contains("12 prompt, 40 generated"));
        QVERIFY_THROWS_EXCEPTION(StoreError, table.updateContent(id + 99, "x"));
    }

    void removeFromDropsLaterMessagesOfThatConversationOnly() {
        MessageTable& table = store_->messages();
        const int64_t other = store_->conversations().create("other");
        const int64_t u1 = table.append(conversation_, MessageRole::User, "q1");
        table.append(conversation_, MessageRole::Assistant, "a1");
        const int64_t otherMessage = table.append(other, MessageRole::User, "elsewhere");
        const int64_t u2 = table.append(conversation_, MessageRole::User, "q2");
        table.append(conversation_, MessageRole::Assistant, "a2");
        table.removeFrom(u2);
        QList<StoredMessage> rows = table.list(conversation_);
        QCOMPARE(rows.size(), 2);
        QCOMPARE(rows.last().content, QString("a1"));
        QVERIFY(table.find(otherMessage).has_value());  // a later id, but another conversation
        table.setContent(u1, "q1 edited");
        table.removeFrom(rows[1].id);
        rows = table.list(conversation_);
        QCOMPARE(rows.size(), 1);
        QCOMPARE(rows[0].content, QString("q1 edited"));
    }

    void alternativesKeepTheChosenOneAsContent() {
        MessageTable& table = store_->messages();
        table.append(conversation_, MessageRole::User, "q");
        const int64_t id = table.append(conversation_, MessageRole::Assistant, "first");
        QVERIFY(table.find(id)->alternatives.isEmpty());
        QCOMPARE(table.find(id)->alternativeIndex(), -1);
        const QStringList three{"first", "second, with \"quotes\"", "third ✓\nline"};
        table.setAlternatives(id, three, 0);
        QCOMPARE(table.find(id)->alternatives, three);
        QCOMPARE(table.find(id)->content, three[0]);
        table.setAlternatives(id, three, 2);  // the user browsed to the third
        StoredMessage row = *table.find(id);
        QCOMPARE(row.content, three[2]);
        QCOMPARE(row.alternativeIndex(), 2);
        QCOMPARE(row.alternatives, three);
        // Out of range or an unknown message: an error naming it, nothing changed.
        QVERIFY_THROWS_EXCEPTION(StoreError, table.setAlternatives(id, three, 3));
        QVERIFY_THROWS_EXCEPTION(StoreError, table.setAlternatives(id, three, -1));
        QVERIFY_THROWS_EXCEPTION(StoreError, table.setAlternatives(id + 99, three, 0));
        QCOMPARE(table.find(id)->content, three[2]);
        // Clearing the list leaves a single reply with the chosen text.
        table.setAlternatives(id, {}, 0);
        row = *table.find(id);
        QVERIFY(row.alternatives.isEmpty());
        QCOMPARE(row.content, three[2]);
        // A damaged column reads as "no alternatives", never hides the message.
        store_->database().prepare("UPDATE messages SET alternatives = '[not json' WHERE id = ?").bind(1, id).run();
        row = *table.find(id);
        QVERIFY(row.alternatives.isEmpty());
        QCOMPARE(row.content, three[2]);
    }

    void namesRoundTrip() {
        for (MessageRole role : {MessageRole::System, MessageRole::User, MessageRole::Assistant}) {
            QCOMPARE(roleFromName(roleName(role)), std::optional<MessageRole>(role));
        }
        QVERIFY(!roleFromName("tool").has_value());
        for (MessageState state : {MessageState::Complete, MessageState::Streaming, MessageState::Stopped,
                                   MessageState::Failed, MessageState::Interrupted}) {
            QCOMPARE(stateFromName(stateName(state)), state);
        }
        QVERIFY(MessageStats::fromJson("{not json").isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestMessageTable)
#include "tst_message_table.moc"
