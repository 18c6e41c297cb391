// `peregrine-cli make-model`: a GGUF with a real model's shapes and random weights, for benchmarks.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "commands.h"
#include "peregrine/error.h"
#include "peregrine/gguf.h"
#include "peregrine/quantize_model.h"
#include "peregrine/random_model.h"

namespace peregrine::cli {
namespace {

struct MakeModelOptions {
    std::string preset = "tinyllama-1.1b";
    std::string tokenizer_path;
    std::string out_path;
    std::string type = "q4_0";
    uint64_t seed = 42;
    int n_layer = 0;
    int n_embd = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int n_ff = 0;
};

QuantScheme parse_scheme(const std::string& name) {
    if (const auto scheme = parse_quant_scheme(name)) return *scheme;
    throw InvalidRequestError("unknown weight type '" + name + "' (use " + quant_scheme_list() + ")");
}

int run(const MakeModelOptions& opt) {
    RandomModelSpec spec = random_model_preset(opt.preset);
    spec.scheme = parse_scheme(opt.type);
    spec.seed = opt.seed;
    if (opt.n_layer > 0) spec.n_layer = opt.n_layer;
    if (opt.n_embd > 0) spec.n_embd = opt.n_embd;
    if (opt.n_head > 0) spec.n_head = opt.n_head;
    if (opt.n_head_kv > 0) spec.n_head_kv = opt.n_head_kv;
    if (opt.n_ff > 0) spec.n_ff = opt.n_ff;
    const auto tokenizer = gguf::GgufFile::open(opt.tokenizer_path);
    write_random_model(spec, *tokenizer, opt.out_path, [](size_t done, size_t total) {
        std::fprintf(stderr, "\rwriting tensors: %zu/%zu", done, total);
        if (done == total) std::fputc('\n', stderr);
    });
    std::printf("%s: %s shapes, %s weights, tokenizer from %s\n", opt.out_path.c_str(), opt.preset.c_str(),
                opt.type.c_str(), opt.tokenizer_path.c_str());
    return 0;
}

}  // namespace

CommandRunner add_make_model_command(CLI::App& app) {
    auto opt = std::make_shared<MakeModelOptions>();
    auto* cmd = app.add_subcommand("make-model", "Write a GGUF with a real model's shapes and random weights");
    std::string presets;
    for (const auto& n : random_model_preset_names()) presets += (presets.empty() ? "" : ", ") + n;
    cmd->add_option("--preset", opt->preset, "Shapes: " + presets)->capture_default_str();
    cmd->add_option("--tokenizer", opt->tokenizer_path, "GGUF whose tokenizer to copy")->required();
    cmd->add_option("-o,--output", opt->out_path, "Output GGUF file")->required();
    cmd->add_option("--type", opt->type,
                    "Weight type of the matrices (" + quant_scheme_list() + "; the _M types mix like llama-quantize)")
        ->capture_default_str();
    cmd->add_option("--seed", opt->seed, "Seed of the random weights")->capture_default_str();
    // Overrides for small test models with a preset's architecture and tokenizer.
    cmd->add_option("--layers", opt->n_layer, "Override the number of layers");
    cmd->add_option("--embd", opt->n_embd, "Override the embedding width");
    cmd->add_option("--heads", opt->n_head, "Override the number of attention heads");
    cmd->add_option("--kv-heads", opt->n_head_kv, "Override the number of KV heads");
    cmd->add_option("--ff", opt->n_ff, "Override the feed-forward width");
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
