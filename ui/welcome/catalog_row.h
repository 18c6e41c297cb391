// One catalogue model on the welcome page: name, what it needs and whether it fits, and its download
// (button, progress with bytes/rate/time left, cancel, and the error with a retry when it fails).
#pragma once

#include <QFrame>

#include "peregrine/download.h"
#include "welcome/catalog_entries.h"

class QLabel;
class QProgressBar;
class QPushButton;

namespace peregrine::ui {

class CatalogRow : public QFrame {
    Q_OBJECT

public:
    CatalogRow(const CatalogEntry& entry, QWidget* parent = nullptr);

    const CatalogEntry& entry() const { return entry_; }
    QPushButton* downloadButton() const { return download_; }  // "Download", then "Retry" or "Resume"
    QPushButton* cancelButton() const { return cancel_; }
    QProgressBar* progressBar() const { return progress_; }
    QString statusText() const;
    bool isBusy() const { return busy_; }

    void showQueued();
    void showProgress(const DownloadProgress& progress);
    void showFinished(const QString& path);
    void showFailed(const QString& text);
    void showCancelled(const QString& text);

signals:
    void downloadClicked();
    void cancelClicked();

private:
    void setBusy(bool busy);

    CatalogEntry entry_;
    QLabel* status_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* download_ = nullptr;
    QPushButton* cancel_ = nullptr;
    bool busy_ = false;
};

}  // namespace peregrine::ui
