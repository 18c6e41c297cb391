// A conversation as a file the user can keep or share: Markdown (headings per turn, the model's text
// as written) or JSON (every field, stats included, for other tools).
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

#include "store/chat_records.h"

namespace peregrine::ui {

QString conversationToMarkdown(const Conversation& conversation, const QList<StoredMessage>& messages);
QByteArray conversationToJson(const Conversation& conversation, const QList<StoredMessage>& messages);

}  // namespace peregrine::ui
