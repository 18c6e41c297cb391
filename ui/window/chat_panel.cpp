#include "window/chat_panel.h"

#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "chat/chat_input.h"
#include "chat/chat_session.h"
#include "chat/chat_view.h"
#include "chat/message_delegate.h"

namespace peregrine::ui {

ChatPanel::ChatPanel(ChatSession& session, QWidget* parent) : QWidget(parent), session_(session) {
    systemPrompt_ = new QLineEdit(this);
    systemPrompt_->setPlaceholderText(tr("System prompt for this conversation (optional)"));
    systemPrompt_->setToolTip(tr("Instructions the model sees before every message of this conversation"));
    view_ = new ChatView(this);
    view_->setModel(session_.messages());
    input_ = new ChatInput(this);
    sendStop_ = new QPushButton(this);
    regenerate_ = new QPushButton(tr("Regenerate"), this);
    regenerate_->setToolTip(tr("Write the last reply again"));
    alternatives_ = new QPushButton(tr("3 alternatives"), this);
    alternatives_->setObjectName("regenerateAlternatives");
    alternatives_->setToolTip(tr("Write the last reply again three ways at once (one batch); browse them with ‹ › "
                                 "in the reply and keep the one you like"));

    auto* promptRow = new QHBoxLayout;
    promptRow->addWidget(new QLabel(tr("System:"), this));
    promptRow->addWidget(systemPrompt_, 1);
    auto* buttons = new QVBoxLayout;
    buttons->addWidget(sendStop_);
    buttons->addWidget(regenerate_);
    buttons->addWidget(alternatives_);
    buttons->addStretch(1);
    auto* inputRow = new QHBoxLayout;
    inputRow->addWidget(input_, 1);
    inputRow->addLayout(buttons);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 6, 6, 0);
    layout->addLayout(promptRow);
    layout->addWidget(view_, 1);
    layout->addLayout(inputRow);

    connect(input_, &ChatInput::sendRequested, this, &ChatPanel::send);
    connect(input_, &ChatInput::stopRequested, &session_, &ChatSession::stop);
    connect(sendStop_, &QPushButton::clicked, this, [this] {
        session_.isGenerating() ? session_.stop() : send(input_->toPlainText());
    });
    connect(regenerate_, &QPushButton::clicked, &session_, [this] { session_.regenerate(); });
    connect(alternatives_, &QPushButton::clicked, &session_, [this] { session_.regenerate(3); });
    connect(view_->messageDelegate(), &MessageDelegate::alternativeRequested, &session_,
            [this](qint64 id, int index) { session_.chooseAlternative(id, index); });
    connect(systemPrompt_, &QLineEdit::editingFinished, this, [this] {
        if (systemPrompt_->text() != session_.systemPrompt()) session_.setSystemPrompt(systemPrompt_->text());
    });
    connect(&session_, &ChatSession::conversationOpened, this, [this] {
        systemPrompt_->setText(session_.systemPrompt());
        updateButtons();
    });
    connect(&session_, &ChatSession::generatingChanged, this, &ChatPanel::updateButtons);
    connect(session_.messages(), &QAbstractItemModel::rowsInserted, this, &ChatPanel::updateButtons);
    connect(session_.messages(), &QAbstractItemModel::rowsRemoved, this, &ChatPanel::updateButtons);
    connect(session_.messages(), &QAbstractItemModel::modelReset, this, &ChatPanel::updateButtons);
    connect(view_, &ChatView::copyRequested, this, &ChatPanel::copyMessage);
    connect(view_, &ChatView::editRequested, this, &ChatPanel::editMessage);
    connect(view_, &ChatView::regenerateRequested, &session_, [this] { session_.regenerate(); });
    connect(view_->messageDelegate(), &MessageDelegate::codeCopied, this,
            [this] { emit statusMessage(tr("Code copied to the clipboard")); });
    updateButtons();
}

void ChatPanel::focusInput() { input_->setFocus(); }

void ChatPanel::send(const QString& text) {
    if (text.trimmed().isEmpty()) return;
    if (session_.send(text)) input_->clear();
}

void ChatPanel::updateButtons() {
    const bool generating = session_.isGenerating();
    sendStop_->setText(generating ? tr("Stop") : tr("Send"));
    sendStop_->setToolTip(generating ? tr("Stop the reply and keep what was written (Esc)") : tr("Send (Enter)"));
    regenerate_->setEnabled(!generating && session_.messages()->rowCount() > 0);
    alternatives_->setEnabled(regenerate_->isEnabled());
}

void ChatPanel::copyMessage(qint64 id) {
    if (const StoredMessage* message = session_.messages()->find(id)) {
        QApplication::clipboard()->setText(message->content);
        emit statusMessage(tr("Message copied to the clipboard"));
    }
}

void ChatPanel::editMessage(qint64 id) {
    const StoredMessage* message = session_.messages()->find(id);
    if (!message) return;
    bool ok = false;
    const QString text = QInputDialog::getMultiLineText(
        this, tr("Edit and resend"), tr("The replies after this message will be replaced."), message->content, &ok);
    if (ok) session_.editAndResend(id, text);
}

}  // namespace peregrine::ui
