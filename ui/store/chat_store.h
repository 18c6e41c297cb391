// The chat history: one SQLite file, migrated to the current schema, with one small class per table.
//
// Opening never leaves the user without a history: a file that is corrupt or not a database is moved
// aside (kept, with its -wal/-shm, as "<name>.broken-<time>") and a fresh one is created; recoveryNote()
// then says what happened so the app can tell the user. Used from the GUI thread only.
#pragma once

#include <QString>

#include <memory>

#include "store/conversation_table.h"
#include "store/message_table.h"
#include "store/sqlite_database.h"

namespace peregrine::ui {

class ChatStore {
public:
    // Throws StoreError only when not even a fresh file can be created (read-only folder, disk full,
    // a file from a newer release); callers then fall back to openInMemory().
    static std::unique_ptr<ChatStore> open(const QString& path);
    static std::unique_ptr<ChatStore> openInMemory();

    // <XDG data dir>/peregrine/chats.sqlite (QStandardPaths::AppDataLocation).
    static QString defaultPath();

    const QString& path() const { return db_->path(); }
    // Empty when the file opened cleanly; otherwise one paragraph for the user (what was wrong, where
    // the bad file was kept).
    const QString& recoveryNote() const { return recoveryNote_; }
    const QString& backupPath() const { return backupPath_; }
    int interruptedReplies() const { return interruptedReplies_; }

    SqliteDatabase& database() { return *db_; }
    ConversationTable& conversations() { return conversations_; }
    MessageTable& messages() { return messages_; }

private:
    explicit ChatStore(std::unique_ptr<SqliteDatabase> db);

    std::unique_ptr<SqliteDatabase> db_;
    ConversationTable conversations_;
    MessageTable messages_;
    QString recoveryNote_;
    QString backupPath_;
    int interruptedReplies_ = 0;
};

}  // namespace peregrine::ui
