// The list of messages: a QListView with MessageDelegate that follows the newest text while the user is
// at the bottom (and stops following when they scroll up), re-lays out only when a message's content
// changed, and offers per-message actions (copy, edit and resend, regenerate) in its context menu.
#pragma once

#include <QListView>

#include <cstdint>

namespace peregrine::ui {

class MessageDelegate;

class ChatView : public QListView {
    Q_OBJECT

public:
    explicit ChatView(QWidget* parent = nullptr);

    MessageDelegate* messageDelegate() const { return delegate_; }
    bool isFollowingBottom() const { return followBottom_; }
    int64_t messageIdAt(const QPoint& viewportPos) const;

signals:
    void copyRequested(qint64 messageId);
    void editRequested(qint64 messageId);
    void regenerateRequested();

protected:
    void dataChanged(const QModelIndex& topLeft, const QModelIndex& bottomRight, const QList<int>& roles) override;
    void rowsInserted(const QModelIndex& parent, int start, int end) override;
    void resizeEvent(QResizeEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;

private:
    void scrollToBottomIfFollowing();

    MessageDelegate* delegate_;
    bool followBottom_ = true;
    bool autoScrolling_ = false;
};

}  // namespace peregrine::ui
