// `peregrine-cli inspect`: what a GGUF model is and what it needs to run.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "commands.h"
#include "peregrine/loaded_model.h"

namespace peregrine::cli {
namespace {

struct InspectOptions {
    std::string model_path;
    int n_ctx = 0;
    bool json = false;
};

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
    return buf;
}

int run(const InspectOptions& opt) {
    const LoadedModel loaded = LoadedModel::load(opt.model_path);
    const ModelInfo& info = loaded.model->info();
    const int n_ctx = opt.n_ctx > 0 ? opt.n_ctx : info.n_ctx_train;
    const size_t kv_bytes = loaded.model->kv_cache_bytes(n_ctx);
    const size_t total = info.weight_bytes + kv_bytes;
    const Vocab& vocab = *loaded.vocab;
    const std::string tokenizer = std::string(vocab.kind() == VocabKind::SPM ? "SPM" : "BPE") + " (" +
                                  std::string(vocab.pre()) + ")";
    const std::string family(chat_template_family_name(loaded.chat_template->family()));

    if (opt.json) {
        nlohmann::json out = {
            {"file", opt.model_path},
            {"architecture", info.architecture},
            {"name", info.name},
            {"file_type", info.file_type},
            {"parameters", info.n_params},
            {"weight_bytes", info.weight_bytes},
            {"hyperparameters",
             {{"n_vocab", info.n_vocab}, {"n_ctx_train", info.n_ctx_train}, {"n_embd", info.n_embd},
              {"n_layer", info.n_layer}, {"n_head", info.n_head}, {"n_head_kv", info.n_head_kv},
              {"head_dim", info.head_dim}, {"n_ff", info.n_ff}, {"n_rot", info.n_rot},
              {"rope_type", info.rope_type == RopeType::NeoX ? "neox" : "normal"},
              {"rope_freq_base", info.rope_freq_base}, {"rope_freq_scale", info.rope_freq_scale},
              {"norm_eps", info.norm_eps}, {"tied_output", info.tied_output}, {"qkv_bias", info.qkv_bias}}},
            {"tensor_types", info.tensor_type_counts},
            {"tokenizer", {{"kind", vocab.kind() == VocabKind::SPM ? "SPM" : "BPE"}, {"pre", vocab.pre()},
                           {"n_tokens", vocab.n_tokens()}, {"bos", vocab.bos()}, {"eos", vocab.eos()},
                           {"add_bos", vocab.add_bos()}}},
            {"chat_template_family", family},
            {"memory", {{"n_ctx", n_ctx}, {"kv_cache_bytes", kv_bytes}, {"total_bytes", total}}},
        };
        std::puts(out.dump(2).c_str());
        return 0;
    }
    std::printf("file:            %s\n", opt.model_path.c_str());
    std::printf("architecture:    %s%s%s\n", info.architecture.c_str(), info.name.empty() ? "" : "  name: ",
                info.name.c_str());
    std::printf("parameters:      %llu (%s of weights, file type %s)\n",
                static_cast<unsigned long long>(info.n_params), human_bytes(info.weight_bytes).c_str(),
                info.file_type.c_str());
    std::printf("layers:          %d   embedding %d   feed-forward %d   vocab %d\n", info.n_layer, info.n_embd,
                info.n_ff, info.n_vocab);
    std::printf("attention:       %d heads, %d KV heads (%s), head dim %d\n", info.n_head, info.n_head_kv,
                info.n_head == info.n_head_kv ? "MHA" : (info.n_head_kv == 1 ? "MQA" : "GQA"), info.head_dim);
    std::printf("rope:            %s, %d dims, base %g, scale %g\n",
                info.rope_type == RopeType::NeoX ? "neox" : "normal", info.n_rot, info.rope_freq_base,
                info.rope_freq_scale);
    std::printf("norm eps:        %g   output: %s%s\n", info.norm_eps, info.tied_output ? "tied" : "separate",
                info.qkv_bias ? "   qkv bias" : "");
    std::printf("context:         %d trained\n", info.n_ctx_train);
    std::printf("tensor types:   ");
    for (const auto& [type, count] : info.tensor_type_counts) std::printf(" %s x%d", type.c_str(), count);
    std::printf("\n");
    std::printf("tokenizer:       %s, %d tokens, BOS %d%s, EOS %d\n", tokenizer.c_str(), vocab.n_tokens(),
                vocab.bos(), vocab.add_bos() ? " (added)" : "", vocab.eos());
    std::printf("chat template:   %s\n", family.c_str());
    std::printf("memory at %d ctx: %s weights + %s KV cache (f16) = %s\n", n_ctx,
                human_bytes(info.weight_bytes).c_str(), human_bytes(kv_bytes).c_str(), human_bytes(total).c_str());
    return 0;
}

}  // namespace

CommandRunner add_inspect_command(CLI::App& app) {
    auto opt = std::make_shared<InspectOptions>();
    auto* cmd = app.add_subcommand("inspect", "Describe a GGUF model and the memory it needs");
    cmd->add_option("model", opt->model_path, "GGUF model file")->required();
    cmd->add_option("-c,--ctx-size", opt->n_ctx, "Context length for the memory estimate (0: the model's)");
    cmd->add_flag("--json", opt->json, "Print JSON");
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
