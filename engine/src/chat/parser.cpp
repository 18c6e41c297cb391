#include "chat/parser.h"

#include "chat/parser_impl.h"

namespace peregrine::chat {

Body Parser::parse_body(std::initializer_list<std::string_view> end_keywords, std::string_view& stopped_at) {
    NestGuard guard(*this);
    Body body;
    while (true) {
        const Token& t = cur();
        switch (t.kind) {
            case TokenKind::Text: {
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::Text;
                s->pos = t.pos;
                s->text = t.text;
                body.push_back(std::move(s));
                advance();
                break;
            }
            case TokenKind::VariableBegin: {
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::Output;
                s->pos = t.pos;
                advance();
                s->expr = parse_tuple(true, false);
                if (cur().kind != TokenKind::VariableEnd) fail_unexpected("end of print statement '}}'");
                advance();
                body.push_back(std::move(s));
                break;
            }
            case TokenKind::BlockBegin: {
                advance();
                if (cur().kind == TokenKind::Name) {
                    for (std::string_view keyword : end_keywords) {
                        if (cur().text == keyword) {
                            stopped_at = keyword;
                            return body;
                        }
                    }
                }
                body.push_back(parse_statement(end_keywords));
                break;
            }
            case TokenKind::End:
                if (end_keywords.size() != 0) {
                    std::string wanted;
                    for (std::string_view k : end_keywords) wanted += fmt::format("{}'{}'", wanted.empty() ? "" : " or ", k);
                    fail(fmt::format("unexpected end of template, expected {}", wanted));
                }
                return body;
            default:
                fail_unexpected("template text or a tag");
        }
    }
}

StmtPtr Parser::parse_statement(std::initializer_list<std::string_view> enclosing_ends) {
    if (cur().kind != TokenKind::Name) fail_unexpected("a statement keyword");
    const std::string keyword = cur().text;
    const SourcePos pos = cur().pos;
    advance();
    StmtPtr s;
    if (keyword == "if") s = parse_if();
    else if (keyword == "for") s = parse_for();
    else if (keyword == "set") s = parse_set();
    else if (keyword == "macro") s = parse_macro();
    else if (keyword == "with") s = parse_with();
    else if (keyword == "generation") s = parse_plain_block("endgeneration");
    else if (keyword == "break" || keyword == "continue") {
        if (loop_depth_ == 0) throw_syntax_error(pos, fmt::format("'{}' outside of a loop", keyword));
        s = std::make_unique<Stmt>();
        s->kind = keyword == "break" ? StmtKind::Break : StmtKind::Continue;
        expect_block_end();
    } else if (keyword == "include" || keyword == "import" || keyword == "from" || keyword == "extends" ||
               keyword == "block" || keyword == "call" || keyword == "filter" || keyword == "autoescape") {
        throw_syntax_error(pos, fmt::format("the '{}' tag is not supported in chat templates", keyword));
    } else if (keyword.rfind("end", 0) == 0 || keyword == "elif" || keyword == "else") {
        std::string expected;
        for (std::string_view k : enclosing_ends) expected += fmt::format("{}'{}'", expected.empty() ? "" : " or ", k);
        throw_syntax_error(pos, expected.empty() ? fmt::format("unexpected '{}'", keyword)
                                                 : fmt::format("unexpected '{}', expected {}", keyword, expected));
    } else {
        throw_syntax_error(pos, fmt::format("unknown tag '{}'", keyword));
    }
    s->pos = pos;
    return s;
}

StmtPtr Parser::parse_if() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::If;
    while (true) {
        ExprPtr condition = parse_tuple(false, false);
        expect_block_end();
        std::string_view stop;
        Body body = parse_body({"elif", "else", "endif"}, stop);
        s->branches.emplace_back(std::move(condition), std::move(body));
        advance();  // the keyword
        if (stop == "elif") continue;
        if (stop == "else") {
            expect_block_end();
            s->else_body = parse_body({"endif"}, stop);
            advance();
        }
        expect_block_end();
        return s;
    }
}

std::vector<std::string> Parser::parse_target_names() {
    std::vector<std::string> names;
    const bool parenthesized = skip_op("(");
    do {
        names.push_back(expect_name());
    } while (skip_op(","));
    if (parenthesized) expect_op(")");
    return names;
}

StmtPtr Parser::parse_for() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::For;
    s->targets = parse_target_names();
    if (!skip_name("in")) fail_unexpected("'in'");
    s->expr = parse_tuple(false, false);
    if (skip_name("if")) s->filter = parse_expression(true);
    if (at_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    std::string_view stop;
    ++loop_depth_;
    s->body = parse_body({"endfor", "else"}, stop);
    --loop_depth_;
    advance();
    if (stop == "else") {
        expect_block_end();
        s->else_body = parse_body({"endfor"}, stop);
        advance();
    }
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_set() {
    auto s = std::make_unique<Stmt>();
    if (cur().kind == TokenKind::Name && peek().kind == TokenKind::Operator && peek().text == ".") {
        s->namespace_name = expect_name();
        advance();
        s->attribute = expect_name();
    } else {
        s->targets = parse_target_names();
    }
    if (skip_op("=")) {
        s->kind = StmtKind::Set;
        s->expr = parse_tuple(true, false);
        expect_block_end();
        return s;
    }
    if (!s->namespace_name.empty() || s->targets.size() != 1) fail_unexpected("'='");
    s->kind = StmtKind::SetBlock;
    if (at_op("|")) {
        // The filters apply to the rendered body, bound to a name no template can spell.
        ExprPtr operand = make(ExprKind::Name, cur().pos);
        operand->name = std::string(kSetBlockBody);
        s->filter = parse_filter_chain(finish(std::move(operand)));
    }
    expect_block_end();
    std::string_view stop;
    s->body = parse_body({"endset"}, stop);
    advance();
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_macro() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Macro;
    s->name = expect_name();
    expect_op("(");
    while (!at_op(")")) {
        if (!s->params.empty()) expect_op(",");
        if (at_op(")")) break;
        MacroParam param;
        param.name = expect_name();
        if (skip_op("=")) param.default_value = parse_expression(true);
        s->params.push_back(std::move(param));
    }
    advance();
    expect_block_end();
    std::string_view stop;
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;  // break/continue cannot cross a macro boundary
    s->body = parse_body({"endmacro"}, stop);
    loop_depth_ = saved_loop_depth;
    advance();
    if (cur().kind == TokenKind::Name) advance();  // {% endmacro name %}
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_with() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::With;
    while (cur().kind != TokenKind::BlockEnd) {
        if (!s->targets.empty()) expect_op(",");
        s->targets.push_back(expect_name());
        expect_op("=");
        s->values.push_back(parse_expression(true));
    }
    expect_block_end();
    std::string_view stop;
    s->body = parse_body({"endwith"}, stop);
    advance();
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_plain_block(std::string_view end_keyword) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Block;
    expect_block_end();
    std::string_view stop;
    s->body = parse_body({end_keyword}, stop);
    advance();
    expect_block_end();
    return s;
}

std::shared_ptr<const Program> parse_program(std::string source, const ChatTemplateLimits& limits) {
    if (source.size() > limits.max_template_bytes)
        throw Error(fmt::format("chat template: template size limit ({} bytes) exceeded: {} bytes",
                                limits.max_template_bytes, source.size()));
    auto program = std::make_shared<Program>();
    Parser parser(tokenize(normalize_template_source(source)), limits);
    program->source = std::move(source);
    program->body = parser.parse_template();
    return program;
}

}  // namespace peregrine::chat
