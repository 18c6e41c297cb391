// Prompt-format family detection from the template text. The markers are the control strings each
// format writes, checked from the most specific to the least (a Phi-3 template also names
// eos_token, so <|end|> must be looked at before Zephyr's rule).
#include <string_view>

#include "peregrine/chat_template.h"

namespace peregrine {

std::string_view chat_template_family_name(ChatTemplateFamily family) {
    switch (family) {
        case ChatTemplateFamily::ChatML: return "chatml";
        case ChatTemplateFamily::Llama2: return "llama2";
        case ChatTemplateFamily::Llama3: return "llama3";
        case ChatTemplateFamily::Mistral: return "mistral";
        case ChatTemplateFamily::Zephyr: return "zephyr";
        case ChatTemplateFamily::Gemma: return "gemma";
        case ChatTemplateFamily::Phi3: return "phi3";
        case ChatTemplateFamily::Unknown: return "unknown";
    }
    return "unknown";
}

ChatTemplateFamily detect_chat_template_family(std::string_view source) {
    const auto has = [&](std::string_view marker) { return source.find(marker) != std::string_view::npos; };
    if (has("<|im_start|>")) return ChatTemplateFamily::ChatML;
    if (has("<|start_header_id|>")) return ChatTemplateFamily::Llama3;
    if (has("<start_of_turn>")) return ChatTemplateFamily::Gemma;
    if (has("<|user|>")) {
        if (has("<|end|>")) return ChatTemplateFamily::Phi3;
        if (has("</s>") || has("eos_token")) return ChatTemplateFamily::Zephyr;
    }
    if (has("[INST]")) return has("<<SYS>>") ? ChatTemplateFamily::Llama2 : ChatTemplateFamily::Mistral;
    return ChatTemplateFamily::Unknown;
}

}  // namespace peregrine
