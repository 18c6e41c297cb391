#include "chat/chat_view.h"

#include <QContextMenuEvent>
#include <QMenu>
#include <QScrollBar>

#include "chat/message_delegate.h"
#include "chat/message_list_model.h"

namespace peregrine::ui {

ChatView::ChatView(QWidget* parent) : QListView(parent), delegate_(new MessageDelegate(this)) {
    setItemDelegate(delegate_);
    setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setResizeMode(QListView::Adjust);
    setSelectionMode(QAbstractItemView::NoSelection);
    setEditTriggers(QAbstractItemView::NoEditTriggers);
    setUniformItemSizes(false);
    // Row heights come from the delegate's size cache, so the re-layout after each streamed chunk costs
    // a cache lookup per row; opening a 1,000-message chat measures every row once (about 0.1 s).
    setLayoutMode(QListView::SinglePass);
    setMouseTracking(true);
    setFrameShape(QFrame::NoFrame);
    verticalScrollBar()->setSingleStep(24);
    connect(verticalScrollBar(), &QScrollBar::valueChanged, this, [this] {
        // The bar's current value, not the signal's: a layout run from inside setValue() may already
        // have moved it, and the stale value would flip the decision.
        if (!autoScrolling_) followBottom_ = verticalScrollBar()->value() >= verticalScrollBar()->maximum() - 4;
    });
    // Deferred: the range often changes from inside the user's own scroll (Qt runs a pending layout
    // there), and scrolling to the bottom right then would undo the user's scroll.
    connect(verticalScrollBar(), &QScrollBar::rangeChanged, this, &ChatView::scrollToBottomIfFollowing,
            Qt::QueuedConnection);
}

int64_t ChatView::messageIdAt(const QPoint& viewportPos) const {
    const QModelIndex index = indexAt(viewportPos);
    return index.isValid() ? index.data(MessageListModel::IdRole).toLongLong() : 0;
}

void ChatView::scrollToBottomIfFollowing() {
    if (!followBottom_) return;
    autoScrolling_ = true;
    scrollToBottom();
    autoScrolling_ = false;
}

void ChatView::dataChanged(const QModelIndex& topLeft, const QModelIndex& bottomRight, const QList<int>& roles) {
    QListView::dataChanged(topLeft, bottomRight, roles);
    if (roles.isEmpty() || roles.contains(MessageListModel::RevisionRole)) {
        // The text changed, so its height may have: re-lay out (other rows hit the size cache).
        for (int row = topLeft.row(); row <= bottomRight.row(); ++row) {
            emit delegate_->sizeHintChanged(model()->index(row, 0));
        }
    }
}

void ChatView::rowsInserted(const QModelIndex& parent, int start, int end) {
    QListView::rowsInserted(parent, start, end);
    scrollToBottomIfFollowing();
}

void ChatView::resizeEvent(QResizeEvent* event) {
    QListView::resizeEvent(event);
    scrollToBottomIfFollowing();
}

void ChatView::contextMenuEvent(QContextMenuEvent* event) {
    const QModelIndex index = indexAt(event->pos());
    if (!index.isValid()) return;
    const qint64 id = index.data(MessageListModel::IdRole).toLongLong();
    const auto role = static_cast<MessageRole>(index.data(MessageListModel::MessageRoleRole).toInt());
    QMenu menu(this);
    menu.addAction(tr("Copy message"), this, [this, id] { emit copyRequested(id); });
    if (role == MessageRole::User) {
        menu.addAction(tr("Edit and resend…"), this, [this, id] { emit editRequested(id); });
    }
    if (role == MessageRole::Assistant && index.row() == model()->rowCount() - 1) {
        menu.addAction(tr("Regenerate"), this, [this] { emit regenerateRequested(); });
    }
    menu.exec(event->globalPos());
}

}  // namespace peregrine::ui
