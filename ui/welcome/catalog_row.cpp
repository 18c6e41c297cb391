#include "welcome/catalog_row.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include "stats/system_memory.h"
#include "welcome/download_text.h"

namespace peregrine::ui {

namespace {

QString contextText(int tokens) {
    return tokens >= 1024 && tokens % 1024 == 0 ? QStringLiteral("%1K").arg(tokens / 1024) : QString::number(tokens);
}

QString fitColor(Fit fit) {
    switch (fit) {
        case Fit::Fits: return QStringLiteral("#2e7d32");
        case Fit::Tight: return QStringLiteral("#b26a00");
        case Fit::WontFit: return QStringLiteral("#c62828");
    }
    return {};
}

}  // namespace

CatalogRow::CatalogRow(const CatalogEntry& entry, QWidget* parent) : QFrame(parent), entry_(entry) {
    setObjectName(QStringLiteral("catalogRow_") + entry.id);
    setFrameShape(QFrame::StyledPanel);

    QString title = QStringLiteral("<b>%1</b>").arg(entry.name.toHtmlEscaped());
    if (entry.recommended) title += tr(" &nbsp;<span style='color:#1565c0'>★ Recommended for this computer</span>");
    auto* name = new QLabel(title, this);
    auto* description = new QLabel(entry.description, this);
    description->setWordWrap(true);
    auto* details = new QLabel(
        tr("%1 · %2 download · needs about %3 at context %4 · <span style='color:%5'>%6</span> · %7")
            .arg(entry.quantization, formatBytes(entry.downloadBytes), formatBytes(entry.runBytes),
                 contextText(entry.contextLength), fitColor(entry.fit), fitName(entry.fit),
                 entry.license.toHtmlEscaped()),
        this);
    details->setObjectName(QStringLiteral("details"));
    status_ = new QLabel(this);
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    status_->hide();
    progress_ = new QProgressBar(this);
    progress_->setRange(0, 1000);
    progress_->setTextVisible(false);
    progress_->setMaximumHeight(8);
    progress_->hide();

    download_ = new QPushButton(tr("Download"), this);
    download_->setObjectName(QStringLiteral("download"));
    if (entry.recommended) download_->setDefault(true);
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setObjectName(QStringLiteral("cancel"));
    cancel_->hide();

    auto* text = new QVBoxLayout;
    text->addWidget(name);
    text->addWidget(description);
    text->addWidget(details);
    text->addWidget(progress_);
    text->addWidget(status_);
    auto* buttons = new QVBoxLayout;
    buttons->addWidget(download_);
    buttons->addWidget(cancel_);
    buttons->addStretch(1);
    auto* layout = new QHBoxLayout(this);
    layout->addLayout(text, 1);
    layout->addLayout(buttons);

    connect(download_, &QPushButton::clicked, this, &CatalogRow::downloadClicked);
    connect(cancel_, &QPushButton::clicked, this, &CatalogRow::cancelClicked);
}

QString CatalogRow::statusText() const { return status_->isHidden() ? QString() : status_->text(); }

void CatalogRow::setBusy(bool busy) {
    busy_ = busy;
    download_->setVisible(!busy);
    cancel_->setVisible(busy);
    progress_->setVisible(busy);
    if (busy) status_->setStyleSheet({});  // an earlier error's red goes once a retry runs
    status_->show();
}

void CatalogRow::showQueued() {
    setBusy(true);
    progress_->setRange(0, 0);  // busy indicator until the size is known
    status_->setText(tr("Waiting to start…"));
}

void CatalogRow::showProgress(const DownloadProgress& progress) {
    setBusy(true);
    if (progress.bytes_total > 0) {
        progress_->setRange(0, 1000);
        progress_->setValue(int(1000.0 * double(progress.bytes_done) / double(progress.bytes_total)));
    }
    status_->setText(downloadProgressText(progress));
}

void CatalogRow::showFinished(const QString& path) {
    setBusy(false);
    download_->hide();
    progress_->show();
    progress_->setRange(0, 1000);
    progress_->setValue(1000);
    status_->setText(tr("Downloaded and verified: %1. Loading…").arg(path));
}

void CatalogRow::showFailed(const QString& text) {
    setBusy(false);
    download_->setText(tr("Retry"));
    status_->setStyleSheet(QStringLiteral("color:#c62828"));
    status_->setText(text);
}

void CatalogRow::showCancelled(const QString& text) {
    setBusy(false);
    download_->setText(tr("Resume"));
    status_->setStyleSheet({});
    status_->setText(text);
}

}  // namespace peregrine::ui
