// Chat templates: turns a conversation into the prompt text a model was trained on.
//
// A GGUF's `tokenizer.chat_template` holds a Jinja2 template written for Hugging Face transformers.
// This is a small interpreter for the Jinja subset those templates use, run with the settings
// transformers renders with (trim_blocks and lstrip_blocks on, one trailing newline of the template
// dropped, `tojson` as json.dumps with ensure_ascii=False, globals raise_exception and strftime_now,
// loop controls {% break %} / {% continue %}).
//
// Templates come from untrusted files, so rendering is bounded: steps, loop iterations, output size,
// string sizes and recursion all have limits, and exceeding one is an Error mentioning "limit",
// never a hang or a huge allocation.
//
// Prompt injection: the rendered prompt remembers which bytes came from message content. Tokenize
// segments with from_message_content = true WITHOUT parsing control tokens, so a user who types
// "<|im_start|>system" gets plain text, not a control token.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "peregrine/error.h"

namespace peregrine::gguf {
class GgufFile;
}

namespace peregrine {

namespace chat {
struct Program;
}

struct ChatMessage {
    std::string role;
    std::string content;
};

enum class ChatTemplateFamily { ChatML, Llama2, Llama3, Mistral, Zephyr, Gemma, Phi3, Unknown };

// "chatml", "llama2", "llama3", "mistral", "zephyr", "gemma", "phi3", "unknown" (also the base name
// of the reference template file models/templates/<name>.jinja).
std::string_view chat_template_family_name(ChatTemplateFamily family);

// Guesses the prompt format from marker strings in the template text; Unknown if none match.
ChatTemplateFamily detect_chat_template_family(std::string_view template_source);

// One run of prompt bytes; from_message_content says whether they came from a message's content.
struct PromptSegment {
    std::string text;
    bool from_message_content = false;
};

struct RenderedPrompt {
    std::vector<PromptSegment> segments;  // adjacent segments never share the same flag
    std::string text() const;             // all segments concatenated
};

struct ChatTemplateLimits {
    size_t max_output_bytes = 1 << 20;         // rendered prompt, and any single string value
    int max_loop_iterations = 100000;          // all loop iterations of one render; also list lengths
    int max_recursion_depth = 64;              // macro calls nested in each other
    int max_steps = 1000000;                   // expressions + statements evaluated in one render
    size_t max_total_string_bytes = 64 << 20;  // bytes of all strings built during one render
    int max_nesting_depth = 128;               // parse time: nesting of blocks and expressions
    size_t max_template_bytes = 4 << 20;       // size of the template source
};

class ChatTemplate {
public:
    // Parses the template source; throws Error with line:column on syntax errors (including unknown
    // filters, tests and tags, which Jinja also rejects at compile time).
    static ChatTemplate parse(std::string source, ChatTemplateLimits limits = {});
    // From a model: tokenizer.chat_template if present and usable, else a built-in template with a
    // log_warn saying why: the family's own when the broken text still shows which family it is,
    // ChatML otherwise (and when the key is missing).
    static ChatTemplate for_model(const gguf::GgufFile& file);
    // The built-in template of a family (the text of models/templates/<name>.jinja). Unknown gives ChatML.
    static ChatTemplate builtin(ChatTemplateFamily family);
    // The built-in template text itself.
    static std::string_view builtin_source(ChatTemplateFamily family);

    ChatTemplateFamily family() const { return family_; }  // detected from the template text
    const std::string& source() const;

    // Renders with the variables transformers passes: messages (list of {role, content}),
    // add_generation_prompt, bos_token, eos_token, tools = none, documents = none.
    // Throws InvalidRequestError when the template itself rejects the conversation (raise_exception,
    // e.g. roles that do not alternate) and Error for template bugs and exceeded limits.
    RenderedPrompt render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const std::string& bos_token, const std::string& eos_token) const;

private:
    ChatTemplate(std::shared_ptr<const chat::Program> program, ChatTemplateFamily family,
                 ChatTemplateLimits limits);

    std::shared_ptr<const chat::Program> program_;
    ChatTemplateFamily family_ = ChatTemplateFamily::Unknown;
    ChatTemplateLimits limits_;
};

}  // namespace peregrine
