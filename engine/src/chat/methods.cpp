// Attribute, item and slice access; the Python methods of strings and dicts that templates call
// ('x'.strip(), message.content.split('</think>'), tool.items()); and the global functions.
#include <algorithm>
#include <array>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/interpreter.h"

namespace peregrine::chat {

// ---------------------------------------------------------------------------------------------
// Argument binding

Value ArgReader::get(size_t index, std::string_view name, Value fallback) {
    if (index < args_.positional.size()) {
        positional_used_ = std::max(positional_used_, index + 1);
        return args_.positional[index];
    }
    for (const auto& [key, value] : args_.keyword) {
        if (key == name) {
            ++keywords_used_;
            return value;
        }
    }
    return fallback;
}

void ArgReader::finish() const {
    if (args_.positional.size() > positional_used_)
        throw EvalError(fmt::format("{}() got too many positional arguments", function_));
    if (args_.keyword.size() > keywords_used_)
        throw EvalError(fmt::format("{}() got an unexpected keyword argument", function_));
}

void throw_argument_type(std::string_view function, std::string_view what, std::string_view expected, const Value& got) {
    throw EvalError(fmt::format("{}(): {} must be {}, not {}", function, what, expected, type_name(got)));
}

// ---------------------------------------------------------------------------------------------
// Case mapping

Text change_case(const Text& text, CaseMode mode) {
    Text out;
    bool at_start = true;      // Capitalize
    bool previous_cased = false;  // PythonTitle
    bool after_boundary = true;   // JinjaTitle
    text.for_each_run([&](std::string_view run, bool tainted) {
        std::string mapped;
        mapped.reserve(run.size());
        for (size_t pos = 0; pos < run.size();) {
            uint32_t cp = 0;
            const size_t len = utf8_decode(run, pos, cp);
            uint32_t result = cp;
            switch (mode) {
                case CaseMode::Upper: result = to_upper(cp); break;
                case CaseMode::Lower: result = to_lower(cp); break;
                case CaseMode::Capitalize:
                    result = at_start ? to_upper(cp) : to_lower(cp);
                    at_start = false;
                    break;
                case CaseMode::PythonTitle: {
                    const bool cased = is_cased_letter(cp);
                    result = cased ? (previous_cased ? to_lower(cp) : to_upper(cp)) : cp;
                    previous_cased = cased;
                    break;
                }
                case CaseMode::JinjaTitle: {
                    const bool boundary = is_python_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
                    result = boundary ? cp : (after_boundary ? to_upper(cp) : to_lower(cp));
                    after_boundary = boundary;
                    break;
                }
            }
            if (result == cp) mapped.append(run.substr(pos, len));  // also keeps invalid bytes as they are
            else utf8_encode(result, mapped);
            pos += len;
        }
        out.append(mapped, tainted);
    });
    return out;
}

namespace {

// ---------------------------------------------------------------------------------------------
// String methods

Text strip_text(const Text& text, const Value& chars, bool left, bool right, std::string_view function) {
    const bool use_chars = !chars.is_none() && !chars.is_undefined();
    if (use_chars && !chars.is_string()) throw_argument_type(function, "chars", "a string or None", chars);
    const std::string_view bytes = text.bytes();
    const std::string_view set = use_chars ? std::string_view(chars.as_bytes()) : std::string_view();
    const size_t begin = left ? lstrip_offset(bytes, set, use_chars) : 0;
    const size_t end = right ? begin + rstrip_offset(bytes.substr(begin), set, use_chars) : bytes.size();
    return text.slice(begin, end);
}

Value split_text(Interpreter& interp, const Text& text, const Value& sep, int64_t max_split) {
    Value::List parts;
    const std::string_view bytes = text.bytes();
    const auto push = [&](size_t b, size_t e) {
        interp.budget().check_list_size(parts.size() + 1);
        interp.budget().step();
        parts.push_back(Value::string(text.slice(b, e)));
    };
    if (sep.is_none() || sep.is_undefined()) {  // runs of whitespace, no empty parts
        size_t pos = lstrip_offset(bytes);
        while (pos < bytes.size()) {
            if (max_split >= 0 && static_cast<int64_t>(parts.size()) >= max_split) {
                push(pos, bytes.size());  // Python keeps the rest as it is, trailing spaces included
                break;
            }
            size_t end = pos;
            while (end < bytes.size()) {
                uint32_t cp = 0;
                const size_t len = utf8_decode(bytes, end, cp);
                if (is_python_space(cp)) break;
                end += len;
            }
            push(pos, end);
            pos = end + lstrip_offset(bytes.substr(end));
        }
        return Value::list(std::move(parts));
    }
    if (!sep.is_string()) throw_argument_type("split", "sep", "a string or None", sep);
    const std::string_view separator = sep.as_bytes();
    if (separator.empty()) throw EvalError("split(): empty separator");
    size_t pos = 0;
    while (true) {
        const size_t hit = (max_split >= 0 && static_cast<int64_t>(parts.size()) >= max_split)
                               ? std::string_view::npos
                               : find_bytes(bytes, separator, pos);
        if (hit == std::string_view::npos) {
            push(pos, bytes.size());
            break;
        }
        push(pos, hit);
        pos = hit + separator.size();
    }
    return Value::list(std::move(parts));
}

Value replace_text(Interpreter& interp, const Text& text, const Value& old_value, const Value& new_value,
                   int64_t count, std::string_view function) {
    if (!old_value.is_string()) throw_argument_type(function, "old", "a string", old_value);
    if (!new_value.is_string()) throw_argument_type(function, "new", "a string", new_value);
    const std::string_view bytes = text.bytes();
    const std::string_view old_bytes = old_value.as_bytes();
    TextBuilder out(interp.budget());
    int64_t done = 0;
    if (old_bytes.empty()) {  // Python inserts `new` before every character and at the end
        const std::vector<size_t> offsets = utf8_offsets(bytes);
        for (size_t i = 0; i + 1 < offsets.size(); ++i) {
            if (count < 0 || done < count) {
                out.append(new_value.as_text());
                ++done;
            }
            out.append(text.slice(offsets[i], offsets[i + 1]));
        }
        if (count < 0 || done < count) out.append(new_value.as_text());
        return Value::string(out.take());
    }
    size_t pos = 0;
    while (count < 0 || done < count) {
        const size_t hit = find_bytes(bytes, old_bytes, pos);
        if (hit == std::string_view::npos) break;
        interp.budget().step();
        out.append(text.slice(pos, hit));
        out.append(new_value.as_text());
        pos = hit + old_bytes.size();
        ++done;
    }
    out.append(text.slice(pos, bytes.size()));
    return Value::string(out.take());
}

bool affix_matches(const Value& self, const Value& affix, bool prefix, std::string_view function) {
    const std::string& s = self.as_bytes();
    const auto one = [&](const Value& candidate) {
        if (!candidate.is_string()) throw_argument_type(function, "argument", "a string or a tuple of strings", candidate);
        const std::string& a = candidate.as_bytes();
        if (a.size() > s.size()) return false;
        return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
    };
    if (affix.is_list()) {
        for (const Value& candidate : affix.as_list())
            if (one(candidate)) return true;
        return false;
    }
    return one(affix);
}

int64_t int_arg(const Value& v, std::string_view function, std::string_view what, int64_t fallback) {
    if (v.is_undefined() || v.is_none()) return fallback;
    if (!v.is_int() && !v.is_bool()) throw_argument_type(function, what, "an integer", v);
    return v.as_int();
}

Value call_string_method(Interpreter& interp, const Value& self, std::string_view method, CallArgs& args) {
    const Text& text = self.as_text();
    ArgReader a(method, args);
    Value result;
    if (method == "strip" || method == "lstrip" || method == "rstrip") {
        const Value chars = a.get(0, "chars", Value::none());
        result = Value::string(strip_text(text, chars, method != "rstrip", method != "lstrip", method));
    } else if (method == "split") {
        const Value sep = a.get(0, "sep", Value::none());
        const int64_t max_split = int_arg(a.get(1, "maxsplit"), method, "maxsplit", -1);
        result = split_text(interp, text, sep, max_split);
    } else if (method == "startswith" || method == "endswith") {
        result = Value::boolean(affix_matches(self, a.get(0, method == "startswith" ? "prefix" : "suffix"),
                                              method == "startswith", method));
    } else if (method == "upper" || method == "lower" || method == "title" || method == "capitalize") {
        const CaseMode mode = method == "upper" ? CaseMode::Upper
                              : method == "lower" ? CaseMode::Lower
                              : method == "title" ? CaseMode::PythonTitle
                                                  : CaseMode::Capitalize;
        result = Value::string(change_case(text, mode));
    } else if (method == "replace") {
        const Value old_value = a.get(0, "old");
        const Value new_value = a.get(1, "new");
        result = replace_text(interp, text, old_value, new_value, int_arg(a.get(2, "count"), method, "count", -1), method);
    } else if (method == "find" || method == "count") {
        const Value sub = a.get(0, "sub");
        if (!sub.is_string()) throw_argument_type(method, "sub", "a string", sub);
        const std::string_view bytes = text.bytes();
        if (method == "find") {
            const size_t hit = find_bytes(bytes, sub.as_bytes());
            result = Value::integer(hit == std::string_view::npos ? -1 : static_cast<int64_t>(utf8_length(bytes.substr(0, hit))));
        } else if (sub.as_bytes().empty()) {
            result = Value::integer(static_cast<int64_t>(utf8_length(bytes)) + 1);
        } else {
            int64_t n = 0;
            for (size_t pos = find_bytes(bytes, sub.as_bytes()); pos != std::string_view::npos;
                 pos = find_bytes(bytes, sub.as_bytes(), pos + sub.as_bytes().size()))
                ++n;
            result = Value::integer(n);
        }
    } else if (method == "join") {
        const Value::List items = iterate(a.get(0, "iterable"), interp.budget());
        TextBuilder out(interp.budget());
        for (size_t i = 0; i < items.size(); ++i) {
            if (!items[i].is_string()) throw_argument_type(method, "sequence item", "a string", items[i]);
            if (i > 0) out.append(text);
            out.append(items[i].as_text());
        }
        result = Value::string(out.take());
    }
    a.finish();
    if (result.is_string()) interp.budget().charge_string(result.as_text());
    return result;
}

Value call_dict_method(Interpreter& interp, const Value& self, std::string_view method, CallArgs& args) {
    ArgReader a(method, args);
    const Dict& dict = self.as_dict();
    Value result;
    if (method == "get") {
        const Value key = a.get(0, "key");
        const Value fallback = a.get(1, "default", Value::none());
        const Value* found = key.is_string() ? dict.find(key.as_bytes()) : nullptr;
        result = found ? *found : fallback;
    } else {
        interp.budget().step(dict.entries.size());
        Value::List items;
        for (const auto& [key, value] : dict.entries) {
            if (method == "keys") items.push_back(Value::plain(key));
            else if (method == "values") items.push_back(value);
            else items.push_back(Value::tuple({Value::plain(key), value}));
        }
        result = Value::list(std::move(items));
    }
    a.finish();
    return result;
}

constexpr std::array<std::string_view, 13> kStringMethods = {
    "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper",
    "lower", "title", "capitalize", "replace", "find", "join"};
constexpr std::array<std::string_view, 4> kDictMethods = {"items", "keys", "values", "get"};

bool is_string_method(std::string_view name) {
    return name == "count" || std::find(kStringMethods.begin(), kStringMethods.end(), name) != kStringMethods.end();
}
bool is_dict_method(std::string_view name) {
    return std::find(kDictMethods.begin(), kDictMethods.end(), name) != kDictMethods.end();
}

// 'abc'.strip as a value: the receiver and the method name.
class BoundMethod final : public Callable {
public:
    BoundMethod(Value self, std::string_view method) : self_(std::move(self)), method_(method) {}
    std::string_view name() const override { return method_; }
    Value call(Interpreter& interp, CallArgs args) const override {
        if (self_.is_string()) return call_string_method(interp, self_, method_, args);
        return call_dict_method(interp, self_, method_, args);
    }

private:
    Value self_;
    std::string method_;
};

// ---------------------------------------------------------------------------------------------
// Global functions

class GlobalFunction final : public Callable {
public:
    using Fn = Value (*)(Interpreter&, CallArgs&);
    GlobalFunction(std::string_view name, Fn fn) : name_(name), fn_(fn) {}
    std::string_view name() const override { return name_; }
    Value call(Interpreter& interp, CallArgs args) const override { return fn_(interp, args); }

private:
    std::string_view name_;
    Fn fn_;
};

Value fn_range(Interpreter& interp, CallArgs& args) {
    ArgReader a("range", args);
    const Value first = a.get(0, "start");
    const Value second = a.get(1, "stop");
    const Value third = a.get(2, "step");
    a.finish();
    int64_t start = 0, stop = 0, step = 1;
    if (second.is_undefined()) {
        stop = int_arg(first, "range", "stop", 0);
        if (first.is_undefined()) throw EvalError("range() expected at least 1 argument");
    } else {
        start = int_arg(first, "range", "start", 0);
        stop = int_arg(second, "range", "stop", 0);
        step = int_arg(third, "range", "step", 1);
    }
    if (step == 0) throw EvalError("range() arg 3 must not be zero");
    // Count in 128 bits so hostile bounds cannot overflow, and check it before allocating.
    const __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
    const __int128 magnitude = step > 0 ? step : -static_cast<__int128>(step);
    const __int128 count = span <= 0 ? 0 : (span + magnitude - 1) / magnitude;
    if (count > interp.budget().limits().max_loop_iterations)
        throw_limit("list size (range)", interp.budget().limits().max_loop_iterations);
    interp.budget().step(static_cast<size_t>(count));
    Value::List items;
    items.reserve(static_cast<size_t>(count));
    for (__int128 i = 0; i < count; ++i) items.push_back(Value::integer(static_cast<int64_t>(start + i * step)));
    return Value::list(std::move(items));
}

Dict keyword_dict(CallArgs& args, std::string_view function) {
    Dict dict;
    if (args.positional.size() > 1) throw EvalError(fmt::format("{}() takes at most 1 positional argument", function));
    if (!args.positional.empty()) {
        const Value& initial = args.positional[0];
        if (!initial.is_dict() && !initial.is_namespace()) throw_argument_type(function, "argument", "a dict", initial);
        dict = initial.as_dict();
    }
    for (auto& [key, value] : args.keyword) dict.set(key, std::move(value));
    return dict;
}

Value fn_namespace(Interpreter&, CallArgs& args) { return Value::make_namespace(keyword_dict(args, "namespace")); }
Value fn_dict(Interpreter&, CallArgs& args) { return Value::dict(keyword_dict(args, "dict")); }

Value fn_raise_exception(Interpreter& interp, CallArgs& args) {
    ArgReader a("raise_exception", args);
    const Value message = a.get(0, "message", Value::plain(""));
    a.finish();
    throw InvalidRequestError(fmt::format("chat template rejected the conversation: {}",
                                          to_text(interp.budget(), message).bytes()));
}

Value fn_strftime_now(Interpreter& interp, CallArgs& args) {
    ArgReader a("strftime_now", args);
    const Value format = a.get(0, "format");
    a.finish();
    if (!format.is_string()) throw_argument_type("strftime_now", "format", "a string", format);
    if (format.as_bytes().size() > 256) throw EvalError("strftime_now(): format string too long");
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buffer[1024];
    const size_t n = std::strftime(buffer, sizeof buffer, format.as_bytes().c_str(), &local);
    return interp.make_string(Text(std::string(buffer, n)));
}

}  // namespace

Dict global_functions() {
    Dict globals;
    const auto add = [&](std::string_view name, GlobalFunction::Fn fn) {
        globals.set(std::string(name), Value::callable(std::make_shared<GlobalFunction>(name, fn)));
    };
    add("range", fn_range);
    add("namespace", fn_namespace);
    add("dict", fn_dict);
    add("raise_exception", fn_raise_exception);
    add("strftime_now", fn_strftime_now);
    return globals;
}

// ---------------------------------------------------------------------------------------------
// Access

Value get_attribute(const Value& object, std::string_view name) {
    switch (object.kind()) {
        case Value::Kind::Undefined:
            throw EvalError(std::string(object.undefined_name()));
        case Value::Kind::Dict:
            // Jinja looks up Python attributes first, so d.items is the method even if a key "items" exists.
            if (is_dict_method(name)) return Value::callable(std::make_shared<BoundMethod>(object, name));
            [[fallthrough]];
        case Value::Kind::Namespace:
            if (const Value* found = object.as_dict().find(name)) return *found;
            break;
        case Value::Kind::String:
            if (is_string_method(name)) return Value::callable(std::make_shared<BoundMethod>(object, name));
            break;
        default:
            break;
    }
    return Value::undefined(fmt::format("'{}' object has no attribute '{}'", type_name(object), name));
}

Value get_item(const Value& object, const Value& key) {
    if (object.is_undefined()) throw EvalError(std::string(object.undefined_name()));
    if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
        int64_t index = key.as_int();
        if (object.is_list()) {
            const auto n = static_cast<int64_t>(object.as_list().size());
            if (index < 0) index += n;
            if (index >= 0 && index < n) return object.as_list()[static_cast<size_t>(index)];
        } else {
            const std::vector<size_t> offsets = utf8_offsets(object.as_bytes());
            const auto n = static_cast<int64_t>(offsets.size()) - 1;
            if (index < 0) index += n;
            if (index >= 0 && index < n)
                return Value::string(object.as_text().slice(offsets[static_cast<size_t>(index)], offsets[static_cast<size_t>(index) + 1]));
        }
        return Value::undefined(fmt::format("{} index {} out of range", type_name(object), key.as_int()));
    }
    if ((object.is_dict() || object.is_namespace()) && key.is_string()) {
        if (const Value* found = object.as_dict().find(key.as_bytes())) return *found;
        return Value::undefined(fmt::format("'{}' object has no attribute '{}'", type_name(object), key.as_bytes()));
    }
    if (key.is_string()) return get_attribute(object, key.as_bytes());
    return Value::undefined(fmt::format("'{}' object has no item {}", type_name(object), type_name(key)));
}

Value get_slice(Interpreter& interp, const Value& object, const Value& start_value, const Value& stop_value,
                const Value& step_value) {
    if (object.is_undefined()) throw EvalError(std::string(object.undefined_name()));
    if (!object.is_list() && !object.is_string())
        throw EvalError(fmt::format("'{}' object cannot be sliced", type_name(object)));
    const auto bound = [](const Value& v) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!v.is_int() && !v.is_bool()) throw EvalError("slice indices must be integers or None");
        return v.as_int();
    };
    const std::optional<int64_t> start_opt = bound(start_value), stop_opt = bound(stop_value), step_opt = bound(step_value);
    const int64_t step = step_opt.value_or(1);
    if (step == 0) throw EvalError("slice step cannot be zero");

    std::vector<size_t> offsets;  // strings slice by code point
    if (object.is_string()) offsets = utf8_offsets(object.as_bytes());
    const int64_t n = object.is_list() ? static_cast<int64_t>(object.as_list().size()) : static_cast<int64_t>(offsets.size()) - 1;
    // Python's PySlice_AdjustIndices.
    const auto adjust = [&](std::optional<int64_t> v, int64_t if_none) {
        if (!v) return if_none;
        int64_t i = *v;
        if (i < 0) {
            i += n;
            if (i < 0) i = step < 0 ? -1 : 0;
        } else if (i >= n) {
            i = step < 0 ? n - 1 : n;
        }
        return i;
    };
    const int64_t start = adjust(start_opt, step < 0 ? n - 1 : 0);
    const int64_t stop = adjust(stop_opt, step < 0 ? -1 : n);

    if (object.is_string() && step == 1) {
        if (stop <= start) return Value::plain("");
        return Value::string(object.as_text().slice(offsets[static_cast<size_t>(start)], offsets[static_cast<size_t>(stop)]));
    }
    Value::List items;
    TextBuilder text(interp.budget());
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        interp.budget().step();
        const auto u = static_cast<size_t>(i);
        if (object.is_list()) items.push_back(object.as_list()[u]);
        else text.append(object.as_text().slice(offsets[u], offsets[u + 1]));
    }
    if (object.is_list()) return object.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    return Value::string(text.take());
}

}  // namespace peregrine::chat
