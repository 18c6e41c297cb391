// Saves a reply while it streams: text is appended as it arrives and written to its row at most
// `intervalMs` after it arrived (default 500 ms), so a crash loses well under a second of a reply, while
// a fast model (thousands of tokens/s) still costs only a couple of transactions per second.
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <cstdint>

#include "store/chat_records.h"

namespace peregrine::ui {

class MessageTable;

class StreamingReplySaver : public QObject {
    Q_OBJECT

public:
    StreamingReplySaver(MessageTable& messages, int64_t messageId, int intervalMs = 500,
                        QObject* parent = nullptr);

    int64_t messageId() const { return messageId_; }
    const QString& text() const { return text_; }
    int saveCount() const { return saveCount_; }

    void append(const QString& delta);
    // The final write: the engine's final text (it can differ from what streamed, e.g. an incomplete
    // UTF-8 tail), end state and stats. No more saves after this.
    void finish(const QString& finalText, MessageState state, const MessageStats& stats);

signals:
    void saved(qsizetype savedLength);        // after each periodic save commits
    void saveFailed(const QString& message);  // the first failure only (disk full, file removed...)

private:
    void saveNow();

    MessageTable& messages_;
    int64_t messageId_;
    QString text_;
    QTimer timer_;
    bool dirty_ = false;
    bool finished_ = false;
    bool reportedFailure_ = false;
    int saveCount_ = 0;
};

}  // namespace peregrine::ui
