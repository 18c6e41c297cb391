// The `conversations` table: one row per chat (title, system prompt, times). Every write runs in a
// transaction; the newest-updated conversation lists first.
#pragma once

#include <QList>
#include <QString>

#include <cstdint>
#include <optional>

#include "store/chat_records.h"

namespace peregrine::ui {

class SqliteDatabase;

class ConversationTable {
public:
    explicit ConversationTable(SqliteDatabase& db) : db_(db) {}

    int64_t create(const QString& title, const QString& systemPrompt = {});
    void rename(int64_t id, const QString& title);
    void setSystemPrompt(int64_t id, const QString& systemPrompt);
    void touch(int64_t id);    // updated_at = now (a message was added or changed)
    void remove(int64_t id);   // its messages go with it (ON DELETE CASCADE)

    std::optional<Conversation> find(int64_t id);
    QList<Conversation> list();
    // Conversations whose title or any message contains `text` (case-insensitive for ASCII).
    QList<Conversation> search(const QString& text);

private:
    void requireOneRowChanged(int64_t id, const char* action);

    SqliteDatabase& db_;
};

}  // namespace peregrine::ui
