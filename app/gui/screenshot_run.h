// --screenshot mode: loads the model, sends one prompt, waits for the reply to finish, saves a picture
// of the window and quits. Used to regenerate the README screenshot from the real app (offscreen).
#pragma once

#include <QString>

namespace peregrine::ui {
class MainWindow;
}

namespace peregrine::app {

struct ScreenshotRequest {
    QString modelPath;
    QString prompt;
    QString outputPath;
};

// Drives `window` asynchronously; the application exits with 0 once the file is written, 1 on failure.
void startScreenshotRun(peregrine::ui::MainWindow& window, const ScreenshotRequest& request);

}  // namespace peregrine::app
