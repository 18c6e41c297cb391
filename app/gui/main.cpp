// `peregrine`: the desktop app. Sets up logging and the chat history, then shows the main window.
//   peregrine [--model FILE.gguf] [--verbose]
#include <QApplication>
#include <QCommandLineParser>
#include <QMessageBox>
#include <QSettings>
#include <QTemporaryDir>

#include <cstdio>
#include <cstring>
#include <memory>

#include "app_info.h"
#include "screenshot_run.h"
#include "logging/app_log.h"
#include "logging/ui_log.h"
#include "settings/engine_settings.h"
#include "store/chat_store.h"
#include "window/main_window.h"
#include "window/notice_bar.h"

using namespace peregrine::ui;

namespace {

// The history file, or an in-memory one (with the reason) when the file cannot be used at all.
std::unique_ptr<ChatStore> openChatStore(QString& problem) {
    try {
        return ChatStore::open(ChatStore::defaultPath());
    } catch (const std::exception& error) {
        problem = QObject::tr("The chat history cannot be used (%1). Conversations in this session will not be saved.")
                      .arg(QString::fromUtf8(error.what()));
        uiLogger("store")->error("{}", problem.toStdString());
        return ChatStore::openInMemory();
    }
}

}  // namespace

int main(int argc, char** argv) {
    // --version answers without a display (QApplication cannot start without one): over ssh, in scripts.
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--version") == 0 || std::strcmp(argv[i], "-v") == 0) {
            std::printf("peregrine %s\n", qPrintable(peregrineVersion()));
            return 0;
        }
    }
    QApplication app(argc, argv);
    // No organization name: data then lives in ~/.local/share/peregrine (models/, chats.sqlite), the
    // folder the README and scripts/run.sh point users to.
    QApplication::setApplicationName(QStringLiteral("peregrine"));
    QApplication::setApplicationDisplayName(QStringLiteral("Peregrine"));
    QApplication::setApplicationVersion(peregrineVersion());

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Peregrine: chat with local LLMs"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption modelOption({"m", "model"}, QStringLiteral("GGUF model to load at start."), "file");
    // No -v: Qt's version option has it.
    const QCommandLineOption verboseOption("verbose", QStringLiteral("Debug-level logging."));
    const QCommandLineOption screenshotOption(
        "screenshot",
        QStringLiteral("Load --model, send --prompt, save the window to this PNG and quit "
                       "(no --model: the welcome page)."),
        "png");
    const QCommandLineOption promptOption("prompt", QStringLiteral("Prompt for --screenshot."), "text",
                                          QStringLiteral("Once upon a time"));
    parser.addOptions({modelOption, verboseOption, screenshotOption, promptOption});
    // The desktop entry passes opened files (Exec=peregrine %F): a .gguf given that way is loaded too.
    parser.addPositionalArgument("model", QStringLiteral("GGUF model to load at start (same as --model)."), "[file]");
    parser.process(app);
    const QStringList positional = parser.positionalArguments();
    const QString modelPath = parser.isSet(modelOption) ? parser.value(modelOption)
                                                        : (positional.isEmpty() ? QString() : positional.first());

    AppLog::install(parser.isSet(verboseOption));
    const bool screenshot = parser.isSet(screenshotOption);
    QString storeProblem;
    // A screenshot run leaves the user's history and settings alone: in-memory chats, throwaway settings.
    QTemporaryDir scratch;
    std::unique_ptr<ChatStore> store = screenshot ? ChatStore::openInMemory() : openChatStore(storeProblem);
    auto settings = screenshot ? std::make_unique<QSettings>(scratch.filePath("settings.ini"), QSettings::IniFormat)
                               : std::make_unique<QSettings>(QStringLiteral("peregrine"), QStringLiteral("peregrine"));
    if (screenshot) {
        EngineSettings repeatable;  // the same picture on every run
        repeatable.sampling.seed = 42;
        repeatable.maxTokens = 200;
        writeEngineSettings(*settings, repeatable);
    }
    MainWindow window(std::move(store), std::move(settings));
    if (!storeProblem.isEmpty()) window.noticeBar()->showNotice(NoticeBar::Kind::Error, storeProblem);
    window.show();
    if (screenshot && modelPath.isEmpty()) {
        peregrine::app::startWelcomeScreenshotRun(window, parser.value(screenshotOption));
    } else if (screenshot) {
        peregrine::app::startScreenshotRun(
            window, {modelPath, parser.value(promptOption), parser.value(screenshotOption)});
    } else if (!modelPath.isEmpty()) {
        window.loadModel(modelPath);
    } else {
        window.loadLastModel();
    }
    return app.exec();
}
