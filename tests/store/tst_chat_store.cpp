// ChatStore on real SQLite files: schema and pragmas of a new file, migration from an empty file and from
// a version-1 file, a writer process killed with SIGKILL while a reply streams, and damaged files kept
// aside and replaced.
//
// The kill test re-runs this executable as the writer: `tst_chat_store --stream-reply-into FILE` opens the
// store, streams a deterministic reply ("w0 w1 w2 ...") through StreamingReplySaver and prints
// "saved <length>" after every commit until it is killed.
#include <QCoreApplication>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTextStream>
#include <QTimer>
#include <QtTest>

#include <cstdio>

#include "store/chat_store.h"
#include "store/schema_migrations.h"
#include "store/streaming_reply_saver.h"

using namespace peregrine::ui;

namespace {

// The text the writer streams: word i is "w<i> ".
QString expectedReply(int words) {
    QString text;
    for (int i = 0; i < words; ++i) text += QStringLiteral("w%1 ").arg(i);
    return text;
}

int runStreamingWriter(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    auto store = ChatStore::open(QString::fromLocal8Bit(argv[2]));
    const int64_t conversation = store->conversations().create("killed mid-reply");
    store->messages().append(conversation, MessageRole::User, "tell me a story");
    const int64_t reply = store->messages().append(conversation, MessageRole::Assistant, "", MessageState::Streaming);
    // A short interval makes kills likely to land inside or right after a commit.
    StreamingReplySaver saver(store->messages(), reply, /*intervalMs=*/20);
    QObject::connect(&saver, &StreamingReplySaver::saved, [](qsizetype length) {
        std::printf("saved %lld\n", static_cast<long long>(length));
        std::fflush(stdout);
    });
    int word = 0;
    QTimer producer;
    QObject::connect(&producer, &QTimer::timeout, [&] {
        for (int i = 0; i < 20; ++i, ++word) saver.append(QStringLiteral("w%1 ").arg(word));
    });
    producer.start(1);
    return app.exec();
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(file.write(bytes), bytes.size());
}

QByteArray readFile(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

// A closed store file with enough rows to span many pages (the WAL is checkpointed on close).
void writeBigStore(const QString& path) {
    auto store = ChatStore::open(path);
    for (int c = 0; c < 40; ++c) {
        const int64_t id = store->conversations().create(QStringLiteral("conversation %1").arg(c));
        for (int m = 0; m < 5; ++m) {
            store->messages().append(id, MessageRole::User, QString(300, QChar('a' + m)));
        }
    }
}

}  // namespace

class TestChatStore : public QObject {
    Q_OBJECT

private slots:
    void newFileHasLatestSchemaWalAndForeignKeys() {
        QTemporaryDir dir;
        auto store = ChatStore::open(dir.filePath("sub/folder/chats.sqlite"));
        QVERIFY(store->recoveryNote().isEmpty());
        QCOMPARE(store->database().userVersion(), latestSchemaVersion());
        QCOMPARE(store->database().journalMode(), std::string("wal"));
        auto fk = store->database().prepare("PRAGMA foreign_keys");
        QVERIFY(fk.step());
        QCOMPARE(fk.columnInt(0), 1);
        // Foreign keys are enforced: a message for a conversation that does not exist is refused.
        QVERIFY_THROWS_EXCEPTION(StoreError, store->messages().append(12345, MessageRole::User, "orphan"));
    }

    void emptyFileIsMigratedFromScratch() {
        QTemporaryDir dir;
        const QString path = dir.filePath("chats.sqlite");
        writeFile(path, {});  // SQLite treats a zero-length file as an empty database
        auto store = ChatStore::open(path);
        QVERIFY(store->recoveryNote().isEmpty());
        QCOMPARE(store->database().userVersion(), latestSchemaVersion());
        const int64_t id = store->conversations().create("t", "be brief");
        QCOMPARE(store->conversations().find(id)->systemPrompt, QString("be brief"));
    }

    void version1FileIsMigratedKeepingItsRows() {
        QTemporaryDir dir;
        const QString path = dir.filePath("chats.sqlite");
        {
            SqliteDatabase db(path);
            migrateSchemaTo(db, 1);
            QCOMPARE(db.userVersion(), 1);
            // Rows as release 1 wrote them: no system_prompt, state or stats columns yet.
            db.exec("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (7, 'old chat', 1, 2);"
                    "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (7, 'user', 'hi', 3);"
                    "INSERT INTO messages (conversation_id, role, content, created_at)"
                    " VALUES (7, 'assistant', 'hello there', 4);");
        }
        auto store = ChatStore::open(path);
        QVERIFY(store->recoveryNote().isEmpty());
        QCOMPARE(store->database().userVersion(), latestSchemaVersion());
        const auto conversation = store->conversations().find(7);
        QVERIFY(conversation.has_value());
        QCOMPARE(conversation->title, QString("old chat"));
        QCOMPARE(conversation->systemPrompt, QString());
        const QList<StoredMessage> messages = store->messages().list(7);
        QCOMPARE(messages.size(), 2);
        QCOMPARE(messages[1].role, MessageRole::Assistant);
        QCOMPARE(messages[1].content, QString("hello there"));
        QCOMPARE(messages[1].state, MessageState::Complete);
        QVERIFY(messages[1].stats.isEmpty());
        // New columns are writable after the migration.
        store->conversations().setSystemPrompt(7, "You are terse.");
        QCOMPARE(store->conversations().find(7)->systemPrompt, QString("You are terse."));
    }

    void fileFromNewerReleaseIsRefusedAndLeftAlone() {
        QTemporaryDir dir;
        const QString path = dir.filePath("chats.sqlite");
        {
            SqliteDatabase db(path);
            migrateSchema(db);
            db.setUserVersion(latestSchemaVersion() + 1);
        }
        const QByteArray before = readFile(path);
        QVERIFY_THROWS_EXCEPTION(StoreError, ChatStore::open(path));
        QVERIFY(QFile::exists(path));
        QCOMPARE(readFile(path), before);
        QCOMPARE(QDir(dir.path()).entryList({"*.broken-*"}, QDir::Files).size(), 0);
    }

    void unopenablePathThrowsAndMovesNothing() {
        QTemporaryDir dir;
        const QString path = dir.filePath("a-directory");
        QVERIFY(QDir().mkpath(path));
        QVERIFY_THROWS_EXCEPTION(StoreError, ChatStore::open(path));
        QVERIFY(QFileInfo(path).isDir());
        // The fallback the app uses then works.
        auto memory = ChatStore::openInMemory();
        QVERIFY(memory->conversations().create("scratch") > 0);
    }

    void streamingRowsLeftByACrashBecomeInterrupted() {
        QTemporaryDir dir;
        const QString path = dir.filePath("chats.sqlite");
        int64_t reply = 0;
        {
            auto store = ChatStore::open(path);
            const int64_t c = store->conversations().create("c");
            reply = store->messages().append(c, MessageRole::Assistant, "partial", MessageState::Streaming);
        }
        auto store = ChatStore::open(path);
        QCOMPARE(store->interruptedReplies(), 1);
        QCOMPARE(store->messages().find(reply)->state, MessageState::Interrupted);
        QCOMPARE(store->messages().find(reply)->content, QString("partial"));
    }

    void writerKilledWhileStreamingLeavesConsistentFile_data() {
        QTest::addColumn<int>("savesBeforeKill");
        QTest::newRow("after 1 save") << 1;
        QTest::newRow("after 4 saves") << 4;
        QTest::newRow("after 15 saves") << 15;
    }

    void writerKilledWhileStreamingLeavesConsistentFile() {
        QFETCH(int, savesBeforeKill);
        QTemporaryDir dir;
        const QString path = dir.filePath("chats.sqlite");

        QProcess writer;
        writer.start(QCoreApplication::applicationFilePath(), {"--stream-reply-into", path});
        QVERIFY2(writer.waitForStarted(5000), qPrintable(writer.errorString()));
        qsizetype lastSaved = -1;
        int saves = 0;
        QElapsedTimer clock;
        clock.start();
        while (saves < savesBeforeKill && clock.elapsed() < 20000) {
            if (!writer.canReadLine() && !writer.waitForReadyRead(1000)) continue;
            while (writer.canReadLine()) {
                const QByteArray line = writer.readLine().trimmed();
                if (line.startsWith("saved ")) {
                    lastSaved = line.mid(6).toLongLong();
                    ++saves;
                }
            }
        }
        QVERIFY2(saves >= savesBeforeKill, writer.readAllStandardError().constData());
        writer.kill();  // SIGKILL: no destructors, no checkpoint, possibly mid-transaction
        QVERIFY(writer.waitForFinished(5000));
        QCOMPARE(writer.exitStatus(), QProcess::CrashExit);

        auto store = ChatStore::open(path);
        QVERIFY2(store->recoveryNote().isEmpty(), qPrintable(store->recoveryNote()));
        QCOMPARE(store->database().integrityCheck(), QString("ok"));
        const QList<Conversation> conversations = store->conversations().list();
        QCOMPARE(conversations.size(), 1);
        const QList<StoredMessage> messages = store->messages().list(conversations[0].id);
        QCOMPARE(messages.size(), 2);
        const StoredMessage& reply = messages[1];
        QCOMPARE(reply.state, MessageState::Interrupted);
        // Everything up to the last reported save is there, and it is exactly the streamed text.
        QVERIFY2(reply.content.size() >= lastSaved,
                 qPrintable(QStringLiteral("%1 < %2").arg(reply.content.size()).arg(lastSaved)));
        const QString expected = expectedReply(reply.content.count(' ') + 1);
        QVERIFY(expected.startsWith(reply.content));
        QVERIFY(reply.content.endsWith(' '));  // saves are whole appends, never torn
    }

    void damagedFileIsKeptAsideAndReplaced_data() {
        QTest::addColumn<QString>("damage");
        QTest::newRow("not a database") << "garbage";
        QTest::newRow("truncated") << "truncate";
        QTest::newRow("pages overwritten") << "scribble";
    }

    void damagedFileIsKeptAsideAndReplaced() {
        QFETCH(QString, damage);
        QTemporaryDir dir;
        const QString path = dir.filePath("chats.sqlite");
        if (damage == "garbage") {
            writeFile(path, QByteArray("this is not an SQLite database, just text. ").repeated(200));
        } else {
            writeBigStore(path);
            QVERIFY(!QFile::exists(path + "-wal") || QFileInfo(path + "-wal").size() == 0);
            QByteArray bytes = readFile(path);
            QVERIFY(bytes.size() > 64 * 1024);
            if (damage == "truncate") {
                bytes.truncate(bytes.size() / 2);
            } else {
                // Keep the 100-byte header and first page valid; wreck every page from the third on.
                for (qsizetype page = 2 * 4096; page < bytes.size(); page += 4096) {
                    for (int i = 0; i < 64; ++i) bytes[page + 8 + i] = char(0xA5 ^ i);
                }
            }
            writeFile(path, bytes);
        }
        const QByteArray damaged = readFile(path);

        auto store = ChatStore::open(path);
        QVERIFY(!store->recoveryNote().isEmpty());
        QVERIFY(store->recoveryNote().contains(store->backupPath()));
        QCOMPARE(readFile(store->backupPath()), damaged);  // the bad file is kept byte for byte
        QCOMPARE(store->conversations().list().size(), 0);
        QCOMPARE(store->database().integrityCheck(), QString("ok"));
        const int64_t id = store->conversations().create("after recovery");
        store.reset();
        // The fresh file is a normal store from now on.
        auto reopened = ChatStore::open(path);
        QVERIFY(reopened->recoveryNote().isEmpty());
        QCOMPARE(reopened->conversations().find(id)->title, QString("after recovery"));
    }
};

int main(int argc, char** argv) {
    if (argc == 3 && qstrcmp(argv[1], "--stream-reply-into") == 0) return runStreamingWriter(argc, argv);
    QCoreApplication app(argc, argv);
    TestChatStore test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_chat_store.moc"
