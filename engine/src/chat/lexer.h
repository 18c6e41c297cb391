// Template lexer: splits a Jinja source into text and tag tokens, applying Jinja's whitespace rules
// with the settings transformers uses (trim_blocks = lstrip_blocks = true, one trailing newline of
// the template dropped, "\r\n" and "\r" read as "\n"). Comments disappear here and {% raw %} blocks
// become plain text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/budget.h"

namespace peregrine::chat {

enum class TokenKind {
    Text,           // literal template text, whitespace control already applied
    VariableBegin,  // {{
    VariableEnd,    // }}
    BlockBegin,     // {%
    BlockEnd,       // %}
    Name,
    String,         // text holds the decoded value (escapes resolved)
    Integer,
    Float,
    Operator,       // text holds the operator: + - / // * % ** ~ [ ] ( ) { } == != > >= < <= = . : | , ;
    End,
};

struct Token {
    TokenKind kind = TokenKind::End;
    std::string text;
    SourcePos pos;
    int64_t int_value = 0;
    double float_value = 0.0;
};

// Throws peregrine::Error "chat template: syntax error at line L:C: ..." on malformed input.
std::vector<Token> tokenize(std::string_view source);

// The same newline handling Jinja applies before lexing (exposed for tests).
std::string normalize_template_source(std::string_view source);

[[noreturn]] void throw_syntax_error(SourcePos pos, std::string_view message);

}  // namespace peregrine::chat
