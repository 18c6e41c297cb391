#include "window/conversation_sidebar.h"

#include <QInputDialog>
#include <QLineEdit>
#include <QListView>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

#include "chat/chat_session.h"
#include "chat/conversation_list_model.h"
#include "store/chat_store.h"

namespace peregrine::ui {

ConversationSidebar::ConversationSidebar(ChatStore& store, ChatSession& session, QWidget* parent)
    : QWidget(parent), store_(store), session_(session), model_(new ConversationListModel(this)) {
    newChat_ = new QPushButton(tr("New chat"), this);
    newChat_->setToolTip(tr("Start a new conversation (Ctrl+N)"));
    search_ = new QLineEdit(this);
    search_->setPlaceholderText(tr("Search titles and messages"));
    search_->setClearButtonEnabled(true);
    list_ = new QListView(this);
    list_->setModel(model_);
    list_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    list_->setContextMenuPolicy(Qt::CustomContextMenu);
    list_->setUniformItemSizes(true);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 0, 6);
    layout->addWidget(newChat_);
    layout->addWidget(search_);
    layout->addWidget(list_, 1);

    searchDelay_.setSingleShot(true);
    searchDelay_.setInterval(150);  // search as you type, but not one query per key
    connect(&searchDelay_, &QTimer::timeout, this, &ConversationSidebar::refresh);
    connect(search_, &QLineEdit::textChanged, &searchDelay_, qOverload<>(&QTimer::start));
    connect(newChat_, &QPushButton::clicked, &session_, [this] { session_.newConversation(); });
    connect(list_, &QListView::clicked, this, [this](const QModelIndex& index) {
        const int64_t id = model_->idAt(index.row());
        if (id != session_.conversationId()) session_.openConversation(id);
    });
    connect(list_, &QListView::customContextMenuRequested, this, &ConversationSidebar::showContextMenu);
    connect(&session_, &ChatSession::conversationsChanged, this, &ConversationSidebar::refresh);
    connect(&session_, &ChatSession::conversationOpened, this, &ConversationSidebar::selectOpenConversation);
    refresh();
}

void ConversationSidebar::setSearchText(const QString& text) {
    search_->setText(text);
    refresh();
}

void ConversationSidebar::refresh() {
    searchDelay_.stop();
    try {
        model_->setConversations(store_.conversations().search(search_->text()));
    } catch (const std::exception& error) {
        QMessageBox::warning(this, tr("Chat history"), QString::fromUtf8(error.what()));
    }
    selectOpenConversation();
}

void ConversationSidebar::selectOpenConversation() {
    const int row = model_->rowOf(session_.conversationId());
    if (row < 0) {
        list_->clearSelection();
        return;
    }
    list_->setCurrentIndex(model_->index(row));
}

bool ConversationSidebar::renameConversation(int64_t id, const QString& title) {
    if (title.trimmed().isEmpty()) return false;
    try {
        store_.conversations().rename(id, title.trimmed());
    } catch (const std::exception& error) {
        QMessageBox::warning(this, tr("Rename"), QString::fromUtf8(error.what()));
        return false;
    }
    refresh();
    return true;
}

void ConversationSidebar::askRename(int64_t id) {
    const Conversation* conversation = model_->find(id);
    if (!conversation) return;
    bool ok = false;
    const QString title =
        QInputDialog::getText(this, tr("Rename conversation"), tr("Title:"), QLineEdit::Normal, conversation->title, &ok);
    if (ok) renameConversation(id, title);
}

void ConversationSidebar::askDelete(int64_t id) {
    const Conversation* conversation = model_->find(id);
    if (!conversation) return;
    const auto answer = QMessageBox::question(this, tr("Delete conversation"),
                                              tr("Delete “%1” and all its messages?").arg(conversation->title));
    if (answer == QMessageBox::Yes) session_.deleteConversation(id);
}

void ConversationSidebar::showContextMenu(const QPoint& pos) {
    const QModelIndex index = list_->indexAt(pos);
    if (!index.isValid()) return;
    const int64_t id = model_->idAt(index.row());
    QMenu menu(this);
    menu.addAction(tr("Rename…"), this, [this, id] { askRename(id); });
    menu.addAction(tr("Export…"), this, [this, id] { emit exportRequested(id); });
    menu.addSeparator();
    menu.addAction(tr("Delete…"), this, [this, id] { askDelete(id); });
    menu.exec(list_->viewport()->mapToGlobal(pos));
}

}  // namespace peregrine::ui
