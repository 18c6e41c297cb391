// The list of conversations: search box (title and message text), New chat, and per-conversation rename,
// delete and export from the context menu. Clicking one opens it in the ChatSession.
#pragma once

#include <QTimer>
#include <QWidget>

#include <cstdint>

class QLineEdit;
class QListView;
class QPushButton;

namespace peregrine::ui {

class ChatSession;
class ChatStore;
class ConversationListModel;

class ConversationSidebar : public QWidget {
    Q_OBJECT

public:
    ConversationSidebar(ChatStore& store, ChatSession& session, QWidget* parent = nullptr);

    void refresh();  // re-reads the list (with the current search) and selects the open conversation
    void setSearchText(const QString& text);
    bool renameConversation(int64_t id, const QString& title);
    ConversationListModel* model() const { return model_; }
    QListView* listView() const { return list_; }

signals:
    void exportRequested(qint64 conversationId);

private:
    void showContextMenu(const QPoint& pos);
    void askRename(int64_t id);
    void askDelete(int64_t id);
    void selectOpenConversation();

    ChatStore& store_;
    ChatSession& session_;
    ConversationListModel* model_;
    QLineEdit* search_;
    QListView* list_;
    QPushButton* newChat_;
    QTimer searchDelay_;
};

}  // namespace peregrine::ui
