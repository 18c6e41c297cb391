// peregrine-cli: the engine on the command line (generate, tokenize, inspect, pull).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "commands.h"

// The CMake project version, set for every target by packaging/packaging.cmake.
#ifndef PEREGRINE_VERSION
#define PEREGRINE_VERSION "unknown"
#endif

int main(int argc, char** argv) {
    CLI::App app{"Peregrine: run GGUF language models on your own machine"};
    app.require_subcommand(1);
    app.fallthrough();  // lets -v follow the subcommand
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "Show debug logs on stderr")->configurable(false);
    app.set_version_flag("--version", "peregrine-cli " PEREGRINE_VERSION);

    const auto run_generate = peregrine::cli::add_generate_command(app);
    const auto run_tokenize = peregrine::cli::add_tokenize_command(app);
    const auto run_inspect = peregrine::cli::add_inspect_command(app);
    const auto run_bench = peregrine::cli::add_bench_command(app);
    const auto run_make_model = peregrine::cli::add_make_model_command(app);
    const auto run_quantize = peregrine::cli::add_quantize_command(app);
    const auto run_serve = peregrine::cli::add_serve_command(app);
    const auto run_pull = peregrine::cli::add_pull_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    peregrine::cli::setup_logging(verbose);
    try {
        if (app.got_subcommand("generate")) return run_generate();
        if (app.got_subcommand("tokenize")) return run_tokenize();
        if (app.got_subcommand("inspect")) return run_inspect();
        if (app.got_subcommand("bench")) return run_bench();
        if (app.got_subcommand("make-model")) return run_make_model();
        if (app.got_subcommand("quantize")) return run_quantize();
        if (app.got_subcommand("serve")) return run_serve();
        if (app.got_subcommand("pull")) return run_pull();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 2;
}
