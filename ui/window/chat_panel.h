// The right-hand side of the window: the conversation's system prompt, the messages, the input box and
// the Send/Stop, Regenerate and "3 alternatives" buttons, all driving the ChatSession.
#pragma once

#include <QWidget>

class QLineEdit;
class QPushButton;

namespace peregrine::ui {

class ChatInput;
class ChatSession;
class ChatView;

class ChatPanel : public QWidget {
    Q_OBJECT

public:
    explicit ChatPanel(ChatSession& session, QWidget* parent = nullptr);

    ChatInput* input() const { return input_; }
    ChatView* view() const { return view_; }
    QPushButton* alternativesButton() const { return alternatives_; }
    QLineEdit* systemPromptEdit() const { return systemPrompt_; }
    void focusInput();

signals:
    void statusMessage(const QString& message);

private:
    void send(const QString& text);
    void updateButtons();
    void copyMessage(qint64 id);
    void editMessage(qint64 id);

    ChatSession& session_;
    QLineEdit* systemPrompt_;
    ChatView* view_;
    ChatInput* input_;
    QPushButton* sendStop_;
    QPushButton* regenerate_;
    QPushButton* alternatives_;
};

}  // namespace peregrine::ui
