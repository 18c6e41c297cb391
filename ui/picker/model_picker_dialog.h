// Model ▸ Choose model: every GGUF found in the usual places (and folders the user added), with what it
// is and whether it fits in memory at the chosen context. The scan runs in the background and the table
// fills in as files are read. Added folders are remembered in QSettings ("picker/folders").
#pragma once

#include <QDialog>
#include <QDir>

#include "picker/model_locations.h"

class QLabel;
class QLineEdit;
class QPushButton;
class QSettings;
class QSortFilterProxyModel;
class QTableView;

namespace peregrine::ui {

class ModelListModel;
class ModelScanner;

class ModelPickerDialog : public QDialog {
    Q_OBJECT

public:
    // contextLength: the context the memory estimate assumes (0: each model's own).
    ModelPickerDialog(QSettings& settings, int contextLength, QWidget* parent = nullptr,
                      const QString& home = QDir::homePath(), const QString& appModels = defaultAppModelsFolder());
    ~ModelPickerDialog() override;

    QString selectedPath() const { return selectedPath_; }
    QList<ScanRoot> scanRoots() const;
    void rescan();
    void addFolder(const QString& folder);
    void removeFolder(const QString& folder);
    bool isScanning() const;

    ModelListModel* model() const { return model_; }
    QTableView* table() const { return table_; }
    QString statusText() const;

signals:
    void scanFinished(int count);

private:
    void updateSelection();
    void accept() override;

    QSettings& settings_;
    QString home_;
    QString appModels_;
    QString selectedPath_;
    ModelListModel* model_;
    QSortFilterProxyModel* proxy_;
    ModelScanner* scanner_;
    QTableView* table_;
    QLineEdit* filter_;
    QLabel* status_;
    QLabel* folders_;
    QPushButton* load_;
};

}  // namespace peregrine::ui
