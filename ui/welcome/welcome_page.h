// The first-run page: shown when no model is found anywhere the picker looks. It offers the curated
// catalogue (models/catalog.json) marked by what fits this machine's RAM, with a recommended default and
// a Download button per model (progress, cancel, errors with retry, through the engine's DownloadQueue),
// and lists the folders it searched with "Add folder…" for models the user already has elsewhere.
//
// It decides nothing about the window: scanFinished(count) says whether models exist, and
// modelDownloaded(path) hands over a verified file; MainWindow switches pages and loads the model.
#pragma once

#include <QHash>
#include <QList>
#include <QWidget>

#include "picker/model_locations.h"
#include "welcome/catalog_entries.h"

class QCheckBox;
class QLabel;
class QSettings;

namespace peregrine {
struct DownloadUpdate;
}

namespace peregrine::ui {

class CatalogRow;
class DownloadBridge;
class ModelScanner;

class WelcomePage : public QWidget {
    Q_OBJECT

public:
    // `settings` holds the added folders (picker/folders, shared with the picker) and the download
    // source (download/endpoint; empty: $PEREGRINE_HF_ENDPOINT, $HF_ENDPOINT, huggingface.co).
    // contextLength: the engine setting (0: each model's own), for the memory estimates. `home` and
    // `appModels` empty: the user's home and the app's models folder (where downloads go).
    WelcomePage(QSettings& settings, int contextLength, QWidget* parent = nullptr, const QString& home = {},
                const QString& appModels = {});
    ~WelcomePage() override;

    void checkForModels();                  // scans every folder; scanFinished tells the count
    void addFolder(const QString& folder);  // remembers it for the picker too, then scans again
    void download(const QString& id);       // the catalogue model's default file
    void cancelDownload(const QString& id);

    const QList<CatalogEntry>& entries() const { return entries_; }
    CatalogRow* row(const QString& id) const { return rows_.value(id); }
    QString recommendedId() const;
    QString catalogProblem() const { return catalogProblem_; }  // empty when the catalogue loaded
    QString endpoint() const;        // where downloads come from
    QString modelsFolder() const { return appModels_; }
    QList<ScanRoot> scanRoots() const;
    QString foldersText() const;
    bool isScanning() const;
    DownloadBridge* downloads() const { return downloads_; }

signals:
    void scanFinished(int count);
    void modelDownloaded(const QString& path);

private:
    void loadCatalog(int contextLength);
    void onUpdate(const peregrine::DownloadUpdate& update);
    void showFolders();
    void applyFitFilter();

    QSettings& settings_;
    QString home_;
    QString appModels_;
    QList<CatalogEntry> entries_;
    QString catalogProblem_;
    QHash<QString, CatalogRow*> rows_;
    QHash<quint64, QString> jobs_;  // download id -> catalogue id
    QLabel* folders_ = nullptr;
    QLabel* scanStatus_ = nullptr;
    QCheckBox* showAll_ = nullptr;
    QWidget* list_ = nullptr;
    ModelScanner* scanner_ = nullptr;
    DownloadBridge* downloads_ = nullptr;
};

}  // namespace peregrine::ui
