#include "chat/lexer.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>

namespace peregrine::chat {

void throw_syntax_error(SourcePos pos, std::string_view message) {
    throw Error(fmt::format("chat template: syntax error at line {}:{}: {}", pos.line, pos.column, message));
}

std::string normalize_template_source(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    // Jinja's keep_trailing_newline = False: exactly one final newline is dropped.
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool all_python_space(std::string_view s) {
    return !s.empty() && lstrip_offset(s) == s.size();
}

class Lexer {
public:
    explicit Lexer(std::string_view source) : src_(source) {}

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;  // Jinja's lstrip rule also applies at the very start
        while (pos < src_.size()) {
            const size_t tag = find_tag(pos);
            if (tag == std::string_view::npos) {
                emit_text(pos, src_.substr(pos));
                break;
            }
            const char kind = src_[tag + 1];
            const char sign = sign_at(tag + 2);
            size_t raw_body = 0;
            const bool raw = kind == '%' && match_raw_begin(tag, raw_body);

            std::string_view text = src_.substr(pos, tag - pos);
            if (sign == '-') {
                text = text.substr(0, rstrip_offset(text));
            } else if (sign != '+' && kind != '{') {
                text = lstrip_block_line(text, line_starting);
            }
            emit_text(pos, text);

            if (raw) {
                pos = lex_raw(tag, raw_body, line_starting);
            } else if (kind == '#') {
                pos = skip_comment(tag, sign, line_starting);
            } else {
                pos = lex_tag(tag, kind, sign, line_starting);
            }
        }
        tokens_.push_back(Token{TokenKind::End, {}, pos_at(src_.size())});
        return std::move(tokens_);
    }

private:
    // Tokens come in source order, so a cursor that only moves forward keeps this linear overall.
    SourcePos pos_at(size_t offset) const {
        if (offset < cursor_offset_) cursor_offset_ = 0, cursor_ = SourcePos{};
        for (; cursor_offset_ < offset && cursor_offset_ < src_.size(); ++cursor_offset_) {
            const unsigned char c = static_cast<unsigned char>(src_[cursor_offset_]);
            if (c == '\n') {
                ++cursor_.line;
                cursor_.column = 1;
            } else if ((c & 0xC0) != 0x80) {
                ++cursor_.column;
            }
        }
        return cursor_;
    }

    [[noreturn]] void fail(size_t offset, std::string_view message) const { throw_syntax_error(pos_at(offset), message); }

    char sign_at(size_t i) const {
        return (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ? src_[i] : 0;
    }

    bool starts_with(size_t i, std::string_view s) const { return src_.substr(i, s.size()) == s; }

    size_t skip_python_space(size_t i) const { return i + lstrip_offset(src_.substr(i)); }

    size_t find_tag(size_t from) const {
        for (size_t i = src_.find('{', from); i != std::string_view::npos; i = src_.find('{', i + 1)) {
            if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
        }
        return std::string_view::npos;
    }

    // lstrip_blocks: spaces and tabs between the start of a line and a block or comment tag go.
    static std::string_view lstrip_block_line(std::string_view text, bool line_starting) {
        const size_t newline = text.rfind('\n');
        const size_t line_begin = newline == std::string_view::npos ? 0 : newline + 1;
        if ((line_begin > 0 || line_starting) && all_python_space(text.substr(line_begin)))
            return text.substr(0, line_begin);
        return text;
    }

    void emit_text(size_t offset, std::string_view text) {
        if (text.empty()) return;
        tokens_.push_back(Token{TokenKind::Text, std::string(text), pos_at(offset)});
    }

    // {%[-+]? raw [-]%}: sets `body` to the first byte after the tag.
    bool match_raw_begin(size_t tag, size_t& body) const {
        size_t i = tag + 2 + (sign_at(tag + 2) ? 1 : 0);
        i = skip_python_space(i);
        if (!starts_with(i, "raw")) return false;
        i = skip_python_space(i + 3);
        if (starts_with(i, "-%}")) {
            body = skip_python_space(i + 3);
            return true;
        }
        if (starts_with(i, "%}")) {
            body = i + 2;
            return true;
        }
        return false;
    }

    // Finds {%[-+]? endraw [+-]?%} after `body`; the raw text becomes one Text token.
    size_t lex_raw(size_t tag, size_t body, bool& line_starting) {
        line_starting = body > 0 && src_[body - 1] == '\n';
        for (size_t i = src_.find("{%", body); i != std::string_view::npos; i = src_.find("{%", i + 1)) {
            const char sign = sign_at(i + 2);
            size_t j = skip_python_space(i + 2 + (sign ? 1 : 0));
            if (!starts_with(j, "endraw")) continue;
            j = skip_python_space(j + 6);
            size_t end = 0;
            if (starts_with(j, "+%}")) {
                end = j + 3;
            } else if (starts_with(j, "-%}")) {
                end = skip_python_space(j + 3);
            } else if (starts_with(j, "%}")) {
                end = j + 2;
                if (end < src_.size() && src_[end] == '\n') ++end;
            } else {
                continue;
            }
            std::string_view text = src_.substr(body, i - body);
            if (sign == '-') text = text.substr(0, rstrip_offset(text));
            else if (sign != '+') text = lstrip_block_line(text, line_starting);
            emit_text(body, text);
            line_starting = src_[end - 1] == '\n';
            return end;
        }
        fail(tag, "missing end of raw directive");
    }

    size_t skip_comment(size_t tag, char sign, bool& line_starting) {
        const size_t content = tag + 2 + (sign ? 1 : 0);
        const size_t close = src_.find("#}", content);
        if (close == std::string_view::npos) fail(tag, "missing end of comment tag");
        size_t end = close + 2;
        const char end_sign = close > content ? sign_at(close - 1) : 0;
        if (end_sign == '-') {
            end = skip_python_space(end);
        } else if (end_sign != '+' && end < src_.size() && src_[end] == '\n') {
            ++end;  // trim_blocks
        }
        line_starting = src_[end - 1] == '\n';
        return end;
    }

    size_t lex_tag(size_t tag, char kind, char sign, bool& line_starting) {
        const bool block = kind == '%';
        tokens_.push_back(Token{block ? TokenKind::BlockBegin : TokenKind::VariableBegin, {}, pos_at(tag)});
        std::vector<char> closers;  // brackets must balance before an end tag counts
        size_t i = tag + 2 + (sign ? 1 : 0);
        while (true) {
            if (i >= src_.size()) fail(tag, block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
            if (closers.empty()) {
                size_t end = 0;
                if (block && starts_with(i, "+%}")) {
                    end = i + 3;
                } else if (block && starts_with(i, "-%}")) {
                    end = skip_python_space(i + 3);
                } else if (block && starts_with(i, "%}")) {
                    end = i + 2;
                    if (end < src_.size() && src_[end] == '\n') ++end;  // trim_blocks
                } else if (!block && starts_with(i, "-}}")) {
                    end = skip_python_space(i + 3);
                } else if (!block && starts_with(i, "}}")) {
                    end = i + 2;
                }
                if (end != 0) {
                    tokens_.push_back(Token{block ? TokenKind::BlockEnd : TokenKind::VariableEnd, {}, pos_at(i)});
                    line_starting = src_[end - 1] == '\n';
                    return end;
                }
            }
            const size_t after_space = skip_python_space(i);
            if (after_space > i) {
                i = after_space;
                continue;
            }
            i = lex_expression_token(i, closers);
        }
    }

    // One of: float, integer, name, string, operator (Jinja's order). Returns the next offset.
    size_t lex_expression_token(size_t i, std::vector<char>& closers) {
        const char c = src_[i];
        if (is_digit(c)) return lex_number(i);
        if (is_name_start(c)) {
            size_t end = i + 1;
            while (end < src_.size() && is_name_char(src_[end])) ++end;
            tokens_.push_back(Token{TokenKind::Name, std::string(src_.substr(i, end - i)), pos_at(i)});
            return end;
        }
        if (c == '\'' || c == '"') return lex_string(i);
        return lex_operator(i, closers);
    }

    // (\d+_)*\d+ starting at i; returns the end, or npos when there is no digit at i.
    size_t digit_run(size_t i) const {
        if (i >= src_.size() || !is_digit(src_[i])) return std::string_view::npos;
        while (true) {
            while (i < src_.size() && is_digit(src_[i])) ++i;
            if (i + 1 < src_.size() && src_[i] == '_' && is_digit(src_[i + 1])) {
                ++i;
                continue;
            }
            return i;
        }
    }

    size_t float_end(size_t i) const {
        if (i > 0 && src_[i - 1] == '.') return std::string_view::npos;
        const size_t whole = digit_run(i);
        const auto exponent_end = [&](size_t j) -> size_t {
            if (j >= src_.size() || (src_[j] != 'e' && src_[j] != 'E')) return std::string_view::npos;
            ++j;
            if (j < src_.size() && (src_[j] == '+' || src_[j] == '-')) ++j;
            return digit_run(j);
        };
        size_t fraction = std::string_view::npos;
        if (whole < src_.size() && src_[whole] == '.') fraction = digit_run(whole + 1);
        if (fraction != std::string_view::npos) {
            const size_t e = exponent_end(fraction);
            return e != std::string_view::npos ? e : fraction;
        }
        return exponent_end(whole);
    }

    size_t lex_number(size_t i) {
        const size_t fend = float_end(i);
        if (fend != std::string_view::npos) {
            std::string digits;
            for (char ch : src_.substr(i, fend - i))
                if (ch != '_') digits += ch;
            Token token{TokenKind::Float, digits, pos_at(i)};
            // from_chars, not strtod: the result must not depend on the process locale.
            std::from_chars(digits.data(), digits.data() + digits.size(), token.float_value);
            tokens_.push_back(std::move(token));
            return fend;
        }
        int base = 10;
        size_t j = i;
        if (src_[i] == '0' && i + 1 < src_.size()) {
            const char p = static_cast<char>(src_[i + 1] | 0x20);
            if (p == 'b') base = 2;
            if (p == 'o') base = 8;
            if (p == 'x') base = 16;
            if (base != 10) j = i + 2;
        }
        uint64_t value = 0;
        size_t digits = 0;
        for (; j < src_.size(); ++j) {
            const char ch = src_[j];
            if (ch == '_' && j + 1 < src_.size() && hex_value(src_[j + 1]) >= 0 && hex_value(src_[j + 1]) < base) continue;
            const int d = hex_value(ch);
            if (d < 0 || d >= base) break;
            if (base == 10 && digits > 0 && value == 0) break;  // "0" then another number, as Jinja lexes "01"
            if (value > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base))
                fail(i, "integer literal too large");
            value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
            ++digits;
        }
        if (digits == 0) fail(i, "malformed number literal");
        Token token{TokenKind::Integer, std::string(src_.substr(i, j - i)), pos_at(i)};
        token.int_value = static_cast<int64_t>(value);
        tokens_.push_back(std::move(token));
        return j;
    }

    size_t lex_string(size_t start) {
        const char quote = src_[start];
        size_t i = start + 1;
        while (i < src_.size() && src_[i] != quote) i += src_[i] == '\\' ? 2 : 1;
        if (i >= src_.size()) fail(start, "unterminated string literal");
        Token token{TokenKind::String, decode_escapes(start, src_.substr(start + 1, i - start - 1)), pos_at(start)};
        tokens_.push_back(std::move(token));
        return i + 1;
    }

    // Python's unicode-escape decoding, which Jinja applies to string literals.
    std::string decode_escapes(size_t offset, std::string_view raw) const {
        std::string out;
        out.reserve(raw.size());
        for (size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] != '\\') {
                out += raw[i];
                continue;
            }
            if (++i >= raw.size()) fail(offset, "string literal ends with a backslash");
            const char e = raw[i];
            switch (e) {
                case '\n': break;
                case '\\': case '\'': case '"': out += e; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'v': out += '\v'; break;
                case 'x': case 'u': case 'U': {
                    const size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
                    uint32_t cp = 0;
                    for (size_t k = 1; k <= n; ++k) {
                        const int d = i + k < raw.size() ? hex_value(raw[i + k]) : -1;
                        if (d < 0) fail(offset, fmt::format("truncated \\{} escape in string literal", e));
                        cp = cp * 16 + static_cast<uint32_t>(d);
                    }
                    if (cp > 0x10FFFF) fail(offset, "illegal Unicode character in string literal");
                    utf8_encode(cp, out);
                    i += n;
                    break;
                }
                case 'N': fail(offset, "named Unicode escapes (\\N{...}) are not supported");
                default:
                    if (e >= '0' && e <= '7') {
                        uint32_t cp = 0;
                        size_t k = 0;
                        for (; k < 3 && i + k < raw.size() && raw[i + k] >= '0' && raw[i + k] <= '7'; ++k)
                            cp = cp * 8 + static_cast<uint32_t>(raw[i + k] - '0');
                        utf8_encode(cp, out);
                        i += k - 1;
                    } else {
                        out += '\\';  // Python keeps unknown escapes as they are
                        out += e;
                    }
            }
        }
        return out;
    }

    size_t lex_operator(size_t i, std::vector<char>& closers) {
        static constexpr std::array<std::string_view, 6> two = {"//", "**", "==", "!=", ">=", "<="};
        for (std::string_view op : two) {
            if (starts_with(i, op)) {
                tokens_.push_back(Token{TokenKind::Operator, std::string(op), pos_at(i)});
                return i + 2;
            }
        }
        const char c = src_[i];
        if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
            uint32_t cp = 0;
            utf8_decode(src_, i, cp);
            fail(i, cp < 0x80 ? fmt::format("unexpected char '{}'", c) : fmt::format("unexpected character U+{:04X}", cp));
        }
        if (c == '(') closers.push_back(')');
        if (c == '[') closers.push_back(']');
        if (c == '{') closers.push_back('}');
        if (c == ')' || c == ']' || c == '}') {
            if (closers.empty()) fail(i, fmt::format("unexpected '{}'", c));
            if (closers.back() != c) fail(i, fmt::format("unexpected '{}', expected '{}'", c, closers.back()));
            closers.pop_back();
        }
        tokens_.push_back(Token{TokenKind::Operator, std::string(1, c), pos_at(i)});
        return i + 1;
    }

    std::string_view src_;
    std::vector<Token> tokens_;
    mutable size_t cursor_offset_ = 0;
    mutable SourcePos cursor_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace peregrine::chat
