#include "screenshot_run.h"

#include <QApplication>
#include <QPixmap>
#include <QTimer>

#include <cstdio>

#include "bridge/engine_controller.h"
#include "chat/chat_session.h"
#include "window/main_window.h"

namespace peregrine::app {

using namespace peregrine::ui;

void startScreenshotRun(MainWindow& window, const ScreenshotRequest& request) {
    const auto fail = [](const QString& why) {
        std::fprintf(stderr, "screenshot: %s\n", qPrintable(why));
        QApplication::exit(1);
    };
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

}  // namespace peregrine::app
