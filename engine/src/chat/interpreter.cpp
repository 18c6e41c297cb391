#include "chat/interpreter.h"

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/operators.h"

namespace peregrine::chat {

namespace {

// A {% macro %} as a callable value. The Program outlives every render, so a plain pointer is safe.
class MacroFunction final : public Callable {
public:
    explicit MacroFunction(const Stmt& stmt) : stmt_(stmt) {}
    std::string_view name() const override { return stmt_.name; }
    Value call(Interpreter& interpreter, CallArgs args) const override {
        return interpreter.call_macro(stmt_, std::move(args));
    }

private:
    const Stmt& stmt_;
};

[[noreturn]] void throw_positioned(SourcePos pos, const EvalError& error) {
    throw Error(fmt::format("chat template: error at line {}:{}: {}", pos.line, pos.column, error.what()));
}

}  // namespace

Interpreter::Interpreter(const Program& program, const ChatTemplateLimits& limits)
    : program_(program), budget_(limits) {}

Text Interpreter::render(Dict globals) {
    frames_.clear();
    frames_.push_back(Frame{std::move(globals.entries)});
    sinks_.clear();
    sinks_.emplace_back(budget_, "output size");
    exec_body(program_.body);
    Text out = sinks_.back().take();
    sinks_.clear();
    return out;
}

Value Interpreter::make_string(Text text) {
    budget_.charge_string(text);
    return Value::string(std::move(text));
}

// ---------------------------------------------------------------------------------------------
// Scopes: each for-loop iteration, with-block and macro call gets a frame; `set` writes to the
// innermost one (so, as in Jinja, a set inside a loop does not leak out of it: use namespace()).

Value Interpreter::lookup(std::string_view name) const {
    const size_t floor = macro_frames_.empty() ? 0 : macro_frames_.back();
    for (size_t i = frames_.size(); i-- > floor;) {
        for (const auto& [key, value] : frames_[i].variables)
            if (key == name) return value;
    }
    if (floor > 0) {  // a macro sees its own frames, then the template's globals
        for (const auto& [key, value] : frames_[0].variables)
            if (key == name) return value;
    }
    return Value::undefined(fmt::format("'{}' is undefined", name));
}

void Interpreter::assign(const std::string& name, Value value) {
    auto& variables = frames_.back().variables;
    for (auto& [key, existing] : variables) {
        if (key == name) {
            existing = std::move(value);
            return;
        }
    }
    variables.emplace_back(name, std::move(value));
}

void Interpreter::bind_targets(const std::vector<std::string>& targets, const Value& value) {
    if (targets.size() == 1) {
        assign(targets[0], value);
        return;
    }
    const Value::List items = iterate(value, budget_);
    if (items.size() != targets.size())
        throw EvalError(fmt::format("cannot unpack {} values into {} names", items.size(), targets.size()));
    for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
}

// ---------------------------------------------------------------------------------------------
// Statements

Interpreter::Flow Interpreter::exec_body(const Body& body) {
    for (const StmtPtr& stmt : body) {
        const Flow flow = exec(*stmt);
        if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
}

Text Interpreter::capture(const Body& body) {
    sinks_.emplace_back(budget_);
    try {
        exec_body(body);
    } catch (...) {
        sinks_.pop_back();
        throw;
    }
    Text text = sinks_.back().take();
    sinks_.pop_back();
    return text;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt) {
    budget_.step();
    DepthGuard guard(budget_);
    try {
        switch (stmt.kind) {
            case StmtKind::Text:
                sinks_.back().append(stmt.text);
                return Flow::Normal;
            case StmtKind::Output:
                append_str(sinks_.back(), eval(*stmt.expr));
                return Flow::Normal;
            case StmtKind::If:
                for (const auto& [condition, body] : stmt.branches)
                    if (truthy(eval(*condition))) return exec_body(body);
                return exec_body(stmt.else_body);
            case StmtKind::For:
                return exec_for(stmt);
            case StmtKind::Set:
            case StmtKind::SetBlock:
                exec_set(stmt);
                return Flow::Normal;
            case StmtKind::Macro:
                assign(stmt.name, Value::callable(std::make_shared<MacroFunction>(stmt)));
                return Flow::Normal;
            case StmtKind::With: {
                std::vector<Value> values;
                for (const ExprPtr& value : stmt.values) values.push_back(eval(*value));
                push_frame();
                for (size_t i = 0; i < values.size(); ++i) assign(stmt.targets[i], std::move(values[i]));
                Flow flow = Flow::Normal;
                try {
                    flow = exec_body(stmt.body);
                } catch (...) {
                    pop_frame();
                    throw;
                }
                pop_frame();
                return flow;
            }
            case StmtKind::Break: return Flow::Break;
            case StmtKind::Continue: return Flow::Continue;
            case StmtKind::Block: return exec_body(stmt.body);
        }
    } catch (const EvalError& error) {
        throw_positioned(stmt.pos, error);
    }
    return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& stmt) {
    Value::List items = iterate(eval(*stmt.expr), budget_);
    if (stmt.filter) {  // {% for x in xs if cond %}: filtered before loop.length is known
        Value::List kept;
        for (Value& item : items) {
            budget_.loop_iteration();
            push_frame();
            bool keep = false;
            try {
                bind_targets(stmt.targets, item);
                keep = truthy(eval(*stmt.filter));
            } catch (...) {
                pop_frame();
                throw;
            }
            pop_frame();
            if (keep) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    if (items.empty()) {
        push_frame();
        Flow flow = Flow::Normal;
        try {
            flow = exec_body(stmt.else_body);
        } catch (...) {
            pop_frame();
            throw;
        }
        pop_frame();
        return flow;
    }
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
        budget_.loop_iteration();
        Dict loop;
        loop.entries.reserve(11);
        loop.entries.emplace_back("index", Value::integer(i + 1));
        loop.entries.emplace_back("index0", Value::integer(i));
        loop.entries.emplace_back("revindex", Value::integer(n - i));
        loop.entries.emplace_back("revindex0", Value::integer(n - i - 1));
        loop.entries.emplace_back("first", Value::boolean(i == 0));
        loop.entries.emplace_back("last", Value::boolean(i == n - 1));
        loop.entries.emplace_back("length", Value::integer(n));
        loop.entries.emplace_back("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
        loop.entries.emplace_back("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
        loop.entries.emplace_back("depth", Value::integer(1));
        loop.entries.emplace_back("depth0", Value::integer(0));

        push_frame();  // a fresh frame per iteration, as Jinja does
        Flow flow = Flow::Normal;
        try {
            bind_targets(stmt.targets, items[static_cast<size_t>(i)]);
            assign("loop", Value::dict(std::move(loop)));
            flow = exec_body(stmt.body);
        } catch (...) {
            pop_frame();
            throw;
        }
        pop_frame();
        if (flow == Flow::Break) break;
    }
    return Flow::Normal;
}

void Interpreter::exec_set(const Stmt& stmt) {
    Value value;
    if (stmt.kind == StmtKind::SetBlock) {
        value = Value::string(capture(stmt.body));  // capture() has charged it already
        if (stmt.filter) {
            push_frame();
            try {
                assign(std::string(kSetBlockBody), value);
                value = eval(*stmt.filter);
            } catch (...) {
                pop_frame();
                throw;
            }
            pop_frame();
        }
    } else {
        value = eval(*stmt.expr);
    }
    if (!stmt.namespace_name.empty()) {
        const Value target = lookup(stmt.namespace_name);
        if (!target.is_namespace())
            throw EvalError(fmt::format("cannot assign attribute on non-namespace object '{}'", stmt.namespace_name));
        if (value.is_namespace() || value.holds_namespace())
            throw EvalError("a namespace cannot hold another namespace");
        target.namespace_attributes().set(stmt.attribute, std::move(value));
        return;
    }
    bind_targets(stmt.targets, value);
}

Value Interpreter::call_macro(const Stmt& macro, CallArgs args) {
    if (args.positional.size() > macro.params.size())
        throw EvalError(fmt::format("macro '{}' takes not more than {} argument(s)", macro.name, macro.params.size()));
    for (const auto& [key, unused] : args.keyword) {
        bool known = false;
        for (const MacroParam& param : macro.params) known = known || param.name == key;
        if (!known) throw EvalError(fmt::format("macro '{}' has no argument named '{}'", macro.name, key));
    }
    budget_.enter_macro();
    macro_frames_.push_back(frames_.size());
    push_frame();
    Text text;
    try {
        for (size_t i = 0; i < macro.params.size(); ++i) {
            const MacroParam& param = macro.params[i];
            Value value;
            bool given = false;
            if (i < args.positional.size()) {
                value = std::move(args.positional[i]);
                given = true;
            }
            for (auto& [key, kw_value] : args.keyword) {
                if (key != param.name) continue;
                if (given) throw EvalError(fmt::format("macro '{}' got multiple values for argument '{}'", macro.name, key));
                value = std::move(kw_value);
                given = true;
            }
            if (!given) {
                value = param.default_value ? eval(*param.default_value)
                                            : Value::undefined(fmt::format("'{}' is undefined", param.name));
            }
            assign(param.name, std::move(value));
        }
        text = capture(macro.body);
    } catch (...) {
        pop_frame();
        macro_frames_.pop_back();
        budget_.leave_macro();
        throw;
    }
    pop_frame();
    macro_frames_.pop_back();
    budget_.leave_macro();
    return Value::string(std::move(text));  // capture() has charged it already
}

// ---------------------------------------------------------------------------------------------
// Expressions

Value Interpreter::eval(const Expr& expr) {
    budget_.step();
    DepthGuard guard(budget_);
    try {
        return eval_inner(expr);
    } catch (const EvalError& error) {
        throw_positioned(expr.pos, error);
    }
}

CallArgs Interpreter::eval_args(const Expr& expr, size_t first_child) {
    CallArgs args;
    for (size_t i = first_child; i < expr.children.size(); ++i) args.positional.push_back(eval(*expr.children[i]));
    for (const auto& [key, value] : expr.keywords) args.keyword.emplace_back(key, eval(*value));
    return args;
}

Value Interpreter::eval_inner(const Expr& expr) {
    const auto& c = expr.children;
    switch (expr.kind) {
        case ExprKind::Literal: return expr.literal;
        case ExprKind::Name: return lookup(expr.name);
        case ExprKind::List: {
            Value::List items;
            items.reserve(c.size());
            for (const ExprPtr& child : c) items.push_back(eval(*child));
            return expr.tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
        }
        case ExprKind::Dict: {
            Dict dict;
            for (size_t i = 0; i + 1 < c.size(); i += 2) {
                const Value key = eval(*c[i]);
                if (!key.is_string()) throw EvalError(fmt::format("dict keys must be strings, not {}", type_name(key)));
                dict.set(key.as_bytes(), eval(*c[i + 1]));
            }
            return Value::dict(std::move(dict));
        }
        case ExprKind::Attribute: return get_attribute(eval(*c[0]), expr.name);
        case ExprKind::Index: return get_item(eval(*c[0]), eval(*c[1]));
        case ExprKind::Slice: {
            const Value object = eval(*c[0]);
            const Value start = c[1] ? eval(*c[1]) : Value::none();
            const Value stop = c[2] ? eval(*c[2]) : Value::none();
            const Value step = c[3] ? eval(*c[3]) : Value::none();
            return get_slice(*this, object, start, stop, step);
        }
        case ExprKind::Call: return eval_call(expr);
        case ExprKind::Filter: {
            const Value operand = eval(*c[0]);
            return apply_filter(*this, expr.name, operand, eval_args(expr, 1));
        }
        case ExprKind::Test: {
            const Value operand = eval(*c[0]);
            const bool result = apply_test(*this, expr.name, operand, eval_args(expr, 1));
            return Value::boolean(result != expr.negated);
        }
        case ExprKind::Not: return Value::boolean(!truthy(eval(*c[0])));
        case ExprKind::Negate: return unary_minus(eval(*c[0]));
        case ExprKind::Plus: return unary_plus(eval(*c[0]));
        case ExprKind::Binary: return binary_operator(*this, expr.name, eval(*c[0]), eval(*c[1]));
        case ExprKind::Compare: return eval_compare(expr);
        case ExprKind::And: {
            Value left = eval(*c[0]);
            return truthy(left) ? eval(*c[1]) : left;
        }
        case ExprKind::Or: {
            Value left = eval(*c[0]);
            return truthy(left) ? left : eval(*c[1]);
        }
        case ExprKind::Conditional:
            if (truthy(eval(*c[0]))) return eval(*c[1]);
            if (c[2]) return eval(*c[2]);
            return Value::undefined("the inline if-expression evaluated to false and has no else section");
    }
    throw EvalError("unknown expression");
}

Value Interpreter::eval_compare(const Expr& expr) {
    Value left = eval(*expr.children[0]);
    for (size_t i = 0; i < expr.ops.size(); ++i) {
        Value right = eval(*expr.children[i + 1]);
        const std::string& op = expr.ops[i];
        bool result = false;
        if (op == "==") result = values_equal(left, right, budget_);
        else if (op == "!=") result = !values_equal(left, right, budget_);
        else if (op == "in") result = contains(right, left, budget_);
        else if (op == "notin") result = !contains(right, left, budget_);
        else {
            const int order = compare_values(left, right, budget_, op);
            if (op == "<") result = order < 0;
            else if (op == "<=") result = order <= 0;
            else if (op == ">") result = order > 0;
            else result = order >= 0;
        }
        if (!result) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

Value Interpreter::eval_call(const Expr& expr) {
    const Value callee = eval(*expr.children[0]);
    return call(callee, eval_args(expr, 1));
}

Value Interpreter::call(const Value& callee, CallArgs args) {
    if (callee.is_callable()) return callee.as_callable().call(*this, std::move(args));
    if (callee.is_undefined()) throw EvalError(std::string(callee.undefined_name()));
    throw EvalError(fmt::format("'{}' object is not callable", type_name(callee)));
}

}  // namespace peregrine::chat
