// One named spdlog logger per area of the app ("store", "engine", "picker", "ui"...), like Qt logging
// categories. All of them share the sinks of the default logger at the time they are first asked for,
// so after AppLog::install() they write to the rotating log file.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace peregrine::ui {

std::shared_ptr<spdlog::logger> uiLogger(const char* area);

}  // namespace peregrine::ui
