// The app window: conversations on the left, the chat on the right, the live stats bar under it and the
// model status in the status bar. It owns the engine controller and the chat session and wires them to
// the widgets; what each action means lives in ChatSession, EngineController and the dialogs.
#pragma once

#include <QMainWindow>

#include <memory>

#include "settings/engine_settings.h"

class QSettings;
class QStackedWidget;

namespace peregrine::ui {

class ChatPanel;
class ChatSession;
class ChatStore;
class ConversationSidebar;
class EngineController;
class ModelStatus;
class NoticeBar;
class StatsBar;
class WelcomePage;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // `settings` holds the engine settings, the last model and the model folders.
    MainWindow(std::unique_ptr<ChatStore> store, std::unique_ptr<QSettings> settings, QWidget* parent = nullptr);
    ~MainWindow() override;

    void loadModel(const QString& path);
    void loadLastModel();  // the one loaded last time if it still exists, else the welcome page when no model is found

    ChatStore& store() { return *store_; }
    EngineController& engine() { return *engine_; }
    ChatSession& session() { return *session_; }
    ChatPanel* chatPanel() const { return chatPanel_; }
    ConversationSidebar* sidebar() const { return sidebar_; }
    StatsBar* statsBar() const { return statsBar_; }
    NoticeBar* noticeBar() const { return notice_; }
    ModelStatus* modelStatus() const { return modelStatus_; }
    WelcomePage* welcomePage() const { return welcome_; }  // shown instead of the chat when no model exists
    const EngineSettings& engineSettings() const { return engineSettings_; }
    void applyEngineSettings(const EngineSettings& settings);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void connectEngine();
    void connectSession();
    void connectWelcome();
    void openModelFile();
    void openModelPicker();
    void openSettings();
    void exportConversation(qint64 conversationId);
    void openLogFolder();
    void showAbout();

    std::unique_ptr<QSettings> settings_;
    std::unique_ptr<ChatStore> store_;
    std::unique_ptr<EngineController> engine_;
    std::unique_ptr<ChatSession> session_;
    EngineSettings engineSettings_;
    ConversationSidebar* sidebar_ = nullptr;
    ChatPanel* chatPanel_ = nullptr;
    StatsBar* statsBar_ = nullptr;
    NoticeBar* notice_ = nullptr;
    ModelStatus* modelStatus_ = nullptr;
    QStackedWidget* pages_ = nullptr;  // the chat, or the first-run welcome page
    WelcomePage* welcome_ = nullptr;
};

}  // namespace peregrine::ui
