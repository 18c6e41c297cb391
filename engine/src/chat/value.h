// Values of the template interpreter, with Python/Jinja semantics: truthiness, str(), repr(),
// json.dumps, equality, ordering, iteration and membership.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "chat/budget.h"
#include "chat/text.h"

namespace peregrine::chat {

class Interpreter;
class Value;

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
};

// Macros, global functions (range, namespace, raise_exception) and bound methods ('x'.strip).
class Callable {
public:
    virtual ~Callable() = default;
    virtual std::string_view name() const = 0;
    virtual Value call(Interpreter& interpreter, CallArgs args) const = 0;
};

// An insertion-ordered string-keyed map (Python dicts keep insertion order, and templates print
// and tojson dicts in that order). Templates hold few keys, so lookup is linear.
struct Dict {
    std::vector<std::pair<std::string, Value>> entries;

    const Value* find(std::string_view key) const;
    void set(std::string key, Value value);  // replaces in place or appends
};

class Value {
public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };
    using List = std::vector<Value>;

    Value() = default;  // undefined
    static Value undefined(std::string what);
    static Value none();
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value number(double d);
    static Value string(Text text);
    static Value plain(std::string_view bytes);  // an untainted string
    static Value list(List items);
    static Value tuple(List items);  // a list that prints as (a, b) like Python's tuples
    static Value dict(Dict dict);
    static Value make_namespace(Dict attributes);  // mutable through {% set ns.x = ... %}
    static Value callable(std::shared_ptr<const Callable> fn);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int; }
    bool is_float() const { return kind_ == Kind::Float; }
    bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_list() const { return kind_ == Kind::List; }
    bool is_tuple() const { return kind_ == Kind::List && tuple_; }
    bool is_dict() const { return kind_ == Kind::Dict; }
    bool is_namespace() const { return kind_ == Kind::Namespace; }
    bool is_callable() const { return kind_ == Kind::Callable; }

    bool as_bool() const { return std::get<bool>(data_); }
    int64_t as_int() const;    // Int or Bool
    double as_float() const;   // any number
    const Text& as_text() const { return *std::get<TextPtr>(data_); }
    const std::string& as_bytes() const { return as_text().bytes(); }
    const List& as_list() const { return *std::get<ListPtr>(data_); }
    const Dict& as_dict() const { return *std::get<DictPtr>(data_); }  // Dict or Namespace
    Dict& namespace_attributes() const { return *std::get<DictPtr>(data_); }
    const Callable& as_callable() const { return *std::get<CallablePtr>(data_); }
    // What an undefined value stood for ("x", "message.tool_calls"), for error messages.
    std::string_view undefined_name() const;
    // Identity of shared containers, for the `sameas` test.
    const void* identity() const;
    // Containers nest at most kMaxDepth deep (their destructors and comparisons recurse), and
    // namespaces may not be stored inside namespaces, so no value can contain itself.
    static constexpr int kMaxDepth = 256;
    int depth() const { return depth_; }
    bool holds_namespace() const { return holds_namespace_; }

private:
    using TextPtr = std::shared_ptr<const Text>;
    using ListPtr = std::shared_ptr<const List>;
    using DictPtr = std::shared_ptr<Dict>;
    using CallablePtr = std::shared_ptr<const Callable>;
    using NamePtr = std::shared_ptr<const std::string>;

    void set_container_shape(const Value& item);

    Kind kind_ = Kind::Undefined;
    uint16_t depth_ = 0;
    bool holds_namespace_ = false;
    bool tuple_ = false;
    std::variant<std::monostate, bool, int64_t, double, TextPtr, ListPtr, DictPtr, CallablePtr, NamePtr> data_;
};

// Python's type names, as Jinja's error messages show them ("str", "int", "NoneType").
std::string_view type_name(const Value& value);

bool truthy(const Value& value);

// Python's repr() of a float ("1.0", "0.1", "1e+20", "inf").
std::string format_python_float(double value);

// Python str(): strings as they are (taint kept), undefined as "", None as "None", containers as repr.
void append_str(TextBuilder& out, const Value& value);
Text to_text(Budget& budget, const Value& value);
// Python repr(): strings quoted and escaped (taint kept per character).
void append_repr(TextBuilder& out, const Value& value);

// json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sort_keys), the `tojson` transformers
// installs. indent < 0 means None (", " and ": " separators on one line).
void append_json(TextBuilder& out, const Value& value, int indent, bool sort_keys, int level = 0);

// Python ==, with int/float/bool comparing numerically. Charges a step per element compared.
bool values_equal(const Value& a, const Value& b, Budget& budget);
// Python ordering (<0, 0, >0) for numbers, strings and lists; EvalError for other types.
int compare_values(const Value& a, const Value& b, Budget& budget, std::string_view op);

// Python iteration: list items, dict keys, string characters (code points), nothing for undefined.
// EvalError for values that are not iterable.
Value::List iterate(const Value& value, Budget& budget);
// Python `item in container`.
bool contains(const Value& container, const Value& item, Budget& budget);

// Python's len() for strings (code points), lists and dicts; EvalError otherwise.
int64_t length_of(const Value& value);

}  // namespace peregrine::chat
