// The messages of the conversation on screen, for the chat view. Lives in and is changed only from the
// GUI thread. Rows are keyed by message id (the store's), never by row number, and every change emits
// dataChanged with exactly the roles that changed, so the delegate's caches can key on (id, revision).
#pragma once

#include <QAbstractListModel>
#include <QHash>
#include <QList>

#include "store/chat_records.h"

namespace peregrine::ui {

class MessageListModel : public QAbstractListModel {
    Q_OBJECT

public:
    enum Roles {
        IdRole = Qt::UserRole + 1,  // qint64
        MessageRoleRole,            // int (MessageRole)
        ContentRole,                // QString, also Qt::DisplayRole
        StateRole,                  // int (MessageState)
        StatsRole,                  // MessageStats
        RevisionRole,               // quint64, bumped whenever the content changes
        AlternativeCountRole,       // int: replies sampled together (0 or 1: a single reply)
        AlternativeIndexRole,       // int: which of them is shown (0-based; -1 when none)
    };

    explicit MessageListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void setMessages(const QList<StoredMessage>& messages);
    void append(const StoredMessage& message);
    void appendText(int64_t id, const QString& text);  // a streamed chunk
    void setContent(int64_t id, const QString& content);
    void finish(int64_t id, const QString& content, MessageState state, const MessageStats& stats,
                const QStringList& alternatives = {});
    void removeFrom(int64_t id);  // that message and every later one
    void clear();

    int rowOf(int64_t id) const;  // -1 if absent
    const StoredMessage* find(int64_t id) const;
    const StoredMessage& at(int row) const { return messages_[row].message; }
    const StoredMessage* last() const { return messages_.isEmpty() ? nullptr : &messages_.last().message; }

private:
    struct Row {
        StoredMessage message;
        quint64 revision = 0;
    };
    void changed(int row, const QList<int>& roles);
    void reindex();

    QList<Row> messages_;
    QHash<int64_t, int> rowById_;
    quint64 nextRevision_ = 1;
};

}  // namespace peregrine::ui
