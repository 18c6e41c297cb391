#include "store/chat_store.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QObject>
#include <QStandardPaths>

#include "logging/ui_log.h"
#include "store/schema_migrations.h"

namespace peregrine::ui {
namespace {

// Opens and migrates; also checks the pages, because SQLite opens a damaged file happily and only fails
// when a query reaches the bad page (maybe mid-conversation, much later).
std::unique_ptr<SqliteDatabase> openChecked(const QString& path) {
    auto db = std::make_unique<SqliteDatabase>(path);
    const QString check = db->integrityCheck(/*quick=*/true);
    if (check != QLatin1String("ok")) {
        throw StoreError(path.toStdString() + ": the file is damaged: " + check.left(500).toStdString(),
                         /*SQLITE_CORRUPT*/ 11);
    }
    migrateSchema(*db);
    return db;
}

// Renames the database and its WAL/shared-memory files to "<path>.broken-<time>[-wal|-shm]".
QString moveAside(const QString& path) {
    const QString stamp = QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz"));
    const QString backup = path + QStringLiteral(".broken-") + stamp;
    for (const QString& suffix : {QString(), QStringLiteral("-wal"), QStringLiteral("-shm")}) {
        if (!QFile::exists(path + suffix)) continue;
        if (!QFile::rename(path + suffix, backup + suffix)) {
            throw StoreError(path.toStdString() + suffix.toStdString() + ": damaged, and it cannot be moved to " +
                             backup.toStdString() + suffix.toStdString() + " to start a fresh history");
        }
    }
    return backup;
}

}  // namespace

ChatStore::ChatStore(std::unique_ptr<SqliteDatabase> db)
    : db_(std::move(db)), conversations_(*db_), messages_(*db_) {}

std::unique_ptr<ChatStore> ChatStore::open(const QString& path) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    std::unique_ptr<SqliteDatabase> db;
    QString note;
    QString backup;
    try {
        db = openChecked(path);
    } catch (const StoreError& error) {
        if (!error.meansCorruptFile()) throw;
        backup = moveAside(path);
        note = QObject::tr("The chat history could not be read (%1). It was kept as %2 and a new, empty "
                           "history was started.")
                   .arg(QString::fromStdString(error.what()), backup);
        uiLogger("store")->error("{}", note.toStdString());
        db = openChecked(path);
    }
    std::unique_ptr<ChatStore> store(new ChatStore(std::move(db)));
    store->recoveryNote_ = note;
    store->backupPath_ = backup;
    store->interruptedReplies_ = store->messages_.markStreamingInterrupted();
    return store;
}

std::unique_ptr<ChatStore> ChatStore::openInMemory() {
    auto db = std::make_unique<SqliteDatabase>(QStringLiteral(":memory:"));
    migrateSchema(*db);
    return std::unique_ptr<ChatStore>(new ChatStore(std::move(db)));
}

QString ChatStore::defaultPath() {
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/chats.sqlite");
}

}  // namespace peregrine::ui
