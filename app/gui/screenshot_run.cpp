#include "screenshot_run.h"

#include <QApplication>
#include <QPixmap>
#include <QTimer>

#include <cstdio>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "welcome/welcome_page.h"
#include "window/main_window.h"

namespace peregrine::app {

using namespace peregrine::ui;

namespace {

void fail(const QString& why) {
    std::fprintf(stderr, "screenshot: %s\n", qPrintable(why));
    QApplication::exit(1);
}

}  // namespace

void startScreenshotRun(MainWindow& window, const ScreenshotRequest& request) {
    const auto fail = [](const QString& why) { peregrine::app::fail(why); };
    QObject::connect(&window.engine(), &EngineController::loadFailed, &window,
                     [fail](const QString& message) { fail(message); });
    QObject::connect(&window.engine(), &EngineController::modelLoaded, &window, [&window, request] {
        window.session().newConversation();
        window.session().send(request.prompt);
    });
    QObject::connect(&window.session(), &ChatSession::replyFinished, &window, [&window, request, fail] {
        // One more frame so the final stats and the finished message are painted.
        QTimer::singleShot(100, &window, [&window, request, fail] {
            if (!window.grab().save(request.outputPath)) return fail("cannot write " + request.outputPath);
            std::printf("%s\n", qPrintable(request.outputPath));
            QApplication::exit(0);
        });
    });
    window.loadModel(request.modelPath);
}

void startWelcomeScreenshotRun(MainWindow& window, const QString& outputPath) {
    QObject::connect(window.welcomePage(), &WelcomePage::scanFinished, &window, [&window, outputPath](int count) {
        if (count > 0) {
            return fail(QStringLiteral("%1 model(s) found, so no welcome page; run with HOME and XDG_DATA_HOME on an "
                                       "empty folder").arg(count));
        }
        window.resize(1100, 1060);  // tall enough for the whole catalogue and the searched folders
        QTimer::singleShot(100, &window, [&window, outputPath] {  // one frame for the page to be painted
            if (!window.grab().save(outputPath)) return fail("cannot write " + outputPath);
            std::printf("%s\n", qPrintable(outputPath));
            QApplication::exit(0);
        });
    });
    window.loadLastModel();  // the scratch settings name no last model: this scans the folders
}

}  // namespace peregrine::app
