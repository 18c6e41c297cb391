#include "window/notice_bar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>

namespace peregrine::ui {

NoticeBar::NoticeBar(QWidget* parent) : QWidget(parent) {
    label_ = new QLabel(this);
    label_->setWordWrap(true);
    label_->setTextFormat(Qt::PlainText);
    label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    action_ = new QPushButton(this);
    close_ = new QPushButton(QStringLiteral("×"), this);
    close_->setFlat(true);
    close_->setToolTip(tr("Dismiss"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(8, 4, 4, 4);
    layout->addWidget(label_, 1);
    layout->addWidget(action_);
    layout->addWidget(close_);
    setAutoFillBackground(true);
    connect(close_, &QPushButton::clicked, this, &QWidget::hide);
    connect(action_, &QPushButton::clicked, this, [this] {
        hide();
        if (onAction_) onAction_();
    });
    hide();
}

void NoticeBar::showNotice(Kind kind, const QString& text, const QString& actionText, std::function<void()> action) {
    kind_ = kind;
    label_->setText(text);
    action_->setText(actionText);
    action_->setVisible(!actionText.isEmpty());
    onAction_ = std::move(action);
    QPalette tinted = palette();
    const QColor base = palette().color(QPalette::Window);
    const QColor tint = kind == Kind::Error ? QColor(220, 60, 60) : kind == Kind::Warning ? QColor(230, 170, 40)
                                                                                          : QColor(60, 130, 220);
    tinted.setColor(QPalette::Window, QColor((base.red() * 3 + tint.red()) / 4, (base.green() * 3 + tint.green()) / 4,
                                             (base.blue() * 3 + tint.blue()) / 4));
    setPalette(tinted);
    show();
}

QString NoticeBar::text() const { return isHidden() ? QString() : label_->text(); }

}  // namespace peregrine::ui
