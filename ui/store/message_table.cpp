#include "store/message_table.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

#include "store/sqlite_database.h"

namespace peregrine::ui {
namespace {

// '' or malformed JSON read as "no alternatives": a damaged column must not hide the message itself.
QStringList alternativesFromJson(const QString& json) {
    QStringList out;
    if (json.isEmpty()) return out;
    for (const QJsonValue& value : QJsonDocument::fromJson(json.toUtf8()).array()) out << value.toString();
    return out;
}

constexpr std::string_view kColumns = "id, conversation_id, role, content, state, stats, created_at, alternatives";

StoredMessage readRow(const SqliteStatement& row) {
    StoredMessage message;
    message.id = row.columnInt(0);
    message.conversationId = row.columnInt(1);
    message.role = roleFromName(row.columnText(2)).value_or(MessageRole::User);
    message.content = row.columnText(3);
    message.state = stateFromName(row.columnText(4));
    message.stats = MessageStats::fromJson(row.columnText(5));
    message.createdAtMs = row.columnInt(6);
    message.alternatives = alternativesFromJson(row.columnText(7));
    return message;
}

QString alternativesToJson(const QStringList& alternatives) {
    if (alternatives.isEmpty()) return {};
    return QString::fromUtf8(QJsonDocument(QJsonArray::fromStringList(alternatives)).toJson(QJsonDocument::Compact));
}

}  // namespace

void MessageTable::requireOneRowChanged(int64_t id, const char* action) {
    if (db_.changes() != 1) {
        throw StoreError(db_.path().toStdString() + ": cannot " + action + " message " + std::to_string(id) +
                         ": it does not exist");
    }
}

void MessageTable::touchConversationOf(int64_t messageId) {
    db_.prepare("UPDATE conversations SET updated_at = ?"
                " WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)")
        .bind(1, QDateTime::currentMSecsSinceEpoch())
        .bind(2, messageId)
        .run();
}

int64_t MessageTable::append(int64_t conversationId, MessageRole role, const QString& content,
                             MessageState state) {
    Transaction transaction(db_);
    db_.prepare("INSERT INTO messages (conversation_id, role, content, state, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(1, conversationId)
        .bind(2, roleName(role))
        .bind(3, content)
        .bind(4, stateName(state))
        .bind(5, QDateTime::currentMSecsSinceEpoch())
        .run();
    const int64_t id = db_.lastInsertId();
    touchConversationOf(id);
    transaction.commit();
    return id;
}

void MessageTable::updateContent(int64_t id, const QString& content) {
    Transaction transaction(db_);
    db_.prepare("UPDATE messages SET content = ? WHERE id = ?").bind(1, content).bind(2, id).run();
    requireOneRowChanged(id, "save");
    transaction.commit();
}

void MessageTable::finish(int64_t id, const QString& content, MessageState state, const MessageStats& stats) {
    Transaction transaction(db_);
    db_.prepare("UPDATE messages SET content = ?, state = ?, stats = ? WHERE id = ?")
        .bind(1, content)
        .bind(2, stateName(state))
        .bind(3, stats.toJson())
        .bind(4, id)
        .run();
    requireOneRowChanged(id, "finish");
    touchConversationOf(id);
    transaction.commit();
}

void MessageTable::setContent(int64_t id, const QString& content) {
    Transaction transaction(db_);
    db_.prepare("UPDATE messages SET content = ? WHERE id = ?").bind(1, content).bind(2, id).run();
    requireOneRowChanged(id, "edit");
    touchConversationOf(id);
    transaction.commit();
}

void MessageTable::setAlternatives(int64_t id, const QStringList& alternatives, int chosen) {
    if (!alternatives.isEmpty() && (chosen < 0 || chosen >= alternatives.size())) {
        throw StoreError(db_.path().toStdString() + ": alternative " + std::to_string(chosen) + " of message " +
                         std::to_string(id) + " does not exist (it has " + std::to_string(alternatives.size()) + ")");
    }
    Transaction transaction(db_);
    if (alternatives.isEmpty()) {
        db_.prepare("UPDATE messages SET alternatives = '' WHERE id = ?").bind(1, id).run();
    } else {
        db_.prepare("UPDATE messages SET alternatives = ?, content = ? WHERE id = ?")
            .bind(1, alternativesToJson(alternatives))
            .bind(2, alternatives[chosen])
            .bind(3, id)
            .run();
    }
    requireOneRowChanged(id, "set the alternatives of");
    touchConversationOf(id);
    transaction.commit();
}

void MessageTable::removeFrom(int64_t id) {
    Transaction transaction(db_);
    db_.prepare("DELETE FROM messages WHERE conversation_id = (SELECT conversation_id FROM messages WHERE id = ?1)"
                " AND id >= ?1")
        .bind(1, id)
        .run();
    transaction.commit();
}

int MessageTable::markStreamingInterrupted() {
    Transaction transaction(db_);
    db_.prepare("UPDATE messages SET state = ? WHERE state = ?")
        .bind(1, stateName(MessageState::Interrupted))
        .bind(2, stateName(MessageState::Streaming))
        .run();
    const int changed = db_.changes();
    transaction.commit();
    return changed;
}

std::optional<StoredMessage> MessageTable::find(int64_t id) {
    SqliteStatement statement = db_.prepare("SELECT " + std::string(kColumns) + " FROM messages WHERE id = ?");
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    return readRow(statement);
}

QList<StoredMessage> MessageTable::list(int64_t conversationId) {
    SqliteStatement statement = db_.prepare("SELECT " + std::string(kColumns) +
                                            " FROM messages WHERE conversation_id = ? ORDER BY id");
    statement.bind(1, conversationId);
    QList<StoredMessage> out;
    while (statement.step()) out << readRow(statement);
    return out;
}

int MessageTable::count(int64_t conversationId) {
    SqliteStatement statement = db_.prepare("SELECT count(*) FROM messages WHERE conversation_id = ?");
    statement.bind(1, conversationId);
    return statement.step() ? static_cast<int>(statement.columnInt(0)) : 0;
}

}  // namespace peregrine::ui
