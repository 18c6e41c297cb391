#include "welcome/welcome_page.h"

#include <QCheckBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QVBoxLayout>

#include <algorithm>

#include "logging/ui_log.h"
#include "peregrine/download.h"
#include "peregrine/model_catalog.h"
#include "picker/model_scanner.h"
#include "stats/system_memory.h"
#include "welcome/catalog_row.h"
#include "welcome/download_bridge.h"
#include "welcome/download_text.h"

namespace peregrine::ui {

namespace {

constexpr auto kFoldersKey = "picker/folders";  // shared with the model picker
constexpr auto kEndpointKey = "download/endpoint";

// "~/.local/share/peregrine/models": shorter, and the same on every machine.
QString homeRelative(const QString& path, const QString& home) {
    return path.startsWith(home + QLatin1Char('/')) ? QStringLiteral("~") + path.mid(home.size()) : path;
}

QLabel* wrappedLabel(const QString& text, QWidget* parent) {
    auto* label = new QLabel(text, parent);
    label->setWordWrap(true);
    return label;
}

}  // namespace

WelcomePage::WelcomePage(QSettings& settings, int contextLength, QWidget* parent, const QString& home,
                         const QString& appModels)
    : QWidget(parent),
      settings_(settings),
      home_(home.isEmpty() ? QDir::homePath() : home),
      appModels_(appModels.isEmpty() ? defaultAppModelsFolder() : appModels),
      scanner_(new ModelScanner(this)),
      downloads_(new DownloadBridge(this)) {
    setObjectName(QStringLiteral("welcomePage"));
    auto* content = new QWidget;
    content->setMaximumWidth(900);
    auto* layout = new QVBoxLayout(content);
    layout->setSpacing(10);

    auto* title = new QLabel(tr("Welcome to Peregrine"), content);
    QFont titleFont = title->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.8);
    titleFont.setBold(true);
    title->setFont(titleFont);
    layout->addWidget(title);
    layout->addWidget(wrappedLabel(tr("No model was found on this computer. Pick one below and it downloads, loads and "
                                      "opens the chat. Models run entirely on this machine."),
                                   content));
    const qint64 available = systemAvailableBytes();
    layout->addWidget(wrappedLabel(
        available > 0
            ? tr("This computer has %1 of memory available now (%2 in all). Graphics card memory is not checked, "
                 "so the estimates are for running on the CPU.")
                  .arg(formatBytes(available), formatBytes(systemTotalBytes()))
            : tr("The available memory could not be read, so no model is marked as fitting or recommended."),
        content));

    loadCatalog(contextLength);
    list_ = new QWidget(content);
    auto* listLayout = new QVBoxLayout(list_);
    listLayout->setContentsMargins(0, 0, 0, 0);
    if (!catalogProblem_.isEmpty()) {
        auto* problem = wrappedLabel(catalogProblem_, content);
        problem->setStyleSheet(QStringLiteral("color:#c62828"));
        layout->addWidget(problem);
    }
    for (const CatalogEntry& entry : entries_) {
        auto* row = new CatalogRow(entry, list_);
        rows_.insert(entry.id, row);
        listLayout->insertWidget(entry.recommended ? 0 : listLayout->count(), row);  // the default on top
        connect(row, &CatalogRow::downloadClicked, this, [this, id = entry.id] { download(id); });
        connect(row, &CatalogRow::cancelClicked, this, [this, id = entry.id] { cancelDownload(id); });
    }
    layout->addWidget(list_);
    showAll_ = new QCheckBox(content);
    layout->addWidget(showAll_);
    auto* source = wrappedLabel(tr("Downloads come from %1 and go to %2. From a terminal: "
                                   "<tt>peregrine-cli pull OWNER/REPO[:QUANT]</tt>.")
                                    .arg(endpoint().toHtmlEscaped(), homeRelative(appModels_, home_).toHtmlEscaped()),
                                content);
    source->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(source);

    auto* foldersTitle = new QLabel(tr("<b>Already have GGUF models?</b> These folders were searched:"), content);
    layout->addSpacing(8);
    layout->addWidget(foldersTitle);
    folders_ = new QLabel(content);
    folders_->setTextFormat(Qt::PlainText);
    folders_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(folders_);
    scanStatus_ = new QLabel(content);
    auto* addFolderButton = new QPushButton(tr("Add folder…"), content);
    addFolderButton->setObjectName(QStringLiteral("addFolder"));
    auto* rescanButton = new QPushButton(tr("Search again"), content);
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(scanStatus_, 1);
    folderRow->addWidget(addFolderButton);
    folderRow->addWidget(rescanButton);
    layout->addLayout(folderRow);
    layout->addStretch(1);

    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto* centering = new QWidget;
    auto* centeringLayout = new QHBoxLayout(centering);
    centeringLayout->addWidget(content);
    scroll->setWidget(centering);
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->addWidget(scroll);

    connect(showAll_, &QCheckBox::toggled, this, &WelcomePage::applyFitFilter);
    connect(addFolderButton, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Add a folder with GGUF models"), home_);
        if (!folder.isEmpty()) addFolder(folder);
    });
    connect(rescanButton, &QPushButton::clicked, this, &WelcomePage::checkForModels);
    connect(scanner_, &ModelScanner::finished, this, [this](int count) {
        scanStatus_->setText(count == 0 ? tr("No models found in these folders.")
                                        : tr("%n model(s) found.", nullptr, count));
        emit scanFinished(count);
    });
    connect(downloads_, &DownloadBridge::updated, this, &WelcomePage::onUpdate);
    applyFitFilter();
    showFolders();
}

WelcomePage::~WelcomePage() = default;

void WelcomePage::loadCatalog(int contextLength) {
    const std::filesystem::path path = find_model_catalog();
    if (path.empty()) {
        catalogProblem_ = tr("The model catalogue was not found (looked at $PEREGRINE_CATALOG and share/peregrine/"
                             "catalog.json next to the program). Add a folder with GGUF files below instead.");
        uiLogger("download")->warn("{}", catalogProblem_.toStdString());
        return;
    }
    try {
        entries_ = catalogEntries(load_model_catalog(path), contextLength, systemAvailableBytes());
    } catch (const std::exception& error) {
        catalogProblem_ = tr("The model catalogue cannot be read: %1").arg(QString::fromUtf8(error.what()));
        uiLogger("download")->error("{}", catalogProblem_.toStdString());
    }
}

QString WelcomePage::recommendedId() const {
    for (const CatalogEntry& entry : entries_) {
        if (entry.recommended) return entry.id;
    }
    return {};
}

QString WelcomePage::endpoint() const {
    return QString::fromStdString(hf_endpoint(settings_.value(kEndpointKey).toString().toStdString()));
}

QList<ScanRoot> WelcomePage::scanRoots() const {
    return modelScanRoots(home_, appModels_, settings_.value(kFoldersKey).toStringList());
}

QString WelcomePage::foldersText() const { return folders_->text(); }

bool WelcomePage::isScanning() const { return scanner_->isScanning(); }

void WelcomePage::showFolders() {
    QStringList lines;
    for (const ScanRoot& root : scanRoots()) {
        lines << QStringLiteral("%1: %2%3").arg(root.source, homeRelative(root.path, home_),
                                                 QFileInfo(root.path).isDir() ? QString() : tr(" (not present)"));
    }
    folders_->setText(lines.join('\n'));
}

void WelcomePage::checkForModels() {
    showFolders();
    scanStatus_->setText(tr("Searching…"));
    scanner_->scan(scanRoots());
}

void WelcomePage::addFolder(const QString& folder) {
    QStringList folders = settings_.value(kFoldersKey).toStringList();
    if (!folders.contains(folder)) folders << folder;
    settings_.setValue(kFoldersKey, folders);
    checkForModels();
}

void WelcomePage::applyFitFilter() {
    for (CatalogRow* row : std::as_const(rows_)) {
        row->setVisible(showAll_->isChecked() || row->entry().fit != Fit::WontFit || row->isBusy());
    }
    const int wontFit = int(std::count_if(entries_.begin(), entries_.end(),
                                          [](const CatalogEntry& e) { return e.fit == Fit::WontFit; }));
    showAll_->setVisible(wontFit > 0);
    showAll_->setText(tr("Also show the %n model(s) that need more memory than is available", nullptr, wontFit));
}

void WelcomePage::download(const QString& id) {
    CatalogRow* row = rows_.value(id);
    if (!row || row->isBusy()) return;
    const CatalogEntry& entry = row->entry();
    const quint64 job =
        downloads_->enqueue(entry.repo, entry.file, settings_.value(kEndpointKey).toString(), appModels_);
    jobs_.insert(job, id);
    uiLogger("download")->info("downloading {} {} from {} into {}", entry.repo.toStdString(), entry.file.toStdString(),
                               endpoint().toStdString(), appModels_.toStdString());
    row->showQueued();
}

void WelcomePage::cancelDownload(const QString& id) {
    for (auto it = jobs_.cbegin(); it != jobs_.cend(); ++it) {
        if (it.value() == id) {
            downloads_->cancel(it.key());
            return;
        }
    }
}

void WelcomePage::onUpdate(const DownloadUpdate& update) {
    const QString id = jobs_.value(update.id);
    CatalogRow* row = rows_.value(id);
    if (!row) return;
    switch (update.state) {
        case DownloadState::Queued:
            row->showQueued();
            return;
        case DownloadState::Running:
            row->showProgress(update.progress);
            return;
        case DownloadState::Finished: {
            jobs_.remove(update.id);
            const QString path = QString::fromStdString(update.path.string());
            uiLogger("download")->info("downloaded and verified {}", path.toStdString());
            row->showFinished(path);
            emit modelDownloaded(path);
            return;
        }
        case DownloadState::Failed: {
            jobs_.remove(update.id);
            uiLogger("download")->error("{}: {}", update.name, update.error);
            row->showFailed(downloadFailureText(update.error_kind.value_or(DownloadError::Kind::Http),
                                                QString::fromStdString(update.error)));
            return;
        }
        case DownloadState::Cancelled:
            jobs_.remove(update.id);
            row->showCancelled(tr("Cancelled. What was downloaded so far is kept; Resume continues from there."));
            return;
    }
}

}  // namespace peregrine::ui
