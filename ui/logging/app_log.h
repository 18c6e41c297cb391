// The app's log: spdlog to a rotating file (5 files of 2 MiB) under the XDG state dir
// (~/.local/state/peregrine/logs, or $XDG_STATE_HOME/peregrine/logs), plus stderr for warnings.
// The engine's log callback is routed to the "engine" logger.
#pragma once

#include <QString>

namespace peregrine::ui {

class AppLog {
public:
    static QString folder();
    static QString filePath();
    // Safe to call more than once (tests, a second window): later calls only adjust the level.
    static void install(bool verbose = false);
};

}  // namespace peregrine::ui
