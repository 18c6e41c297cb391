// Expression half of the parser. Precedence, lowest first: `a if c else b`, or, and, not,
// comparisons (chained), + -, ~, * / // %, **, unary - +, then postfix . [] () with filters | and
// tests `is` binding to the unary operand, exactly as Jinja orders them.
#include "chat/builtins.h"
#include "chat/parser_impl.h"

namespace peregrine::chat {

bool Parser::at_tuple_end() const {
    const TokenKind k = cur().kind;
    return k == TokenKind::VariableEnd || k == TokenKind::BlockEnd || at_op(")") || k == TokenKind::End;
}

ExprPtr Parser::parse_tuple(bool with_condexpr, bool explicit_parentheses) {
    const SourcePos pos = cur().pos;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
        if (!items.empty()) expect_op(",");
        if (at_tuple_end()) break;
        items.push_back(parse_expression(with_condexpr));
        if (at_op(",")) is_tuple = true;
        else break;
    }
    if (!is_tuple) {
        if (!items.empty()) return std::move(items[0]);
        if (!explicit_parentheses) fail_unexpected("an expression");
    }
    ExprPtr e = make(ExprKind::List, pos);
    e->children = std::move(items);
    e->tuple = true;
    return finish(std::move(e));
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
    NestGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
    ExprPtr expr = parse_or();
    while (at_name("if")) {
        const SourcePos pos = cur().pos;
        advance();
        ExprPtr condition = parse_or();
        ExprPtr otherwise;
        if (skip_name("else")) {
            NestGuard guard(*this);
            otherwise = parse_condexpr();
        }
        ExprPtr e = make(ExprKind::Conditional, pos);
        e->children.push_back(std::move(condition));
        e->children.push_back(std::move(expr));
        e->children.push_back(std::move(otherwise));
        expr = finish(std::move(e));
    }
    return expr;
}

ExprPtr Parser::binary(ExprKind kind, SourcePos pos, ExprPtr left, ExprPtr right, std::string op) {
    ExprPtr e = make(kind, pos);
    e->name = std::move(op);
    e->children.push_back(std::move(left));
    e->children.push_back(std::move(right));
    return finish(std::move(e));
}

ExprPtr Parser::parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
        const SourcePos pos = cur().pos;
        advance();
        left = binary(ExprKind::Or, pos, std::move(left), parse_and());
    }
    return left;
}

ExprPtr Parser::parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
        const SourcePos pos = cur().pos;
        advance();
        left = binary(ExprKind::And, pos, std::move(left), parse_not());
    }
    return left;
}

ExprPtr Parser::parse_not() {
    if (at_name("not")) {
        NestGuard guard(*this);
        ExprPtr e = make(ExprKind::Not, cur().pos);
        advance();
        e->children.push_back(parse_not());
        return finish(std::move(e));
    }
    return parse_compare();
}

ExprPtr Parser::parse_compare() {
    const SourcePos pos = cur().pos;
    ExprPtr first = parse_math1();
    ExprPtr e;
    while (true) {
        std::string op;
        if (cur().kind == TokenKind::Operator &&
            (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
             cur().text == ">" || cur().text == ">=")) {
            op = cur().text;
            advance();
        } else if (at_name("in")) {
            op = "in";
            advance();
        } else if (at_name("not") && peek().kind == TokenKind::Name && peek().text == "in") {
            op = "notin";
            advance();
            advance();
        } else {
            break;
        }
        if (!e) {
            e = make(ExprKind::Compare, pos);
            e->children.push_back(std::move(first));
        }
        e->ops.push_back(op);
        e->children.push_back(parse_math1());
    }
    return e ? finish(std::move(e)) : std::move(first);
}

ExprPtr Parser::parse_math1() {
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
        const SourcePos pos = cur().pos;
        std::string op = cur().text;
        advance();
        left = binary(ExprKind::Binary, pos, std::move(left), parse_concat(), std::move(op));
    }
    return left;
}

ExprPtr Parser::parse_concat() {
    ExprPtr left = parse_math2();
    while (at_op("~")) {
        const SourcePos pos = cur().pos;
        advance();
        left = binary(ExprKind::Binary, pos, std::move(left), parse_math2(), "~");
    }
    return left;
}

ExprPtr Parser::parse_math2() {
    ExprPtr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
        const SourcePos pos = cur().pos;
        std::string op = cur().text;
        advance();
        left = binary(ExprKind::Binary, pos, std::move(left), parse_pow(), std::move(op));
    }
    return left;
}

ExprPtr Parser::parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_op("**")) {
        const SourcePos pos = cur().pos;
        advance();
        left = binary(ExprKind::Binary, pos, std::move(left), parse_unary(true), "**");
    }
    return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
        NestGuard guard(*this);
        node = make(at_op("-") ? ExprKind::Negate : ExprKind::Plus, cur().pos);
        advance();
        node->children.push_back(parse_unary(false));
        node = finish(std::move(node));
    } else {
        node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
}

ExprPtr Parser::parse_primary() {
    const Token& t = cur();
    const SourcePos pos = t.pos;
    switch (t.kind) {
        case TokenKind::Name: {
            ExprPtr e = make(ExprKind::Literal, pos);
            if (t.text == "true" || t.text == "True") e->literal = Value::boolean(true);
            else if (t.text == "false" || t.text == "False") e->literal = Value::boolean(false);
            else if (t.text == "none" || t.text == "None") e->literal = Value::none();
            else {
                e->kind = ExprKind::Name;
                e->name = t.text;
            }
            advance();
            return finish(std::move(e));
        }
        case TokenKind::String: {
            std::string text;
            while (cur().kind == TokenKind::String) {  // adjacent literals concatenate
                text += cur().text;
                advance();
            }
            ExprPtr e = make(ExprKind::Literal, pos);
            e->literal = Value::plain(text);
            return finish(std::move(e));
        }
        case TokenKind::Integer:
        case TokenKind::Float: {
            ExprPtr e = make(ExprKind::Literal, pos);
            e->literal = t.kind == TokenKind::Integer ? Value::integer(t.int_value) : Value::number(t.float_value);
            advance();
            return finish(std::move(e));
        }
        case TokenKind::Operator:
            if (t.text == "(") {
                advance();
                ExprPtr e = parse_tuple(true, true);
                expect_op(")");
                return e;
            }
            if (t.text == "[") return parse_list();
            if (t.text == "{") return parse_dict();
            [[fallthrough]];
        default:
            fail_unexpected("an expression");
    }
}

ExprPtr Parser::parse_list() {
    ExprPtr e = make(ExprKind::List, cur().pos);
    advance();
    while (!at_op("]")) {
        if (!e->children.empty()) expect_op(",");
        if (at_op("]")) break;
        e->children.push_back(parse_expression(true));
    }
    advance();
    return finish(std::move(e));
}

ExprPtr Parser::parse_dict() {
    ExprPtr e = make(ExprKind::Dict, cur().pos);
    advance();
    while (!at_op("}")) {
        if (!e->children.empty()) expect_op(",");
        if (at_op("}")) break;
        e->children.push_back(parse_expression(true));
        expect_op(":");
        e->children.push_back(parse_expression(true));
    }
    advance();
    return finish(std::move(e));
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
    while (true) {
        if (at_op(".")) {
            const SourcePos pos = node->pos;  // errors point at the start of `a.b`
            advance();
            if (cur().kind == TokenKind::Name) {
                ExprPtr e = make(ExprKind::Attribute, pos);
                e->name = cur().text;
                advance();
                e->children.push_back(std::move(node));
                node = finish(std::move(e));
            } else if (cur().kind == TokenKind::Integer) {  // foo.0 is foo[0]
                ExprPtr index = make(ExprKind::Literal, cur().pos);
                index->literal = Value::integer(cur().int_value);
                advance();
                ExprPtr e = make(ExprKind::Index, pos);
                e->children.push_back(std::move(node));
                e->children.push_back(finish(std::move(index)));
                node = finish(std::move(e));
            } else {
                fail_unexpected("an attribute name");
            }
        } else if (at_op("[")) {
            node = parse_subscript(std::move(node));
        } else if (at_op("(")) {
            node = parse_call(std::move(node), ExprKind::Call);
        } else {
            return node;
        }
    }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
    NestGuard guard(*this);
    const SourcePos pos = node->pos;
    advance();  // [
    std::vector<ExprPtr> parts;  // start, stop, step
    bool is_slice = false;
    if (!at_op(":")) parts.push_back(parse_expression(true));
    else parts.emplace_back();
    if (skip_op(":")) {
        is_slice = true;
        parts.push_back(at_op(":") || at_op("]") ? nullptr : parse_expression(true));
        if (skip_op(":")) parts.push_back(at_op("]") ? nullptr : parse_expression(true));
        else parts.emplace_back();
    }
    expect_op("]");
    ExprPtr e = make(is_slice ? ExprKind::Slice : ExprKind::Index, pos);
    e->children.push_back(std::move(node));
    for (auto& part : parts) e->children.push_back(std::move(part));
    return finish(std::move(e));
}

void Parser::parse_call_args(Expr& e) {
    NestGuard guard(*this);
    expect_op("(");
    bool first = true;
    while (!at_op(")")) {
        if (!first) expect_op(",");
        first = false;
        if (at_op(")")) break;
        if (at_op("*") || at_op("**")) fail("*args and **kwargs are not supported");
        if (cur().kind == TokenKind::Name && peek().kind == TokenKind::Operator && peek().text == "=") {
            std::string key = cur().text;
            advance();
            advance();
            e.keywords.emplace_back(std::move(key), parse_expression(true));
        } else {
            if (!e.keywords.empty()) fail("positional argument after keyword argument");
            e.children.push_back(parse_expression(true));
        }
    }
    advance();
}

ExprPtr Parser::parse_call(ExprPtr callee, ExprKind kind) {
    ExprPtr e = make(kind, callee->pos);
    e->children.push_back(std::move(callee));
    parse_call_args(*e);
    return finish(std::move(e));
}

std::string Parser::parse_dotted_name() {
    std::string name = expect_name();
    while (at_op(".")) {
        advance();
        name += '.';
        name += expect_name();
    }
    return name;
}

ExprPtr Parser::parse_filter_chain(ExprPtr node) {
    while (at_op("|")) {
        const SourcePos pos = cur().pos;
        advance();
        const SourcePos name_pos = cur().pos;
        ExprPtr e = make(ExprKind::Filter, pos);
        e->name = parse_dotted_name();
        if (!is_known_filter(e->name)) throw_syntax_error(name_pos, fmt::format("no filter named '{}'", e->name));
        e->children.push_back(std::move(node));
        if (at_op("(")) parse_call_args(*e);
        node = finish(std::move(e));
    }
    return node;
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
    while (true) {
        if (at_op("|")) {
            node = parse_filter_chain(std::move(node));
        } else if (at_name("is")) {
            node = parse_test(std::move(node));
        } else if (at_op("(")) {
            node = parse_call(std::move(node), ExprKind::Call);
        } else {
            return node;
        }
    }
}

ExprPtr Parser::parse_test(ExprPtr node) {
    ExprPtr e = make(ExprKind::Test, cur().pos);
    advance();  // is
    e->negated = skip_name("not");
    const SourcePos name_pos = cur().pos;
    e->name = parse_dotted_name();
    if (!is_known_test(e->name)) throw_syntax_error(name_pos, fmt::format("no test named '{}'", e->name));
    e->children.push_back(std::move(node));
    if (at_op("(")) {
        parse_call_args(*e);
    } else {
        // A single argument without parentheses: `x is divisibleby 3`, `x is sameas none`.
        const Token& t = cur();
        const bool starts_primary = t.kind == TokenKind::Name || t.kind == TokenKind::String ||
                                    t.kind == TokenKind::Integer || t.kind == TokenKind::Float ||
                                    at_op("(") || at_op("[") || at_op("{");
        if (starts_primary && !at_name("else") && !at_name("or") && !at_name("and")) {
            if (at_name("is")) fail("tests cannot be chained with 'is'");
            NestGuard guard(*this);
            e->children.push_back(parse_postfix(parse_primary()));
        }
    }
    return finish(std::move(e));
}
}  // namespace peregrine::chat
