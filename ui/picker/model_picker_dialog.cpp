#include "picker/model_picker_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "picker/model_list_model.h"
#include "picker/model_scanner.h"
#include "stats/system_memory.h"

namespace peregrine::ui {

ModelPickerDialog::ModelPickerDialog(QSettings& settings, int contextLength, QWidget* parent, const QString& home,
                                     const QString& appModels)
    : QDialog(parent),
      settings_(settings),
      home_(home),
      appModels_(appModels),
      model_(new ModelListModel(this)),
      proxy_(new QSortFilterProxyModel(this)),
      scanner_(new ModelScanner(this)) {
    setWindowTitle(tr("Choose a model"));
    resize(1000, 520);
    model_->setBudget(contextLength, systemAvailableBytes());
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(ModelListModel::SortRole);
    proxy_->setFilterKeyColumn(-1);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);

    filter_ = new QLineEdit(this);
    filter_->setPlaceholderText(tr("Filter by name, architecture, quantization…"));
    filter_->setClearButtonEnabled(true);
    table_ = new QTableView(this);
    table_->setModel(proxy_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setSortingEnabled(true);
    table_->sortByColumn(ModelListModel::Name, Qt::AscendingOrder);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    status_ = new QLabel(this);
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    folders_ = new QLabel(this);
    folders_->setWordWrap(true);
    folders_->setTextFormat(Qt::PlainText);

    auto* addFolderButton = new QPushButton(tr("Add folder…"), this);
    auto* removeFolderButton = new QPushButton(tr("Remove folder…"), this);
    auto* rescanButton = new QPushButton(tr("Rescan"), this);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    load_ = buttons->addButton(tr("Load"), QDialogButtonBox::AcceptRole);
    load_->setDefault(true);

    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(folders_, 1);
    folderRow->addWidget(addFolderButton);
    folderRow->addWidget(removeFolderButton);
    folderRow->addWidget(rescanButton);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(filter_);
    layout->addWidget(table_, 1);
    layout->addWidget(status_);
    layout->addLayout(folderRow);
    layout->addWidget(new QLabel(tr("Memory estimates assume context %1 and compare with %2 of RAM available now.")
                                     .arg(contextLength > 0 ? QString::number(contextLength) : tr("the model's own"),
                                          formatBytes(systemAvailableBytes())),
                                 this));
    layout->addWidget(buttons);

    connect(filter_, &QLineEdit::textChanged, proxy_, &QSortFilterProxyModel::setFilterFixedString);
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ModelPickerDialog::updateSelection);
    connect(table_, &QTableView::doubleClicked, this, &ModelPickerDialog::accept);
    connect(buttons, &QDialogButtonBox::accepted, this, &ModelPickerDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(rescanButton, &QPushButton::clicked, this, &ModelPickerDialog::rescan);
    connect(addFolderButton, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Add a folder with GGUF models"));
        if (!folder.isEmpty()) addFolder(folder);
    });
    connect(removeFolderButton, &QPushButton::clicked, this, [this] {
        const QStringList folders = settings_.value("picker/folders").toStringList();
        if (folders.isEmpty()) return;
        bool ok = false;
        const QString folder = QInputDialog::getItem(this, tr("Remove folder"), tr("Stop scanning:"), folders, 0, false, &ok);
        if (ok) removeFolder(folder);
    });
    connect(scanner_, &ModelScanner::modelFound, model_, &ModelListModel::add);
    connect(scanner_, &ModelScanner::finished, this, [this](int count) {
        status_->setText(count == 0 ? tr("No models found. Put GGUF files in %1 or add a folder.").arg(appModels_)
                                    : tr("%n model(s) found.", nullptr, count));
        table_->resizeColumnsToContents();
        emit scanFinished(count);
    });
    rescan();
}

ModelPickerDialog::~ModelPickerDialog() = default;

QList<ScanRoot> ModelPickerDialog::scanRoots() const {
    return modelScanRoots(home_, appModels_, settings_.value("picker/folders").toStringList());
}

bool ModelPickerDialog::isScanning() const { return scanner_->isScanning(); }

QString ModelPickerDialog::statusText() const { return status_->text(); }

void ModelPickerDialog::rescan() {
    model_->clear();
    const QList<ScanRoot> roots = scanRoots();
    QStringList lines;
    for (const ScanRoot& root : roots) {
        lines << QStringLiteral("%1: %2%3").arg(root.source, root.path,
                                                 QFileInfo(root.path).isDir() ? QString() : tr(" (not present)"));
    }
    folders_->setText(lines.join('\n'));
    status_->setText(tr("Scanning…"));
    load_->setEnabled(false);
    scanner_->scan(roots);
}

void ModelPickerDialog::addFolder(const QString& folder) {
    QStringList folders = settings_.value("picker/folders").toStringList();
    if (!folders.contains(folder)) folders << folder;
    settings_.setValue("picker/folders", folders);
    rescan();
}

void ModelPickerDialog::removeFolder(const QString& folder) {
    QStringList folders = settings_.value("picker/folders").toStringList();
    folders.removeAll(folder);
    settings_.setValue("picker/folders", folders);
    rescan();
}

void ModelPickerDialog::updateSelection() {
    const QModelIndexList rows = table_->selectionModel()->selectedRows();
    if (rows.isEmpty()) {
        load_->setEnabled(false);
        return;
    }
    const ModelCandidate& m = model_->at(proxy_->mapToSource(rows.first()).row());
    load_->setEnabled(!m.broken);
    if (m.broken) {
        status_->setText(tr("%1 cannot be used: %2").arg(m.displayName, m.problem));
    } else {
        status_->setText(m.path);
    }
}

void ModelPickerDialog::accept() {
    const QModelIndexList rows = table_->selectionModel()->selectedRows();
    if (rows.isEmpty()) return;
    const ModelCandidate& m = model_->at(proxy_->mapToSource(rows.first()).row());
    if (m.broken) return;
    selectedPath_ = m.path;
    QDialog::accept();
}

}  // namespace peregrine::ui
