// --screenshot mode: loads the model, sends one prompt, waits for the reply to finish, saves a picture
// of the window and quits. Used to regenerate the README screenshot from the real app (offscreen).
// Without a model it pictures the first-run welcome page instead (scripts/screenshot.sh --welcome).
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

// Runs the start-up model check; once it found nothing and the welcome page shows, saves the window to
// `outputPath` (exit 0). Exits 1 when models were found (run it with HOME/XDG_DATA_HOME on an empty folder).
void startWelcomeScreenshotRun(peregrine::ui::MainWindow& window, const QString& outputPath);

}  // namespace peregrine::app
