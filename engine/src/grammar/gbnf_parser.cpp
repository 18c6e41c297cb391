// GBNF text -> Grammar::Impl (format in peregrine/grammar.h). A recursive-descent parser over the text:
// rule := name "::=" alternatives; alternatives := sequence ("|" sequence)*; sequence := (atom postfix*)*.
// Groups and repetitions become helper rules on the spot:
//   (A | B)  -> G ::= A | B
//   X*       -> R ::= X R |          (right recursion: the parse stack does not grow with the count)
//   X+       -> X R, with R as for X*
//   X?       -> R ::= X |
//   X{m,n}   -> X ... X (m times) then T(n-m), T(1) ::= X |, T(i) ::= X T(i-1) |
// Every error names the line and column it was found at.
#include <algorithm>
#include <functional>
#include <map>
#include <string>

#include "grammar/grammar_impl.h"
#include "grammar/utf8_cursor.h"

namespace peregrine {

namespace grammar {

namespace {

constexpr int kMaxRepetition = 1000;
constexpr uint32_t kMaxCodePoint = 0x10FFFF;

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class GbnfParser {
public:
    explicit GbnfParser(std::string_view text) : text_(text) {}

    std::unique_ptr<Grammar::Impl> parse(std::string_view root_name) {
        skip_space();
        while (pos_ < text_.size()) {
            parse_rule();
            skip_space();
        }
        for (const auto& [name, index] : by_name_) {
            const Rule& rule = impl_->rules[size_t(index)];
            if (!rule.defined) fail_at(first_use_.at(name), "undefined rule '" + name + "'");
        }
        const auto root = by_name_.find(std::string(root_name));
        if (root == by_name_.end()) fail_at(0, "no rule named '" + std::string(root_name) + "' (the start rule)");
        impl_->root = root->second;
        check_left_recursion();
        return std::move(impl_);
    }

private:
    // ---- positions and errors
    std::pair<int, int> line_column(size_t offset) const {
        int line = 1, column = 1;
        for (size_t i = 0; i < offset && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else if ((uint8_t(text_[i]) & 0xC0) != 0x80) {
                ++column;  // columns count characters, not UTF-8 bytes
            }
        }
        return {line, column};
    }
    std::string where(size_t offset) const {
        const auto [line, column] = line_column(offset);
        return std::to_string(line) + ":" + std::to_string(column);
    }
    [[noreturn]] void fail_at(size_t offset, const std::string& message) const {
        const auto [line, column] = line_column(offset);
        throw GrammarError("grammar:" + where(offset) + ": " + message, line, column);
    }
    [[noreturn]] void fail(const std::string& message) const { fail_at(pos_, message); }

    // ---- lexing
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }

    // Spaces, tabs, newlines and comments.
    void skip_space() {
        while (!at_end()) {
            const char c = text_[pos_];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                ++pos_;
            } else if (c == '#') {
                while (!at_end() && text_[pos_] != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    std::string parse_name() {
        const size_t start = pos_;
        while (!at_end() && is_name_char(text_[pos_])) ++pos_;
        return std::string(text_.substr(start, pos_ - start));
    }

    // Is the text at pos_ "name ::=" (the next rule starts here)?
    bool at_rule_start() const {
        size_t p = pos_;
        const size_t start = p;
        while (p < text_.size() && is_name_char(text_[p])) ++p;
        if (p == start) return false;
        while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
        return text_.substr(p, 3) == "::=";
    }

    // One UTF-8 character of the grammar text itself.
    uint32_t next_code_point() {
        Utf8Cursor cursor;
        uint32_t cp = 0;
        const size_t start = pos_;
        while (!at_end()) {
            switch (cursor.feed(uint8_t(text_[pos_++]), cp)) {
                case Utf8Cursor::Step::Complete: return cp;
                case Utf8Cursor::Step::Partial: break;
                case Utf8Cursor::Step::Invalid: fail_at(start, "invalid UTF-8 in the grammar text");
            }
        }
        fail_at(start, "invalid UTF-8 in the grammar text (truncated character)");
    }

    uint32_t parse_hex(int digits) {
        uint32_t value = 0;
        for (int i = 0; i < digits; ++i) {
            const char c = peek();
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else fail("expected " + std::to_string(digits) + " hex digits in the escape");
            value = value * 16 + uint32_t(d);
            ++pos_;
        }
        if (value > kMaxCodePoint) fail("escaped code point is above U+10FFFF");
        return value;
    }

    // A character of a literal or class, escapes decoded.
    uint32_t parse_char() {
        if (at_end()) fail("unexpected end of the grammar");
        if (peek() != '\\') return next_code_point();
        const size_t start = pos_++;
        const char c = peek();
        ++pos_;
        switch (c) {
            case 'n': return '\n';
            case 'r': return '\r';
            case 't': return '\t';
            case '\\': case '"': case '\'': case '[': case ']': case '-': case '/': case '^': return uint32_t(c);
            case 'x': return parse_hex(2);
            case 'u': return parse_hex(4);
            case 'U': return parse_hex(8);
            default: fail_at(start, std::string("unknown escape '\\") + c + "'");
        }
    }

    // ---- rules
    int32_t rule_index(const std::string& name, size_t use_offset) {
        const auto it = by_name_.find(name);
        if (it != by_name_.end()) return it->second;
        const int32_t index = int32_t(impl_->rules.size());
        impl_->rules.push_back({name, {}, use_offset, false});
        by_name_.emplace(name, index);
        first_use_.emplace(name, use_offset);
        return index;
    }

    int32_t add_helper_rule(int32_t parent, size_t offset, std::vector<Alternative> alternatives) {
        const int32_t index = int32_t(impl_->rules.size());
        const std::string name = impl_->rules[size_t(parent)].name + "_" + std::to_string(++helper_count_);
        impl_->rules.push_back({name, std::move(alternatives), offset, true});
        return index;
    }

    static Element ref(int32_t rule) {
        Element e;
        e.kind = ElementKind::RuleRef;
        e.rule = rule;
        return e;
    }
    static Alternative finished(std::vector<Element> elements) {
        elements.push_back(Element{});  // End
        return elements;
    }

    void parse_rule() {
        const size_t start = pos_;
        const std::string name = parse_name();
        if (name.empty()) fail("expected a rule name (letters, digits, '-' or '_')");
        while (peek() == ' ' || peek() == '\t') ++pos_;
        if (text_.substr(pos_, 3) != "::=") fail("expected '::=' after the rule name '" + name + "'");
        pos_ += 3;
        const int32_t index = rule_index(name, start);
        Rule& rule = impl_->rules[size_t(index)];
        if (rule.defined) fail_at(start, "rule '" + name + "' is defined twice (first at " + where(rule.offset) + ")");
        rule.defined = true;
        rule.offset = start;
        std::vector<Alternative> alternatives = parse_alternatives(index, /*nested=*/false);
        if (peek() == ')') fail("unexpected character ')' (no group to close)");
        impl_->rules[size_t(index)].alternatives = std::move(alternatives);
    }

    std::vector<Alternative> parse_alternatives(int32_t rule, bool nested) {
        std::vector<Alternative> alternatives;
        alternatives.push_back(parse_sequence(rule, nested));
        while (peek() == '|') {
            ++pos_;
            alternatives.push_back(parse_sequence(rule, nested));
        }
        return alternatives;
    }

    Alternative parse_sequence(int32_t rule, bool nested) {
        std::vector<Element> elements;
        size_t symbol_start = 0;  // first element of the last atom (what a postfix operator repeats)
        bool have_symbol = false;
        for (;;) {
            skip_space();
            if (at_end()) break;
            const char c = peek();
            if (c == '|' || c == ')') break;
            if (!nested && at_rule_start()) break;
            const size_t atom_offset = pos_;
            if (c == '"') {
                symbol_start = elements.size();
                parse_literal(elements);
                have_symbol = true;
            } else if (c == '[') {
                symbol_start = elements.size();
                elements.push_back(parse_class());
                have_symbol = true;
            } else if (c == '.') {
                ++pos_;
                symbol_start = elements.size();
                Element any;
                any.kind = ElementKind::Chars;
                any.negated = true;  // outside no range: any character
                elements.push_back(any);
                have_symbol = true;
            } else if (c == '(') {
                ++pos_;
                std::vector<Alternative> group = parse_alternatives(rule, /*nested=*/true);
                skip_space();
                if (peek() != ')') fail("expected ')' to close the group opened at " + where(atom_offset));
                ++pos_;
                symbol_start = elements.size();
                elements.push_back(ref(add_helper_rule(rule, atom_offset, std::move(group))));
                have_symbol = true;
            } else if (is_name_char(c)) {
                const std::string name = parse_name();
                symbol_start = elements.size();
                elements.push_back(ref(rule_index(name, atom_offset)));
                have_symbol = true;
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (!have_symbol) fail(std::string("'") + c + "' must follow something to repeat");
                apply_postfix(rule, elements, symbol_start);
            } else if (c == ':' && text_.substr(pos_, 3) == "::=") {
                fail("'::=' here: the rule name before it must start a new rule");
            } else {
                fail(std::string("unexpected character '") + c + "'");
            }
        }
        return finished(std::move(elements));
    }

    void parse_literal(std::vector<Element>& elements) {
        const size_t start = pos_++;
        while (peek() != '"') {
            if (at_end() || peek() == '\n') fail_at(start, "unterminated string literal");
            Element e;
            e.kind = ElementKind::Chars;
            const uint32_t cp = parse_char();
            e.ranges.push_back({cp, cp});
            elements.push_back(std::move(e));
        }
        ++pos_;
    }

    Element parse_class() {
        const size_t start = pos_++;
        Element e;
        e.kind = ElementKind::Chars;
        if (peek() == '^') {
            e.negated = true;
            ++pos_;
        }
        while (peek() != ']') {
            if (at_end() || peek() == '\n') fail_at(start, "unterminated character class");
            const size_t item = pos_;
            const uint32_t lo = parse_char();
            uint32_t hi = lo;
            if (peek() == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] != ']') {
                ++pos_;
                hi = parse_char();
                if (hi < lo) fail_at(item, "character range is backwards (its end is before its start)");
            }
            e.ranges.push_back({lo, hi});
        }
        ++pos_;
        normalize_ranges(e.ranges);
        return e;
    }

    int parse_count() {
        const size_t start = pos_;
        long value = 0;
        while (peek() >= '0' && peek() <= '9') {
            value = value * 10 + (peek() - '0');
            if (value > kMaxRepetition) fail_at(start, "repetition count above " + std::to_string(kMaxRepetition));
            ++pos_;
        }
        if (pos_ == start) fail("expected a number in the repetition");
        return int(value);
    }

    // Replaces elements[symbol_start..] (the last atom, X) by its repetition.
    void apply_postfix(int32_t rule, std::vector<Element>& elements, size_t symbol_start) {
        const size_t op_offset = pos_;
        const char op = text_[pos_++];
        int min = 0, max = -1;  // max < 0: unbounded
        if (op == '*') {
            min = 0;
        } else if (op == '+') {
            min = 1;
        } else if (op == '?') {
            max = 1;
        } else {
            skip_space();
            min = parse_count();
            skip_space();
            max = min;
            if (peek() == ',') {
                ++pos_;
                skip_space();
                max = peek() == '}' ? -1 : parse_count();
                skip_space();
            }
            if (peek() != '}') fail("expected '}' to close the repetition opened at " + where(op_offset));
            ++pos_;
            if (max >= 0 && max < min) fail_at(op_offset, "repetition {m,n} with n < m");
        }
        // X as one element: a multi-character literal becomes a helper rule first.
        std::vector<Element> symbol(elements.begin() + long(symbol_start), elements.end());
        elements.resize(symbol_start);
        Element x = symbol.size() == 1 ? symbol[0]
                                       : ref(add_helper_rule(rule, op_offset, {finished(std::move(symbol))}));
        for (int i = 0; i < min; ++i) elements.push_back(x);
        if (max < 0) {
            // R ::= X R | (empty)
            const int32_t r = add_helper_rule(rule, op_offset, {});
            impl_->rules[size_t(r)].alternatives = {finished({x, ref(r)}), finished({})};
            elements.push_back(ref(r));
        } else if (max > min) {
            int32_t tail = add_helper_rule(rule, op_offset, {finished({x}), finished({})});
            for (int i = 1; i < max - min; ++i) {
                tail = add_helper_rule(rule, op_offset, {finished({x, ref(tail)}), finished({})});
            }
            elements.push_back(ref(tail));
        }
    }

    // A rule that can reach itself without consuming a character would make the matcher expand forever.
    void check_left_recursion() const {
        const auto& rules = impl_->rules;
        const size_t n = rules.size();
        std::vector<bool> nullable(n, false);
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r = 0; r < n; ++r) {
                if (nullable[r]) continue;
                for (const Alternative& alt : rules[r].alternatives) {
                    const bool all = std::all_of(alt.begin(), alt.end() - 1, [&](const Element& e) {
                        return e.kind == ElementKind::RuleRef && nullable[size_t(e.rule)];
                    });
                    if (all) {
                        nullable[r] = true;
                        changed = true;
                        break;
                    }
                }
            }
        }
        // Edges r -> s: s can come first in r (everything before it may be empty).
        std::vector<std::vector<int32_t>> first(n);
        for (size_t r = 0; r < n; ++r) {
            for (const Alternative& alt : rules[r].alternatives) {
                for (const Element& e : alt) {
                    if (e.kind != ElementKind::RuleRef) break;
                    first[r].push_back(e.rule);
                    if (!nullable[size_t(e.rule)]) break;
                }
            }
        }
        std::vector<int> color(n, 0);  // 0 new, 1 on the path, 2 done
        std::vector<int32_t> path;
        std::function<void(int32_t)> visit = [&](int32_t r) {
            color[size_t(r)] = 1;
            path.push_back(r);
            for (int32_t s : first[size_t(r)]) {
                if (color[size_t(s)] == 1) {
                    std::string cycle;
                    for (auto it = std::find(path.begin(), path.end(), s); it != path.end(); ++it) {
                        cycle += rules[size_t(*it)].name + " -> ";
                    }
                    fail_at(rules[size_t(s)].offset, "rule '" + rules[size_t(s)].name +
                                                         "' is left-recursive: " + cycle + rules[size_t(s)].name +
                                                         " (it can reach itself without consuming a character)");
                }
                if (color[size_t(s)] == 0) visit(s);
            }
            path.pop_back();
            color[size_t(r)] = 2;
        };
        for (size_t r = 0; r < n; ++r) {
            if (color[r] == 0) visit(int32_t(r));
        }
    }

    std::string_view text_;
    size_t pos_ = 0;
    std::unique_ptr<Grammar::Impl> impl_ = std::make_unique<Grammar::Impl>();
    std::map<std::string, int32_t> by_name_;
    std::map<std::string, size_t> first_use_;
    int helper_count_ = 0;
};

}  // namespace
}  // namespace grammar

std::shared_ptr<const Grammar> Grammar::parse(std::string_view gbnf, std::string_view root_rule) {
    grammar::GbnfParser parser(gbnf);
    return std::shared_ptr<const Grammar>(new Grammar(parser.parse(root_rule)));
}

}  // namespace peregrine
