// Template parser: tokens -> Program. Follows Jinja's grammar and operator precedence
// (jinja2/parser.py): or < and < not < comparisons < + - < ~ < * / // % < ** < unary < postfix,
// with filters and tests binding to the unary operand, `a if c else b` lowest.
#pragma once

#include <memory>
#include <string>

#include "chat/ast.h"
#include "peregrine/chat_template.h"

namespace peregrine::chat {

// Throws peregrine::Error "chat template: syntax error at line L:C: ..." (also for unknown filters,
// tests and tags, and for nesting beyond limits.max_nesting_depth).
std::shared_ptr<const Program> parse_program(std::string source, const ChatTemplateLimits& limits);

}  // namespace peregrine::chat
