// The sidebar's conversations (newest first), optionally filtered by a search. Rows are keyed by
// conversation id. Refreshed from the store by the sidebar; changed only in the GUI thread.
#pragma once

#include <QAbstractListModel>
#include <QList>

#include "store/chat_records.h"

namespace peregrine::ui {

class ConversationListModel : public QAbstractListModel {
    Q_OBJECT

public:
    enum Roles { IdRole = Qt::UserRole + 1, UpdatedRole };

    explicit ConversationListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;

    void setConversations(const QList<Conversation>& conversations);
    int rowOf(int64_t id) const;
    int64_t idAt(int row) const;
    const Conversation* find(int64_t id) const;

private:
    QList<Conversation> conversations_;
};

}  // namespace peregrine::ui
