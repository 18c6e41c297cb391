// The template parser's internals, shared by its two halves: statements (parser.cpp) and
// expressions (expression_parser.cpp). Follows jinja2/parser.py: recursive descent over the lexer's
// tokens, one method per grammar rule.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "peregrine/chat_template.h"

namespace peregrine::chat {

class Parser {
public:
    Parser(std::vector<Token> tokens, const ChatTemplateLimits& limits)
        : tokens_(std::move(tokens)), limits_(limits) {}

    Body parse_template() {
        std::string_view stopped_at;
        Body body = parse_body({}, stopped_at);
        return body;
    }

private:
    // -----------------------------------------------------------------------------------------
    // Token helpers

    const Token& cur() const { return tokens_[index_]; }
    const Token& peek(size_t ahead = 1) const { return tokens_[std::min(index_ + ahead, tokens_.size() - 1)]; }
    void advance() {
        if (index_ + 1 < tokens_.size()) ++index_;
    }
    bool at_op(std::string_view op) const { return cur().kind == TokenKind::Operator && cur().text == op; }
    bool at_name(std::string_view word) const { return cur().kind == TokenKind::Name && cur().text == word; }
    bool skip_op(std::string_view op) {
        if (!at_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(std::string_view word) {
        if (!at_name(word)) return false;
        advance();
        return true;
    }

    static std::string describe(const Token& t) {
        switch (t.kind) {
            case TokenKind::Text: return "template text";
            case TokenKind::VariableBegin: return "'{{'";
            case TokenKind::VariableEnd: return "'}}'";
            case TokenKind::BlockBegin: return "'{%'";
            case TokenKind::BlockEnd: return "'%}'";
            case TokenKind::Name: return fmt::format("'{}'", t.text);
            case TokenKind::String: return "string literal";
            case TokenKind::Integer:
            case TokenKind::Float: return fmt::format("number {}", t.text);
            case TokenKind::Operator: return fmt::format("'{}'", t.text);
            case TokenKind::End: return "end of template";
        }
        return "token";
    }

    [[noreturn]] void fail(std::string_view message) const { throw_syntax_error(cur().pos, message); }
    [[noreturn]] void fail_unexpected(std::string_view expected) const {
        fail(fmt::format("unexpected {}, expected {}", describe(cur()), expected));
    }

    void expect_op(std::string_view op) {
        if (!skip_op(op)) fail_unexpected(fmt::format("'{}'", op));
    }
    std::string expect_name() {
        if (cur().kind != TokenKind::Name) fail_unexpected("a name");
        std::string name = cur().text;
        advance();
        return name;
    }
    void expect_block_end() {
        if (cur().kind != TokenKind::BlockEnd) fail_unexpected("end of statement block '%}'");
        advance();
    }

    // Bounds parser recursion (nested parentheses, `not not not`, nested blocks).
    class NestGuard {
    public:
        explicit NestGuard(Parser& p) : p_(p) {
            if (++p_.nesting_ > p_.limits_.max_nesting_depth)
                p_.fail(fmt::format("nesting limit ({}) exceeded", p_.limits_.max_nesting_depth));
        }
        ~NestGuard() { --p_.nesting_; }

    private:
        Parser& p_;
    };

    ExprPtr make(ExprKind kind, SourcePos pos) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->pos = pos;
        return e;
    }

    // Records the subtree height; the interpreter recurses that deep, so it is bounded here.
    ExprPtr finish(ExprPtr e) {
        int depth = 0;
        for (const auto& child : e->children)
            if (child) depth = std::max(depth, child->depth);
        for (const auto& kw : e->keywords) depth = std::max(depth, kw.second->depth);
        e->depth = depth + 1;
        if (e->depth > limits_.max_nesting_depth)
            throw_syntax_error(e->pos, fmt::format("expression nesting limit ({}) exceeded", limits_.max_nesting_depth));
        return e;
    }

    // -----------------------------------------------------------------------------------------
    // Statements

    // Parses until a block tag whose keyword is in `end_keywords` (the keyword is then the current
    // token and reported in `stopped_at`), or until the end of the template when none are given.
    Body parse_body(std::initializer_list<std::string_view> end_keywords, std::string_view& stopped_at);
    StmtPtr parse_statement(std::initializer_list<std::string_view> enclosing_ends);
    StmtPtr parse_if();
    std::vector<std::string> parse_target_names();
    StmtPtr parse_for();
    StmtPtr parse_set();
    StmtPtr parse_macro();
    StmtPtr parse_with();
    StmtPtr parse_plain_block(std::string_view end_keyword);

    // -----------------------------------------------------------------------------------------
    // Expressions

    bool at_tuple_end() const;
    // Comma-separated expressions; a single one without a comma is itself, else a tuple (a list here).
    ExprPtr parse_tuple(bool with_condexpr, bool explicit_parentheses);
    ExprPtr parse_expression(bool with_condexpr);
    ExprPtr parse_condexpr();
    ExprPtr binary(ExprKind kind, SourcePos pos, ExprPtr left, ExprPtr right, std::string op = {});
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr parse_compare();
    ExprPtr parse_math1();
    ExprPtr parse_concat();
    ExprPtr parse_math2();
    ExprPtr parse_pow();
    ExprPtr parse_unary(bool with_filter);
    ExprPtr parse_primary();
    ExprPtr parse_list();
    ExprPtr parse_dict();
    ExprPtr parse_postfix(ExprPtr node);
    ExprPtr parse_subscript(ExprPtr node);
    // `callee(args)`, or the argument list of a filter or test (then `node` is already built).
    void parse_call_args(Expr& e);
    ExprPtr parse_call(ExprPtr callee, ExprKind kind);
    std::string parse_dotted_name();
    ExprPtr parse_filter_chain(ExprPtr node);
    ExprPtr parse_filter_expr(ExprPtr node);
    ExprPtr parse_test(ExprPtr node);

    std::vector<Token> tokens_;
    size_t index_ = 0;
    const ChatTemplateLimits& limits_;
    int nesting_ = 0;
    int loop_depth_ = 0;
};

}  // namespace peregrine::chat
