// Engine logging goes through one process-wide callback (like llama_log_set) so the engine has no
// logging dependency of its own; the CLI and the app route it to spdlog.
#pragma once

#include <functional>
#include <string_view>
#include <fmt/format.h>

namespace peregrine {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

using LogCallback = std::function<void(LogLevel, std::string_view message)>;

// Replaces the callback; an empty callback restores the default (warnings and errors to stderr).
void set_log_callback(LogCallback callback);
void log_message(LogLevel level, std::string_view message);

template <typename... Args>
void log_debug(fmt::format_string<Args...> fmt, Args&&... args) {
    log_message(LogLevel::Debug, fmt::format(fmt, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> fmt, Args&&... args) {
    log_message(LogLevel::Info, fmt::format(fmt, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> fmt, Args&&... args) {
    log_message(LogLevel::Warn, fmt::format(fmt, std::forward<Args>(args)...));
}

}  // namespace peregrine
