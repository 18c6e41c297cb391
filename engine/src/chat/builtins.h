// Everything a template can call that is not syntax: filters and tests (filters.cpp), attribute
// and item access with the string/dict methods they expose, and the global functions (methods.cpp).
#pragma once

#include <string>
#include <string_view>

#include "chat/value.h"

namespace peregrine::chat {

class Interpreter;

// Jinja rejects unknown filters and tests when it compiles a template; the parser does the same.
bool is_known_filter(std::string_view name);
bool is_known_test(std::string_view name);

Value apply_filter(Interpreter& interpreter, std::string_view name, const Value& operand, CallArgs args);
bool apply_test(Interpreter& interpreter, std::string_view name, const Value& operand, CallArgs args);

// obj.name: dict keys, namespace attributes, and the methods of strings and dicts (bound).
// An undefined `obj` throws EvalError; a missing attribute gives an undefined value.
Value get_attribute(const Value& object, std::string_view name);
// obj[key]: list and string indexing (negative from the end), dict keys, else as get_attribute.
Value get_item(const Value& object, const Value& key);
// obj[start:stop:step] on strings (by code point) and lists, with Python's slice rules.
Value get_slice(Interpreter& interpreter, const Value& object, const Value& start, const Value& stop,
                const Value& step);

// range, namespace, dict, raise_exception, strftime_now.
Dict global_functions();

// Case changes, code point by code point. Every mapping keeps the UTF-8 length (see text.h), so
// taint marks carry over unchanged.
enum class CaseMode {
    Upper,
    Lower,
    Capitalize,   // str.capitalize(): first character upper, the rest lower
    PythonTitle,  // str.title(): upper after any uncased character
    JinjaTitle,   // the `title` filter: upper after whitespace, '-', '(', '{', '[', '<'
};
Text change_case(const Text& text, CaseMode mode);

// Argument binding for builtins: positional first, then keywords by name.
class ArgReader {
public:
    ArgReader(std::string_view function, CallArgs& args) : function_(function), args_(args) {}
    // The argument at `index` (or keyword `name`), or `fallback` when absent.
    Value get(size_t index, std::string_view name, Value fallback = {});
    // Throws EvalError if arguments were passed that no get() asked for.
    void finish() const;

private:
    std::string_view function_;
    CallArgs& args_;
    size_t positional_used_ = 0;
    size_t keywords_used_ = 0;
};

// Throws EvalError "<function>: <what> must be <expected>, not <type>".
[[noreturn]] void throw_argument_type(std::string_view function, std::string_view what, std::string_view expected,
                                      const Value& got);

}  // namespace peregrine::chat
