// Tree-walking interpreter for a parsed template. One Interpreter renders once; it owns the scopes,
// the output buffers and the Budget that bounds the render.
#pragma once

#include <string>
#include <vector>

#include "chat/ast.h"
#include "chat/budget.h"
#include "chat/value.h"

namespace peregrine::chat {

class Interpreter {
public:
    Interpreter(const Program& program, const ChatTemplateLimits& limits);

    // Runs the template with these global variables. Throws peregrine::Error
    // "chat template: error at line L:C: ..." for template errors and exceeded limits, and
    // InvalidRequestError when the template calls raise_exception().
    Text render(Dict globals);

    Budget& budget() { return budget_; }
    Value eval(const Expr& expr);
    Value call(const Value& callee, CallArgs args);
    // Wraps a newly built string, charging it to the budget.
    Value make_string(Text text);

    // Called by macro values.
    Value call_macro(const Stmt& macro, CallArgs args);

private:
    enum class Flow { Normal, Break, Continue };
    struct Frame {
        std::vector<std::pair<std::string, Value>> variables;
    };

    Flow exec_body(const Body& body);
    Flow exec(const Stmt& stmt);
    Flow exec_for(const Stmt& stmt);
    void exec_set(const Stmt& stmt);
    Value eval_inner(const Expr& expr);
    Value eval_binary(const Expr& expr);
    Value eval_compare(const Expr& expr);
    Value eval_call(const Expr& expr);
    CallArgs eval_args(const Expr& expr, size_t first_child);
    Text capture(const Body& body);

    Value lookup(std::string_view name) const;
    void assign(const std::string& name, Value value);
    void bind_targets(const std::vector<std::string>& targets, const Value& value);
    void push_frame() { frames_.emplace_back(); }
    void pop_frame() { frames_.pop_back(); }

    const Program& program_;
    Budget budget_;
    std::vector<Frame> frames_;          // frames_[0] holds the globals and top-level assignments
    std::vector<size_t> macro_frames_;   // first frame of each running macro call: lookups stop there
    std::vector<TextBuilder> sinks_;     // output of the template, or of a macro / set block being captured
};

}  // namespace peregrine::chat
