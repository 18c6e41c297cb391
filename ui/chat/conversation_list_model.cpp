#include "chat/conversation_list_model.h"

#include <QDateTime>
#include <QLocale>

namespace peregrine::ui {

ConversationListModel::ConversationListModel(QObject* parent) : QAbstractListModel(parent) {}

int ConversationListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(conversations_.size());
}

QVariant ConversationListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Conversation& conversation = conversations_[index.row()];
    switch (role) {
        case Qt::DisplayRole:
        case Qt::EditRole: return conversation.title;
        case Qt::ToolTipRole:
            return tr("%1\nLast message: %2")
                .arg(conversation.title,
                     QLocale().toString(QDateTime::fromMSecsSinceEpoch(conversation.updatedAtMs), QLocale::ShortFormat));
        case IdRole: return QVariant::fromValue<qint64>(conversation.id);
        case UpdatedRole: return QVariant::fromValue<qint64>(conversation.updatedAtMs);
        default: return {};
    }
}

void ConversationListModel::setConversations(const QList<Conversation>& conversations) {
    beginResetModel();
    conversations_ = conversations;
    endResetModel();
}

int ConversationListModel::rowOf(int64_t id) const {
    for (int row = 0; row < conversations_.size(); ++row) {
        if (conversations_[row].id == id) return row;
    }
    return -1;
}

int64_t ConversationListModel::idAt(int row) const {
    return row >= 0 && row < conversations_.size() ? conversations_[row].id : 0;
}

const Conversation* ConversationListModel::find(int64_t id) const {
    const int row = rowOf(id);
    return row < 0 ? nullptr : &conversations_[row];
}

}  // namespace peregrine::ui
