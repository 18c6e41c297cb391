#include "chat/message_list_model.h"

namespace peregrine::ui {

MessageListModel::MessageListModel(QObject* parent) : QAbstractListModel(parent) {}

int MessageListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(messages_.size());
}

QVariant MessageListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Row& row = messages_[index.row()];
    switch (role) {
        case Qt::DisplayRole:
        case ContentRole: return row.message.content;
        case Qt::ToolTipRole: return row.message.stats.toolTip();
        case IdRole: return QVariant::fromValue<qint64>(row.message.id);
        case MessageRoleRole: return static_cast<int>(row.message.role);
        case StateRole: return static_cast<int>(row.message.state);
        case StatsRole: return QVariant::fromValue(row.message.stats);
        case RevisionRole: return QVariant::fromValue<quint64>(row.revision);
        case AlternativeCountRole: return static_cast<int>(row.message.alternatives.size());
        case AlternativeIndexRole: return row.message.alternativeIndex();
        default: return {};
    }
}

QHash<int, QByteArray> MessageListModel::roleNames() const {
    QHash<int, QByteArray> names = QAbstractListModel::roleNames();
    names[IdRole] = "messageId";
    names[MessageRoleRole] = "role";
    names[ContentRole] = "content";
    names[StateRole] = "state";
    names[StatsRole] = "stats";
    names[RevisionRole] = "revision";
    names[AlternativeCountRole] = "alternativeCount";
    names[AlternativeIndexRole] = "alternativeIndex";
    return names;
}

void MessageListModel::reindex() {
    rowById_.clear();
    for (int row = 0; row < messages_.size(); ++row) rowById_.insert(messages_[row].message.id, row);
}

void MessageListModel::setMessages(const QList<StoredMessage>& messages) {
    beginResetModel();
    messages_.clear();
    messages_.reserve(messages.size());
    for (const StoredMessage& message : messages) messages_.append({message, nextRevision_++});
    reindex();
    endResetModel();
}

void MessageListModel::clear() { setMessages({}); }

void MessageListModel::append(const StoredMessage& message) {
    const int row = static_cast<int>(messages_.size());
    beginInsertRows({}, row, row);
    messages_.append({message, nextRevision_++});
    rowById_.insert(message.id, row);
    endInsertRows();
}

void MessageListModel::changed(int row, const QList<int>& roles) {
    const QModelIndex index = this->index(row);
    emit dataChanged(index, index, roles);
}

void MessageListModel::appendText(int64_t id, const QString& text) {
    const int row = rowOf(id);
    if (row < 0 || text.isEmpty()) return;
    messages_[row].message.content += text;
    messages_[row].revision = nextRevision_++;
    changed(row, {Qt::DisplayRole, ContentRole, RevisionRole});
}

void MessageListModel::setContent(int64_t id, const QString& content) {
    const int row = rowOf(id);
    if (row < 0) return;
    messages_[row].message.content = content;
    messages_[row].revision = nextRevision_++;
    QList<int> roles{Qt::DisplayRole, ContentRole, RevisionRole};
    if (!messages_[row].message.alternatives.isEmpty()) roles << AlternativeIndexRole;
    changed(row, roles);
}

void MessageListModel::finish(int64_t id, const QString& content, MessageState state, const MessageStats& stats,
                              const QStringList& alternatives) {
    const int row = rowOf(id);
    if (row < 0) return;
    Row& entry = messages_[row];
    QList<int> roles{StateRole, StatsRole, Qt::ToolTipRole, RevisionRole, AlternativeCountRole, AlternativeIndexRole};
    entry.message.alternatives = alternatives;
    if (entry.message.content != content) roles << Qt::DisplayRole << ContentRole;
    entry.message.content = content;
    entry.message.state = state;
    entry.message.stats = stats;
    entry.revision = nextRevision_++;  // the header line (state) changes too
    changed(row, roles);
}

void MessageListModel::removeFrom(int64_t id) {
    const int row = rowOf(id);
    if (row < 0) return;
    beginRemoveRows({}, row, static_cast<int>(messages_.size()) - 1);
    messages_.resize(row);
    reindex();
    endRemoveRows();
}

int MessageListModel::rowOf(int64_t id) const { return rowById_.value(id, -1); }

const StoredMessage* MessageListModel::find(int64_t id) const {
    const int row = rowOf(id);
    return row < 0 ? nullptr : &messages_[row].message;
}

}  // namespace peregrine::ui
