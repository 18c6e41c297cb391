// `peregrine-cli quantize IN.gguf OUT.gguf TYPE`: rewrites a model of F32/F16/BF16 weights in a quantized
// type (or type mix), choosing each tensor's type as llama-quantize does (peregrine/quantize_model.h).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "commands.h"
#include "peregrine/error.h"
#include "peregrine/quantize_model.h"

namespace peregrine::cli {
namespace {

struct QuantizeOptions {
    std::string in_path;
    std::string out_path;
    std::string type;
    int n_threads = 0;
};

int run(const QuantizeOptions& opt) {
    const auto scheme = parse_quant_scheme(opt.type);
    if (!scheme) throw InvalidRequestError("unknown type '" + opt.type + "' (use " + quant_scheme_list() + ")");
    const auto start = std::chrono::steady_clock::now();
    uint64_t bytes_in = 0;
    quantize_model(opt.in_path, opt.out_path, *scheme, opt.n_threads, [&](const QuantizeProgress& p) {
        bytes_in = p.bytes_total;
        std::fprintf(stderr, "\r[%3zu/%zu] %5.1f%%  %-32s -> %-5s", p.tensor_index + 1, p.tensor_count,
                     100.0 * static_cast<double>(p.bytes_done) / static_cast<double>(std::max<uint64_t>(p.bytes_total, 1)),
                     p.name.c_str(), std::string(tensor_type_name(p.type)).c_str());
        if (p.tensor_index + 1 == p.tensor_count) std::fputc('\n', stderr);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %s from %s (%.1f MB of tensors) in %.1f s\n", opt.out_path.c_str(),
                std::string(quant_scheme_name(*scheme)).c_str(), opt.in_path.c_str(), bytes_in / 1e6, seconds);
    return 0;
}

}  // namespace

CommandRunner add_quantize_command(CLI::App& app) {
    auto opt = std::make_shared<QuantizeOptions>();
    auto* cmd = app.add_subcommand("quantize", "Convert a GGUF of F32/F16/BF16 weights to a quantized type");
    cmd->add_option("input", opt->in_path, "Source GGUF (F32, F16 or BF16 weights)")->required();
    cmd->add_option("output", opt->out_path, "GGUF to write")->required();
    cmd->add_option("type", opt->type, "Target: " + quant_scheme_list())->required();
    cmd->add_option("-t,--threads", opt->n_threads, "Threads (0: all cores)")->capture_default_str();
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
