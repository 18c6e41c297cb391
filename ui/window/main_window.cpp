#include "window/main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QUrl>
#include <QVBoxLayout>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "logging/app_log.h"
#include "store/chat_store.h"
#include "store/conversation_export.h"
#include "stats/stats_bar.h"
#include "window/about_dialog.h"
#include "window/chat_panel.h"
#include "window/conversation_sidebar.h"
#include "window/model_status.h"
#include "window/notice_bar.h"
#include "picker/model_picker_dialog.h"
#include "settings/settings_dialog.h"
#include "welcome/welcome_page.h"

namespace peregrine::ui {

MainWindow::MainWindow(std::unique_ptr<ChatStore> store, std::unique_ptr<QSettings> settings, QWidget* parent)
    : QMainWindow(parent),
      settings_(std::move(settings)),
      store_(std::move(store)),
      engine_(std::make_unique<EngineController>()),
      session_(std::make_unique<ChatSession>(*store_, *engine_)),
      engineSettings_(readEngineSettings(*settings_)) {
    setWindowTitle(QStringLiteral("Peregrine"));
    session_->setGenerationOptions(engineSettings_.generationOptions());

    sidebar_ = new ConversationSidebar(*store_, *session_, this);
    chatPanel_ = new ChatPanel(*session_, this);
    notice_ = new NoticeBar(this);
    statsBar_ = new StatsBar(this);
    modelStatus_ = new ModelStatus(*engine_, this);

    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->setSpacing(0);
    rightLayout->addWidget(notice_);
    rightLayout->addWidget(chatPanel_, 1);
    rightLayout->addWidget(statsBar_);
    auto* splitter = new QSplitter(this);
    splitter->addWidget(sidebar_);
    splitter->addWidget(right);
    splitter->setStretchFactor(1, 1);
    sidebar_->setMinimumWidth(200);
    splitter->setSizes({240, 760});
    pages_ = new QStackedWidget(this);
    pages_->addWidget(splitter);
    welcome_ = new WelcomePage(*settings_, engineSettings_.contextLength, pages_);
    pages_->addWidget(welcome_);
    setCentralWidget(pages_);
    statusBar()->addPermanentWidget(modelStatus_, 1);
    resize(1100, 740);

    buildMenus();
    connectEngine();
    connectSession();
    connectWelcome();

    if (!store_->recoveryNote().isEmpty()) notice_->showNotice(NoticeBar::Kind::Warning, store_->recoveryNote());
    // Open the most recent conversation, as chat apps do.
    const QList<Conversation> recent = store_->conversations().list();
    session_->openConversation(recent.isEmpty() ? 0 : recent.first().id);
    chatPanel_->focusInput();
}

MainWindow::~MainWindow() {
    // Widgets refer to the session; they go first, then the session (which saves a reply still
    // streaming), then the engine thread.
    delete takeCentralWidget();
    session_.reset();
    engine_.reset();
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&New chat"), QKeySequence::New, session_.get(), [this] {
        session_->newConversation();
        chatPanel_->focusInput();
    });
    file->addAction(tr("&Export conversation…"), QKeySequence(tr("Ctrl+E")), this,
                    [this] { exportConversation(session_->conversationId()); });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* model = menuBar()->addMenu(tr("&Model"));
    model->addAction(tr("&Choose model…"), QKeySequence(tr("Ctrl+M")), this, &MainWindow::openModelPicker);
    model->addAction(tr("&Open GGUF file…"), QKeySequence::Open, this, &MainWindow::openModelFile);
    model->addAction(tr("&Unload"), engine_.get(), &EngineController::unloadModel);

    QMenu* settings = menuBar()->addMenu(tr("&Settings"));
    settings->addAction(tr("&Speed trade-offs…"), QKeySequence::Preferences, this, &MainWindow::openSettings);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("Open &log folder"), this, &MainWindow::openLogFolder);
    help->addAction(tr("&About Peregrine"), this, &MainWindow::showAbout);

    // Esc stops the reply wherever the focus is (the input box handles it too when focused).
    auto* stop = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    connect(stop, &QShortcut::activated, session_.get(), &ChatSession::stop);
    connect(sidebar_, &ConversationSidebar::exportRequested, this, &MainWindow::exportConversation);
    connect(chatPanel_, &ChatPanel::statusMessage, this, [this](const QString& text) {
        statusBar()->showMessage(text, 3000);
    });
}

void MainWindow::connectEngine() {
    connect(engine_.get(), &EngineController::modelLoaded, this, [this](const ModelSummary& model) {
        statsBar_->setModel(model);
        settings_->setValue("model/lastPath", model.path);
        if (notice_->kind() == NoticeBar::Kind::Error) notice_->hide();
        setWindowTitle(QStringLiteral("Peregrine — %1").arg(model.fileName));
    });
    connect(engine_.get(), &EngineController::loadFailed, this, [this](const QString& message, bool cancelled) {
        statsBar_->clearModel();
        if (cancelled) {
            statusBar()->showMessage(tr("Loading cancelled"), 3000);
        } else {
            notice_->showNotice(NoticeBar::Kind::Error, tr("The model could not be loaded: %1").arg(message));
        }
    });
    connect(engine_.get(), &EngineController::modelUnloaded, this, [this] {
        statsBar_->clearModel();
        setWindowTitle(QStringLiteral("Peregrine"));
    });
}

void MainWindow::connectSession() {
    connect(session_.get(), &ChatSession::replyStarted, statsBar_, &StatsBar::replyStarted);
    connect(session_.get(), &ChatSession::liveStats, statsBar_, &StatsBar::showLive);
    connect(session_.get(), &ChatSession::shownReplyFinished, statsBar_, &StatsBar::showFinal);
    connect(engine_.get(), &EngineController::engineStats, statsBar_, &StatsBar::showEngine);
    connect(session_.get(), &ChatSession::errorOccurred, this, [this](const QString& message) {
        notice_->showNotice(NoticeBar::Kind::Error, message);
    });
}

void MainWindow::connectWelcome() {
    connect(welcome_, &WelcomePage::scanFinished, this, [this](int count) {
        if (count == 0) {
            pages_->setCurrentWidget(welcome_);
        } else if (pages_->currentWidget() == welcome_) {  // e.g. "Add folder…" found some
            pages_->setCurrentIndex(0);
            notice_->showNotice(NoticeBar::Kind::Info,
                                tr("%n model(s) found. Choose one to start chatting.", nullptr, count),
                                tr("Choose model…"), [this] { openModelPicker(); });
        }
    });
    // A model loaded any way (Model menu, a download) replaces the welcome page with the chat.
    connect(engine_.get(), &EngineController::modelLoaded, pages_, [this] { pages_->setCurrentIndex(0); });
    connect(welcome_, &WelcomePage::modelDownloaded, this, [this](const QString& path) {
        pages_->setCurrentIndex(0);  // the model status shows the load; a failure goes to the notice bar
        loadModel(path);
        chatPanel_->focusInput();
    });
}

void MainWindow::loadModel(const QString& path) { engine_->loadModel(path, engineSettings_.loadOptions()); }

void MainWindow::loadLastModel() {
    const QString path = settings_->value("model/lastPath").toString();
    if (!path.isEmpty() && QFileInfo::exists(path)) {
        loadModel(path);
    } else {
        welcome_->checkForModels();  // no model anywhere: scanFinished(0) opens the welcome page
    }
}

void MainWindow::applyEngineSettings(const EngineSettings& settings) {
    const bool reload = EngineSettings::needsReload(engineSettings_, settings) && engine_->hasModel();
    engineSettings_ = settings;
    writeEngineSettings(*settings_, settings);
    session_->setGenerationOptions(settings.generationOptions());
    if (reload) {
        const QString path = engine_->model().path;
        notice_->showNotice(NoticeBar::Kind::Info, tr("Some changes take effect when the model is reloaded."),
                            tr("Reload now"), [this, path] { loadModel(path); });
    }
}

void MainWindow::openModelFile() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open a GGUF model"), {}, tr("GGUF models (*.gguf)"));
    if (!path.isEmpty()) loadModel(path);
}

void MainWindow::openModelPicker() {
    ModelPickerDialog dialog(*settings_, engineSettings_.contextLength, this);
    if (dialog.exec() == QDialog::Accepted && !dialog.selectedPath().isEmpty()) loadModel(dialog.selectedPath());
}

void MainWindow::openSettings() {
    SettingsDialog dialog(engineSettings_, this);
    if (dialog.exec() == QDialog::Accepted) applyEngineSettings(dialog.settings());
}

void MainWindow::exportConversation(qint64 conversationId) {
    const auto conversation = conversationId ? store_->conversations().find(conversationId) : std::nullopt;
    if (!conversation) {
        statusBar()->showMessage(tr("Nothing to export yet"), 3000);
        return;
    }
    QString filter;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export conversation"), conversation->title,
                                                      tr("Markdown (*.md);;JSON (*.json)"), &filter);
    if (path.isEmpty()) return;
    const QList<StoredMessage> messages = store_->messages().list(conversationId);
    const bool json = path.endsWith(".json", Qt::CaseInsensitive) || filter.contains("json");
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        notice_->showNotice(NoticeBar::Kind::Error, tr("Cannot write %1: %2").arg(path, file.errorString()));
        return;
    }
    file.write(json ? conversationToJson(*conversation, messages) : conversationToMarkdown(*conversation, messages).toUtf8());
    statusBar()->showMessage(tr("Exported to %1").arg(path), 4000);
}

void MainWindow::openLogFolder() { QDesktopServices::openUrl(QUrl::fromLocalFile(AppLog::folder())); }

void MainWindow::showAbout() {
    AboutDialog dialog(engine_->hasModel() ? &engine_->model() : nullptr, this);
    dialog.exec();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    session_->stopAll();
    QMainWindow::closeEvent(event);
}

}  // namespace peregrine::ui
