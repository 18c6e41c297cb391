// Resource accounting for one render of an untrusted template, and the error type the interpreter's
// helpers throw (the interpreter adds the template position before it reaches the caller).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "chat/text.h"
#include "peregrine/chat_template.h"
#include "peregrine/error.h"

namespace peregrine::chat {

struct SourcePos {
    int line = 1;
    int column = 1;
};

// A render-time error without position yet; the interpreter turns it into peregrine::Error
// "chat template: line L:C: message" at the innermost node being evaluated.
class EvalError : public Error {
public:
    using Error::Error;
};

[[noreturn]] void throw_limit(std::string_view what, long long limit);

// Counters checked on every step; each exceeded limit throws EvalError("... limit (N) exceeded").
class Budget {
public:
    explicit Budget(const ChatTemplateLimits& limits) : limits_(limits) {}
    const ChatTemplateLimits& limits() const { return limits_; }

    void step(size_t n = 1) {
        steps_ += n;
        if (steps_ > static_cast<size_t>(limits_.max_steps)) throw_limit("step", limits_.max_steps);
    }
    void loop_iteration() {
        if (++iterations_ > limits_.max_loop_iterations)
            throw_limit("loop iteration", limits_.max_loop_iterations);
    }
    // Lists are capped by the loop limit: anything longer could not be iterated anyway.
    void check_list_size(size_t n) const {
        if (n > static_cast<size_t>(limits_.max_loop_iterations))
            throw_limit("list size", limits_.max_loop_iterations);
    }
    // No single string may be larger than the whole prompt may be.
    void check_string_size(size_t bytes, std::string_view what = "string size") const {
        if (bytes > limits_.max_output_bytes) throw_limit(what, static_cast<long long>(limits_.max_output_bytes));
    }
    // Every string the render builds is charged, so repeated copying of large strings ends too.
    void charge_string(const Text& text) {
        check_string_size(text.size());
        total_string_bytes_ += text.cost();
        if (total_string_bytes_ > limits_.max_total_string_bytes)
            throw_limit("total string bytes", static_cast<long long>(limits_.max_total_string_bytes));
    }

    // Interpreter recursion (expressions, statements, macro bodies). Bounds the C++ stack.
    void enter() {
        if (depth_ + 1 > max_depth()) throw_limit("recursion depth", max_depth());
        ++depth_;
    }
    void leave() { --depth_; }
    void enter_macro() {
        if (macro_depth_ + 1 > limits_.max_recursion_depth)
            throw_limit("macro recursion", limits_.max_recursion_depth);
        ++macro_depth_;
    }
    void leave_macro() { --macro_depth_; }

private:
    int max_depth() const { return 2 * limits_.max_nesting_depth + 8 * limits_.max_recursion_depth; }

    ChatTemplateLimits limits_;
    size_t steps_ = 0;
    int iterations_ = 0;
    size_t total_string_bytes_ = 0;
    int depth_ = 0;
    int macro_depth_ = 0;
};

// Scoped Budget::enter()/leave().
class DepthGuard {
public:
    explicit DepthGuard(Budget& budget) : budget_(budget) { budget_.enter(); }
    ~DepthGuard() { budget_.leave(); }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

private:
    Budget& budget_;
};

// Builds a Text under the string size limit; checks before each append, so a huge result is
// refused before it is allocated.
class TextBuilder {
public:
    // `what` names the limit in the error ("output size" for the rendered prompt).
    explicit TextBuilder(Budget& budget, std::string_view what = "string size") : budget_(budget), what_(what) {}
    void append(const Text& text) {
        reserve_check(text.size());
        text_.append(text);
    }
    void append(std::string_view bytes, bool tainted = false) {
        reserve_check(bytes.size());
        text_.append(bytes, tainted);
    }
    size_t size() const { return text_.size(); }
    Budget& budget() { return budget_; }
    Text take() {
        budget_.charge_string(text_);
        return std::move(text_);
    }

private:
    void reserve_check(size_t extra) { budget_.check_string_size(text_.size() + extra, what_); }

    Budget& budget_;
    std::string_view what_;
    Text text_;
};

}  // namespace peregrine::chat
