// The `messages` table: the turns of each conversation in order (by id). A streaming reply is one row
// whose content is rewritten as it grows (updateContent) and finished once (finish). Every write runs in
// a transaction and also bumps the conversation's updated_at.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>

#include "store/chat_records.h"

namespace peregrine::ui {

class SqliteDatabase;

class MessageTable {
public:
    explicit MessageTable(SqliteDatabase& db) : db_(db) {}

    int64_t append(int64_t conversationId, MessageRole role, const QString& content,
                   MessageState state = MessageState::Complete);
    void updateContent(int64_t id, const QString& content);  // a streaming reply's periodic save
    void finish(int64_t id, const QString& content, MessageState state, const MessageStats& stats);
    void setContent(int64_t id, const QString& content);      // the user edited the message
    // A reply sampled several times: stores every alternative and makes alternatives[chosen] the content
    // (also when the user browses to another one). Throws StoreError when `chosen` is out of range.
    void setAlternatives(int64_t id, const QStringList& alternatives, int chosen);
    // Deletes message `id` and every later message of its conversation (regenerate, edit and resend).
    void removeFrom(int64_t id);
    // Streaming rows left behind by a crash become Interrupted; returns how many there were.
    int markStreamingInterrupted();

    std::optional<StoredMessage> find(int64_t id);
    QList<StoredMessage> list(int64_t conversationId);
    int count(int64_t conversationId);

private:
    void touchConversationOf(int64_t messageId);
    void requireOneRowChanged(int64_t id, const char* action);

    SqliteDatabase& db_;
};

}  // namespace peregrine::ui
