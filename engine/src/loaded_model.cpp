#include "peregrine/loaded_model.h"

#include "peregrine/log.h"

namespace peregrine {

LoadedModel LoadedModel::load(const std::string& path, const ModelParams& params) {
    LoadedModel loaded;
    loaded.model = Model::load(path, params);
    loaded.vocab = Vocab::from_gguf(loaded.model->gguf());
    if (loaded.vocab->n_tokens() != loaded.model->info().n_vocab) {
        throw UnsupportedModelError(path + ": the tokenizer has " + std::to_string(loaded.vocab->n_tokens()) +
                                    " tokens but token_embd.weight has " +
                                    std::to_string(loaded.model->info().n_vocab) + " rows");
    }
    loaded.chat_template = std::make_shared<const ChatTemplate>(ChatTemplate::for_model(loaded.model->gguf()));
    return loaded;
}

std::vector<int32_t> LoadedModel::tokenize_prompt(std::string_view text) const {
    return vocab->tokenize(text, /*add_special=*/true, /*parse_special=*/true);
}

std::vector<int32_t> LoadedModel::tokenize_chat(const std::vector<ChatMessage>& messages,
                                                bool add_generation_prompt) const {
    if (!model->gguf().has("tokenizer.chat_template")) {
        log_warn("{} has no chat template; formatting the conversation as ChatML", model->gguf().path());
    }
    const auto token_text = [&](int32_t id) { return id >= 0 ? vocab->token_text(id) : std::string(); };
    const RenderedPrompt rendered =
        chat_template->render(messages, add_generation_prompt, token_text(vocab->bos()), token_text(vocab->eos()));
    std::vector<TextFragment> fragments;
    fragments.reserve(rendered.segments.size());
    for (const auto& segment : rendered.segments) {
        fragments.push_back({segment.text, /*parse_special=*/!segment.from_message_content});
    }
    std::vector<int32_t> ids = vocab->tokenize_fragments(fragments, /*add_special=*/true);
    // Templates that print {{ bos_token }} themselves would otherwise start with two BOS tokens.
    if (ids.size() >= 2 && vocab->bos() >= 0 && ids[0] == vocab->bos() && ids[1] == vocab->bos()) {
        ids.erase(ids.begin());
    }
    return ids;
}

}  // namespace peregrine
