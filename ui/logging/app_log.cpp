#include "logging/app_log.h"

#include <QDir>
#include <QStandardPaths>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "logging/ui_log.h"
#include "peregrine/log.h"

namespace peregrine::ui {

QString AppLog::folder() {
    QString state = qEnvironmentVariable("XDG_STATE_HOME");
    if (state.isEmpty() || QStandardPaths::isTestModeEnabled()) {
        // Qt 6.4 has no StateLocation; this is the XDG default. Test mode keeps tests out of ~/.local/state.
        state = QStandardPaths::isTestModeEnabled()
                    ? QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + "/state"
                    : QDir::homePath() + "/.local/state";
    }
    return state + "/peregrine/logs";
}

QString AppLog::filePath() { return folder() + "/peregrine.log"; }

void AppLog::install(bool verbose) {
    static bool installed = false;
    const auto level = verbose ? spdlog::level::debug : spdlog::level::info;
    if (installed) {
        spdlog::set_level(level);
        return;
    }
    installed = true;
    // Area loggers made before this point write only to stderr; drop them so the next uiLogger() call
    // makes them again with the file sink.
    spdlog::drop_all();
    std::vector<spdlog::sink_ptr> sinks;
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_level(spdlog::level::warn);
    sinks.push_back(console);
    QDir().mkpath(folder());
    try {
        sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(filePath().toStdString(),
                                                                               2 * 1024 * 1024, 5));
    } catch (const spdlog::spdlog_ex& error) {
        console->log(spdlog::details::log_msg("app", spdlog::level::warn,
                                              std::string("no log file: ") + error.what()));
    }
    auto app = std::make_shared<spdlog::logger>("app", sinks.begin(), sinks.end());
    app->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n] [%l] %v");
    app->set_level(level);
    app->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(app);
    spdlog::flush_every(std::chrono::seconds(2));

    auto engine = uiLogger("engine");
    set_log_callback([engine](LogLevel level, std::string_view message) {
        switch (level) {
            case LogLevel::Debug: engine->debug("{}", message); break;
            case LogLevel::Info: engine->info("{}", message); break;
            case LogLevel::Warn: engine->warn("{}", message); break;
            case LogLevel::Error: engine->error("{}", message); break;
        }
    });
    app->info("Peregrine starting; log file {}", filePath().toStdString());
}

}  // namespace peregrine::ui
