#include "store/conversation_table.h"

#include <QDateTime>

#include "store/sqlite_database.h"

namespace peregrine::ui {
namespace {

constexpr std::string_view kColumns = "id, title, system_prompt, created_at, updated_at";

Conversation readRow(const SqliteStatement& row) {
    Conversation conversation;
    conversation.id = row.columnInt(0);
    conversation.title = row.columnText(1);
    conversation.systemPrompt = row.columnText(2);
    conversation.createdAtMs = row.columnInt(3);
    conversation.updatedAtMs = row.columnInt(4);
    return conversation;
}

QList<Conversation> readAll(SqliteStatement& statement) {
    QList<Conversation> out;
    while (statement.step()) out << readRow(statement);
    return out;
}

// LIKE treats % and _ as wildcards; the user's search text must match literally.
QString likePattern(const QString& text) {
    QString escaped = text;
    escaped.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    return '%' + escaped + '%';
}

}  // namespace

int64_t ConversationTable::create(const QString& title, const QString& systemPrompt) {
    const int64_t now = QDateTime::currentMSecsSinceEpoch();
    Transaction transaction(db_);
    db_.prepare("INSERT INTO conversations (title, system_prompt, created_at, updated_at) VALUES (?, ?, ?, ?)")
        .bind(1, title)
        .bind(2, systemPrompt)
        .bind(3, now)
        .bind(4, now)
        .run();
    const int64_t id = db_.lastInsertId();
    transaction.commit();
    return id;
}

void ConversationTable::requireOneRowChanged(int64_t id, const char* action) {
    if (db_.changes() != 1) {
        throw StoreError(db_.path().toStdString() + ": cannot " + action + " conversation " + std::to_string(id) +
                         ": it does not exist");
    }
}

void ConversationTable::rename(int64_t id, const QString& title) {
    Transaction transaction(db_);
    db_.prepare("UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?")
        .bind(1, title)
        .bind(2, QDateTime::currentMSecsSinceEpoch())
        .bind(3, id)
        .run();
    requireOneRowChanged(id, "rename");
    transaction.commit();
}

void ConversationTable::setSystemPrompt(int64_t id, const QString& systemPrompt) {
    Transaction transaction(db_);
    db_.prepare("UPDATE conversations SET system_prompt = ? WHERE id = ?").bind(1, systemPrompt).bind(2, id).run();
    requireOneRowChanged(id, "set the system prompt of");
    transaction.commit();
}

void ConversationTable::touch(int64_t id) {
    Transaction transaction(db_);
    db_.prepare("UPDATE conversations SET updated_at = ? WHERE id = ?")
        .bind(1, QDateTime::currentMSecsSinceEpoch())
        .bind(2, id)
        .run();
    transaction.commit();
}

void ConversationTable::remove(int64_t id) {
    Transaction transaction(db_);
    db_.prepare("DELETE FROM conversations WHERE id = ?").bind(1, id).run();
    transaction.commit();
}

std::optional<Conversation> ConversationTable::find(int64_t id) {
    SqliteStatement statement =
        db_.prepare("SELECT " + std::string(kColumns) + " FROM conversations WHERE id = ?");
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    return readRow(statement);
}

QList<Conversation> ConversationTable::list() {
    SqliteStatement statement = db_.prepare("SELECT " + std::string(kColumns) +
                                            " FROM conversations ORDER BY updated_at DESC, id DESC");
    return readAll(statement);
}

QList<Conversation> ConversationTable::search(const QString& text) {
    if (text.trimmed().isEmpty()) return list();
    SqliteStatement statement = db_.prepare(
        "SELECT " + std::string(kColumns) +
        " FROM conversations c WHERE c.title LIKE ?1 ESCAPE '\\'"
        " OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.content LIKE ?1 ESCAPE '\\')"
        " ORDER BY updated_at DESC, id DESC");
    statement.bind(1, likePattern(text));
    return readAll(statement);
}

}  // namespace peregrine::ui
