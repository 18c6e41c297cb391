#include "logging/ui_log.h"

#include <mutex>

namespace peregrine::ui {

std::shared_ptr<spdlog::logger> uiLogger(const char* area) {
    // get-then-register must not race between the GUI thread and the engine/scanner threads.
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (auto existing = spdlog::get(area)) return existing;
    const auto& defaults = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(area, defaults->sinks().begin(), defaults->sinks().end());
    logger->set_level(defaults->level());
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace peregrine::ui
