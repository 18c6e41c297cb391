// A dismissable one-line message above the chat (errors, recovered history, "reload to apply"), instead
// of modal dialogs that would block the window. An optional action button (e.g. "Reload now").
#pragma once

#include <QWidget>

#include <functional>

class QLabel;
class QPushButton;

namespace peregrine::ui {

class NoticeBar : public QWidget {
    Q_OBJECT

public:
    enum class Kind { Info, Warning, Error };

    explicit NoticeBar(QWidget* parent = nullptr);

    void showNotice(Kind kind, const QString& text, const QString& actionText = {},
                    std::function<void()> action = {});
    QString text() const;
    Kind kind() const { return kind_; }

private:
    Kind kind_ = Kind::Info;
    QLabel* label_;
    QPushButton* action_;
    QPushButton* close_;
    std::function<void()> onAction_;
};

}  // namespace peregrine::ui
