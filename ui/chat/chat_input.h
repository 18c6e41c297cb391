// The message box: Enter sends, Shift+Enter starts a new line, Esc asks to stop the reply. Grows with its
// text up to a few lines.
#pragma once

#include <QPlainTextEdit>

namespace peregrine::ui {

class ChatInput : public QPlainTextEdit {
    Q_OBJECT

public:
    explicit ChatInput(QWidget* parent = nullptr);
    QSize sizeHint() const override;

signals:
    void sendRequested(const QString& text);
    void stopRequested();

protected:
    void keyPressEvent(QKeyEvent* event) override;
};

}  // namespace peregrine::ui
