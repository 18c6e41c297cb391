// Markdown and JSON export of a conversation read back from a real store: every turn in order, the system
// prompt, reply states and stats; the JSON parses and keeps exact text (newlines, Unicode, code fences).
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "store/chat_store.h"
#include "store/conversation_export.h"

using namespace peregrine::ui;

class TestConversationExport : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<ChatStore> store_;
    int64_t id_ = 0;
    const QString code_ = QString::fromUtf8("Here:\n\n```cpp\nint main() { return 0; }\n```\n\nÜnïcödé ✓");

private slots:
    void initTestCase() {
        store_ = ChatStore::open(dir_.filePath("chats.sqlite"));
        id_ = store_->conversations().create("Export me", "Be brief.");
        store_->messages().append(id_, MessageRole::User, "Write main()");
        const int64_t reply = store_->messages().append(id_, MessageRole::Assistant, "", MessageState::Streaming);
        MessageStats stats;
        stats.model = "stories260K-q8_0.gguf";
        stats.generatedTokens = 21;
        stats.decodeTokensPerSecond = 2500;
        store_->messages().finish(reply, code_, MessageState::Stopped, stats);
    }

    void markdownHasEveryTurn() {
        const QString md = conversationToMarkdown(*store_->conversations().find(id_), store_->messages().list(id_));
        QVERIFY(md.startsWith("# Export me\n"));
        QVERIFY(md.contains("> System prompt: Be brief."));
        const qsizetype user = md.indexOf("## User\n\nWrite main()");
        const qsizetype assistant = md.indexOf("## Assistant (stories260K-q8_0.gguf) [stopped]\n\n" + code_);
        QVERIFY(user > 0);
        QVERIFY(assistant > user);
    }

    void jsonKeepsExactTextAndStats() {
        const QByteArray json = conversationToJson(*store_->conversations().find(id_), store_->messages().list(id_));
        QJsonParseError error;
        const QJsonObject root = QJsonDocument::fromJson(json, &error).object();
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(root["title"].toString(), QString("Export me"));
        QCOMPARE(root["system_prompt"].toString(), QString("Be brief."));
        const QJsonArray messages = root["messages"].toArray();
        QCOMPARE(messages.size(), 2);
        QCOMPARE(messages[0].toObject()["role"].toString(), QString("user"));
        const QJsonObject reply = messages[1].toObject();
        QCOMPARE(reply["content"].toString(), code_);
        QCOMPARE(reply["state"].toString(), QString("stopped"));
        QCOMPARE(reply["stats"].toObject()["generated_tokens"].toInt(), 21);
        QVERIFY(!messages[0].toObject().contains("stats"));
    }
};

QTEST_GUILESS_MAIN(TestConversationExport)
#include "tst_conversation_export.moc"
