#include "peregrine/log.h"

#include <cstdio>
#include <mutex>

namespace peregrine {
namespace {

std::mutex g_log_mutex;
LogCallback g_log_callback;

void default_log(LogLevel level, std::string_view message) {
    if (level < LogLevel::Warn) return;
    std::fprintf(stderr, "peregrine: %s: %.*s\n", level == LogLevel::Warn ? "warning" : "error",
                 static_cast<int>(message.size()), message.data());
}

}  // namespace

void set_log_callback(LogCallback callback) {
    std::lock_guard lock(g_log_mutex);
    g_log_callback = std::move(callback);
}

void log_message(LogLevel level, std::string_view message) {
    LogCallback callback;
    {
        std::lock_guard lock(g_log_mutex);
        callback = g_log_callback;
    }
    if (callback) {
        callback(level, message);
    } else {
        default_log(level, message);
    }
}

}  // namespace peregrine
