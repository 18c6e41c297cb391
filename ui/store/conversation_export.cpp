#include "store/conversation_export.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace peregrine::ui {
namespace {

QString isoTime(int64_t ms) { return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs); }

QString heading(const StoredMessage& message) {
    switch (message.role) {
        case MessageRole::User: return QStringLiteral("User");
        case MessageRole::System: return QStringLiteral("System");
        case MessageRole::Assistant: break;
    }
    QString title = QStringLiteral("Assistant");
    if (!message.stats.model.isEmpty()) title += QStringLiteral(" (%1)").arg(message.stats.model);
    if (message.state == MessageState::Stopped) title += QStringLiteral(" [stopped]");
    if (message.state == MessageState::Interrupted) title += QStringLiteral(" [interrupted]");
    if (message.state == MessageState::Failed) title += QStringLiteral(" [failed]");
    return title;
}

}  // namespace

QString conversationToMarkdown(const Conversation& conversation, const QList<StoredMessage>& messages) {
    QString out = QStringLiteral("# %1\n\n").arg(conversation.title);
    if (!conversation.systemPrompt.isEmpty()) {
        out += QStringLiteral("> System prompt: %1\n\n").arg(QString(conversation.systemPrompt).replace('\n', "\n> "));
    }
    for (const StoredMessage& message : messages) {
        out += QStringLiteral("## %1\n\n%2\n\n").arg(heading(message), message.content);
    }
    return out;
}

QByteArray conversationToJson(const Conversation& conversation, const QList<StoredMessage>& messages) {
    QJsonArray turns;
    for (const StoredMessage& message : messages) {
        QJsonObject turn{{"id", static_cast<qint64>(message.id)},
                         {"role", roleName(message.role)},
                         {"content", message.content},
                         {"state", stateName(message.state)},
                         {"created_at", isoTime(message.createdAtMs)}};
        if (!message.stats.isEmpty()) {
            turn.insert("stats", QJsonDocument::fromJson(message.stats.toJson().toUtf8()).object());
        }
        turns.append(turn);
    }
    const QJsonObject root{{"format", "peregrine-conversation"},
                           {"version", 1},
                           {"title", conversation.title},
                           {"system_prompt", conversation.systemPrompt},
                           {"created_at", isoTime(conversation.createdAtMs)},
                           {"updated_at", isoTime(conversation.updatedAtMs)},
                           {"messages", turns}};
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

}  // namespace peregrine::ui
