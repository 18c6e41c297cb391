// The rows of the chat database as plain value types (no SQL here), shared by the store, the view
// models and the exporters.
#pragma once

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>

namespace peregrine::ui {

enum class MessageRole { System, User, Assistant };
QString roleName(MessageRole role);                        // "system", "user", "assistant"
std::optional<MessageRole> roleFromName(const QString& name);

// Where a message is in its life. Only assistant replies are ever anything but Complete.
enum class MessageState {
    Complete,     // finished normally (end of generation, length limit, stop string)
    Streaming,    // being generated right now; saved as it grows
    Stopped,      // the user stopped it; the text is what was produced until then
    Failed,       // the engine reported an error; the text is what was produced until then
    Interrupted,  // was Streaming when the app last closed or crashed
};
QString stateName(MessageState state);
MessageState stateFromName(const QString& name);  // unknown names read as Complete

// What a finished reply cost: kept with the message and shown on hover.
struct MessageStats {
    QString model;             // file name of the model that wrote it
    int promptTokens = 0;
    int generatedTokens = 0;
    double prefillTokensPerSecond = 0;
    double decodeTokensPerSecond = 0;
    double timeToFirstTokenMs = 0;
    int cachedPromptTokens = 0;   // prompt tokens the prefix cache served (the conversation so far)
    double acceptanceRate = -1;   // speculative replies: share of guessed tokens kept; -1: not speculative
    QString stopReason;        // engine's stop_reason_name(), or "error"
    QString error;             // the engine's message when the reply failed

    bool isEmpty() const { return model.isEmpty() && generatedTokens == 0 && error.isEmpty(); }
    QString toJson() const;                     // compact JSON object; "" when empty
    static MessageStats fromJson(const QString& json);  // "" or malformed JSON -> empty stats
    QString toolTip() const;                    // several lines for the chat view
};

struct Conversation {
    int64_t id = 0;
    QString title;
    QString systemPrompt;
    int64_t createdAtMs = 0;
    int64_t updatedAtMs = 0;
};

struct StoredMessage {
    int64_t id = 0;
    int64_t conversationId = 0;
    MessageRole role = MessageRole::User;
    QString content;
    MessageState state = MessageState::Complete;
    MessageStats stats;
    int64_t createdAtMs = 0;
    // Replies sampled together (regenerate with alternatives); empty for a single reply. `content` is the
    // one the user chose, and what later turns see.
    QStringList alternatives;

    int alternativeIndex() const { return static_cast<int>(alternatives.indexOf(content)); }
};

}  // namespace peregrine::ui

Q_DECLARE_METATYPE(peregrine::ui::MessageStats)
