// The built-in template texts (models/templates/*.jinja, embedded).
#pragma once

#include <string_view>

#include "peregrine/chat_template.h"

namespace peregrine::chat {

// The text of models/templates/<family>.jinja; Unknown gives ChatML's.
std::string_view builtin_template_text(ChatTemplateFamily family);

}  // namespace peregrine::chat
