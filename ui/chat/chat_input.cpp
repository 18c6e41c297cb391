#include "chat/chat_input.h"

#include <QKeyEvent>

namespace peregrine::ui {

ChatInput::ChatInput(QWidget* parent) : QPlainTextEdit(parent) {
    setPlaceholderText(tr("Message (Enter to send, Shift+Enter for a new line, Esc to stop)"));
    setTabChangesFocus(true);
    connect(this, &QPlainTextEdit::textChanged, this, &QWidget::updateGeometry);
}

QSize ChatInput::sizeHint() const {
    const int lines = std::clamp(static_cast<int>(document()->lineCount()), 2, 8);
    const int height = fontMetrics().lineSpacing() * lines + 2 * frameWidth() +
                       static_cast<int>(2 * document()->documentMargin());
    return {QPlainTextEdit::sizeHint().width(), height};
}

void ChatInput::keyPressEvent(QKeyEvent* event) {
    const bool enter = event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter;
    if (enter && !(event->modifiers() & Qt::ShiftModifier)) {
        const QString text = toPlainText();
        if (!text.trimmed().isEmpty()) emit sendRequested(text);
        event->accept();
        return;
    }
    if (event->key() == Qt::Key_Escape) {
        emit stopRequested();
        event->accept();
        return;
    }
    QPlainTextEdit::keyPressEvent(event);
}

}  // namespace peregrine::ui
