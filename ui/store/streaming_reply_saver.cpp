#include "store/streaming_reply_saver.h"

#include "logging/ui_log.h"
#include "store/message_table.h"
#include "store/sqlite_database.h"

namespace peregrine::ui {

StreamingReplySaver::StreamingReplySaver(MessageTable& messages, int64_t messageId, int intervalMs,
                                         QObject* parent)
    : QObject(parent), messages_(messages), messageId_(messageId) {
    timer_.setSingleShot(true);
    timer_.setInterval(intervalMs);
    connect(&timer_, &QTimer::timeout, this, &StreamingReplySaver::saveNow);
}

void StreamingReplySaver::append(const QString& delta) {
    if (finished_ || delta.isEmpty()) return;
    text_ += delta;
    dirty_ = true;
    // The timer starts with the first unsaved text and is not restarted by later text, so a steady
    // stream is still saved every interval.
    if (!timer_.isActive()) timer_.start();
}

void StreamingReplySaver::saveNow() {
    if (!dirty_ || finished_) return;
    try {
        messages_.updateContent(messageId_, text_);
        dirty_ = false;
        ++saveCount_;
        emit saved(text_.size());
    } catch (const StoreError& error) {
        uiLogger("store")->error("saving reply {}: {}", messageId_, error.what());
        if (!reportedFailure_) {
            reportedFailure_ = true;
            emit saveFailed(QString::fromStdString(error.what()));
        }
    }
}

void StreamingReplySaver::finish(const QString& finalText, MessageState state, const MessageStats& stats) {
    if (finished_) return;
    finished_ = true;
    text_ = finalText;
    timer_.stop();
    try {
        messages_.finish(messageId_, text_, state, stats);
        ++saveCount_;
    } catch (const StoreError& error) {
        uiLogger("store")->error("finishing reply {}: {}", messageId_, error.what());
        if (!reportedFailure_) {
            reportedFailure_ = true;
            emit saveFailed(QString::fromStdString(error.what()));
        }
    }
}

}  // namespace peregrine::ui
