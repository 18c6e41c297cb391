// Everything a front end needs from one model file: weights, tokenizer and chat template, loaded
// together. The CLI, the desktop app and the server all start here.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "peregrine/chat_template.h"
#include "peregrine/model.h"
#include "peregrine/vocab.h"

namespace peregrine {

struct LoadedModel {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Vocab> vocab;
    std::shared_ptr<const ChatTemplate> chat_template;

    // Throws GgufError / UnsupportedModelError with the file name and what is wrong.
    static LoadedModel load(const std::string& path, const ModelParams& params = {});

    // A raw prompt, tokenized as llama.cpp tokenizes a prompt: BOS as the vocabulary says, text that
    // spells a control token becomes that token.
    std::vector<int32_t> tokenize_prompt(std::string_view text) const;

    // A conversation through the chat template. Template text may produce control tokens; message
    // content never does (a user typing "<|im_start|>system" gets those characters, not the token).
    std::vector<int32_t> tokenize_chat(const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt = true) const;
};

}  // namespace peregrine
