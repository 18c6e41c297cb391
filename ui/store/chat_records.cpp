#include "store/chat_records.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QObject>
#include <QStringList>

namespace peregrine::ui {

QString roleName(MessageRole role) {
    switch (role) {
        case MessageRole::System: return QStringLiteral("system");
        case MessageRole::User: return QStringLiteral("user");
        case MessageRole::Assistant: return QStringLiteral("assistant");
    }
    return QStringLiteral("user");
}

std::optional<MessageRole> roleFromName(const QString& name) {
    if (name == QLatin1String("system")) return MessageRole::System;
    if (name == QLatin1String("user")) return MessageRole::User;
    if (name == QLatin1String("assistant")) return MessageRole::Assistant;
    return std::nullopt;
}

QString stateName(MessageState state) {
    switch (state) {
        case MessageState::Complete: return QStringLiteral("complete");
        case MessageState::Streaming: return QStringLiteral("streaming");
        case MessageState::Stopped: return QStringLiteral("stopped");
        case MessageState::Failed: return QStringLiteral("failed");
        case MessageState::Interrupted: return QStringLiteral("interrupted");
    }
    return QStringLiteral("complete");
}

MessageState stateFromName(const QString& name) {
    for (MessageState state : {MessageState::Streaming, MessageState::Stopped, MessageState::Failed,
                               MessageState::Interrupted}) {
        if (name == stateName(state)) return state;
    }
    return MessageState::Complete;
}

QString MessageStats::toJson() const {
    if (isEmpty()) return {};
    QJsonObject object{
        {"model", model},
        {"prompt_tokens", promptTokens},
        {"generated_tokens", generatedTokens},
        {"prefill_tps", prefillTokensPerSecond},
        {"decode_tps", decodeTokensPerSecond},
        {"ttft_ms", timeToFirstTokenMs},
        {"stop_reason", stopReason},
    };
    if (!error.isEmpty()) object.insert("error", error);
    if (cachedPromptTokens > 0) object.insert("cached_prompt_tokens", cachedPromptTokens);
    if (acceptanceRate >= 0) object.insert("acceptance_rate", acceptanceRate);
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

MessageStats MessageStats::fromJson(const QString& json) {
    MessageStats stats;
    if (json.isEmpty()) return stats;
    const QJsonObject object = QJsonDocument::fromJson(json.toUtf8()).object();
    stats.model = object.value("model").toString();
    stats.promptTokens = object.value("prompt_tokens").toInt();
    stats.generatedTokens = object.value("generated_tokens").toInt();
    stats.prefillTokensPerSecond = object.value("prefill_tps").toDouble();
    stats.decodeTokensPerSecond = object.value("decode_tps").toDouble();
    stats.timeToFirstTokenMs = object.value("ttft_ms").toDouble();
    stats.stopReason = object.value("stop_reason").toString();
    stats.error = object.value("error").toString();
    stats.cachedPromptTokens = object.value("cached_prompt_tokens").toInt();
    stats.acceptanceRate = object.value("acceptance_rate").toDouble(-1);
    return stats;
}

QString MessageStats::toolTip() const {
    if (isEmpty()) return {};
    const QLocale locale;
    QStringList lines;
    lines << QObject::tr("Model: %1").arg(model);
    lines << QObject::tr("Tokens: %1 prompt, %2 generated").arg(promptTokens).arg(generatedTokens);
    if (cachedPromptTokens > 0) lines << QObject::tr("Prompt tokens from the prefix cache: %1").arg(cachedPromptTokens);
    if (acceptanceRate >= 0) {
        lines << QObject::tr("Speculative guesses accepted: %1%").arg(locale.toString(100 * acceptanceRate, 'f', 0));
    }
    lines << QObject::tr("Prefill: %1 tok/s").arg(locale.toString(prefillTokensPerSecond, 'f', 1));
    lines << QObject::tr("Decode: %1 tok/s").arg(locale.toString(decodeTokensPerSecond, 'f', 1));
    lines << QObject::tr("Time to first token: %1 ms").arg(locale.toString(timeToFirstTokenMs, 'f', 0));
    if (!stopReason.isEmpty()) lines << QObject::tr("Stopped by: %1").arg(stopReason);
    if (!error.isEmpty()) lines << QObject::tr("Error: %1").arg(error);
    return lines.join('\n');
}

}  // namespace peregrine::ui
