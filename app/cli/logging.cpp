#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "peregrine/log.h"

namespace peregrine::cli {

void setup_logging(bool verbose) {
    // Logs go to stderr so stdout carries only the command's output (text, ids, JSON).
    auto logger = spdlog::stderr_color_mt("engine");
    logger->set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] %v");
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
    spdlog::set_default_logger(logger);
    set_log_callback([logger](LogLevel level, std::string_view message) {
        switch (level) {
            case LogLevel::Debug: logger->debug("{}", message); break;
            case LogLevel::Info: logger->info("{}", message); break;
            case LogLevel::Warn: logger->warn("{}", message); break;
            case LogLevel::Error: logger->error("{}", message); break;
        }
    });
}

}  // namespace peregrine::cli
