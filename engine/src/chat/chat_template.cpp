// The public ChatTemplate: parse once, render per request, choose a template for a model.
#include "peregrine/chat_template.h"

#include <array>

#include "chat/builtin_templates.h"
#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/parser.h"
#include "peregrine/gguf.h"
#include "peregrine/log.h"

namespace peregrine {

std::string RenderedPrompt::text() const {
    std::string out;
    for (const PromptSegment& segment : segments) out += segment.text;
    return out;
}

ChatTemplate::ChatTemplate(std::shared_ptr<const chat::Program> program, ChatTemplateFamily family,
                           ChatTemplateLimits limits)
    : program_(std::move(program)), family_(family), limits_(limits) {}

ChatTemplate ChatTemplate::parse(std::string source, ChatTemplateLimits limits) {
    const ChatTemplateFamily family = detect_chat_template_family(source);
    auto program = chat::parse_program(std::move(source), limits);
    return ChatTemplate(std::move(program), family, limits);
}

std::string_view ChatTemplate::builtin_source(ChatTemplateFamily family) { return chat::builtin_template_text(family); }

ChatTemplate ChatTemplate::builtin(ChatTemplateFamily family) {
    // Parsed once per process; the texts are constants, so a failure here is a bug the tests catch.
    static const auto programs = [] {
        std::array<std::shared_ptr<const chat::Program>, 8> all;
        for (int i = 0; i <= static_cast<int>(ChatTemplateFamily::Unknown); ++i)
            all[static_cast<size_t>(i)] = chat::parse_program(
                std::string(chat::builtin_template_text(static_cast<ChatTemplateFamily>(i))), ChatTemplateLimits{});
        return all;
    }();
    const ChatTemplateFamily effective = family == ChatTemplateFamily::Unknown ? ChatTemplateFamily::ChatML : family;
    return ChatTemplate(programs[static_cast<size_t>(effective)], effective, ChatTemplateLimits{});
}

const std::string& ChatTemplate::source() const { return program_->source; }

ChatTemplate ChatTemplate::for_model(const gguf::GgufFile& file) {
    constexpr std::string_view kKey = "tokenizer.chat_template";
    const gguf::Value* value = file.find(kKey);
    if (value == nullptr) {
        // Base models have no template and most never chat, so this is only information here;
        // LoadedModel::tokenize_chat warns when the fallback is actually used for a chat.
        log_info("chat template: {} has no {}; using the built-in ChatML template", file.path(), kKey);
        return builtin(ChatTemplateFamily::ChatML);
    }
    if (value->type != gguf::ValueType::STRING) {
        log_warn("chat template: {} in {} is a {}, not a string; using the built-in ChatML template", kKey,
                 file.path(), gguf::value_type_name(value->type));
        return builtin(ChatTemplateFamily::ChatML);
    }
    const std::string& source = std::get<std::string>(value->data);
    try {
        ChatTemplate tmpl = parse(source);
        // A template can parse and still fail on every conversation (an unsupported method, say).
        // Rendering one user turn finds that now rather than on the first request. The template
        // refusing that conversation itself (raise_exception) is its right and not a failure.
        try {
            tmpl.render({ChatMessage{"user", "Hello"}}, true, "<s>", "</s>");
        } catch (const InvalidRequestError&) {
        }
        return tmpl;
    } catch (const Error& error) {
        const ChatTemplateFamily detected = detect_chat_template_family(source);
        const ChatTemplateFamily fallback = detected == ChatTemplateFamily::Unknown ? ChatTemplateFamily::ChatML : detected;
        log_warn("chat template: the {} in {} cannot be used ({}); using the built-in {} template", kKey, file.path(),
                 error.what(), chat_template_family_name(fallback));
        return builtin(fallback);
    }
}

RenderedPrompt ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                    const std::string& bos_token, const std::string& eos_token) const {
    using chat::Dict;
    using chat::Text;
    using chat::Value;

    // The variables transformers' apply_chat_template passes. Only message content is tainted.
    Value::List message_values;
    message_values.reserve(messages.size());
    for (const ChatMessage& message : messages) {
        Dict m;
        m.set("role", Value::plain(message.role));
        m.set("content", Value::string(Text(message.content, /*tainted=*/true)));
        message_values.push_back(Value::dict(std::move(m)));
    }
    Dict globals = chat::global_functions();
    globals.set("messages", Value::list(std::move(message_values)));
    globals.set("add_generation_prompt", Value::boolean(add_generation_prompt));
    globals.set("bos_token", Value::plain(bos_token));
    globals.set("eos_token", Value::plain(eos_token));
    globals.set("tools", Value::none());
    globals.set("documents", Value::none());

    chat::Interpreter interpreter(*program_, limits_);
    const Text text = interpreter.render(std::move(globals));

    RenderedPrompt prompt;
    text.for_each_run([&](std::string_view run, bool tainted) {
        if (!run.empty()) prompt.segments.push_back(PromptSegment{std::string(run), tainted});
    });
    return prompt;
}

}  // namespace peregrine
