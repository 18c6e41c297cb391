// `peregrine-cli tokenize`: show how the model's tokenizer splits a text.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "commands.h"
#include "peregrine/gguf.h"
#include "peregrine/vocab.h"

namespace peregrine::cli {
namespace {

struct TokenizeOptions {
    std::string model_path;
    std::string text;
    bool raw = false;
    bool json = false;
    bool pieces = false;
};

std::string hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

int run(const TokenizeOptions& opt) {
    // Only the tokenizer is needed, so vocabulary-only GGUF files work too.
    const auto file = gguf::GgufFile::open(opt.model_path);
    const auto vocab = Vocab::from_gguf(*file);
    // Default: as a prompt is tokenized (BOS as the model says, control-token text parsed).
    // --raw: no BOS/EOS, control-token text stays text.
    const bool special = !opt.raw;
    const std::vector<int32_t> ids = vocab->tokenize(opt.text, special, special);

    if (opt.json) {
        nlohmann::json pieces = nlohmann::json::array();
        nlohmann::json pieces_hex = nlohmann::json::array();
        for (int32_t id : ids) {
            const std::string piece = vocab->token_to_piece(id, true);
            pieces.push_back(piece);
            pieces_hex.push_back(hex(piece));
        }
        nlohmann::json out = {{"ids", ids}, {"pieces", pieces}, {"pieces_hex", pieces_hex},
                              {"mode", opt.raw ? "raw" : "with_special"}};
        std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else if (opt.pieces) {
        for (int32_t id : ids) {
            std::printf("%6d -> '%s'\n", id, vocab->token_to_piece(id, true).c_str());
        }
    } else {
        std::string line;
        for (size_t i = 0; i < ids.size(); ++i) {
            if (i) line += ' ';
            line += std::to_string(ids[i]);
        }
        std::puts(line.c_str());
    }
    return 0;
}

}  // namespace

CommandRunner add_tokenize_command(CLI::App& app) {
    auto opt = std::make_shared<TokenizeOptions>();
    auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text (BOS as the model says)");
    cmd->add_option("-m,--model", opt->model_path, "GGUF model or vocabulary file")->required();
    cmd->add_option("-p,--prompt", opt->text, "Text to tokenize")->required();
    cmd->add_flag("--raw", opt->raw, "No BOS/EOS and control-token text is not parsed");
    cmd->add_flag("--pieces", opt->pieces, "One line per token: id and piece");
    cmd->add_flag("--json", opt->json, "Print {\"ids\": [...], \"pieces\": [...]} as JSON");
    return [opt] { return run(*opt); };
}

}  // namespace peregrine::cli
