// peregrine-cli subcommands. Each registers its options on the parent app and returns the function that
// runs it once the command line is parsed; a run returns the process exit code.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace peregrine::cli {

using CommandRunner = std::function<int()>;

CommandRunner add_generate_command(CLI::App& app);
CommandRunner add_tokenize_command(CLI::App& app);
CommandRunner add_inspect_command(CLI::App& app);
CommandRunner add_bench_command(CLI::App& app);
CommandRunner add_make_model_command(CLI::App& app);
CommandRunner add_quantize_command(CLI::App& app);
CommandRunner add_serve_command(CLI::App& app);
CommandRunner add_pull_command(CLI::App& app);

// Routes engine log messages to spdlog; verbose shows debug messages.
void setup_logging(bool verbose);

}  // namespace peregrine::cli
