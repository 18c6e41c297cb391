// Jinja's built-in filters and tests that chat templates use, with Jinja's semantics (jinja2/filters.py,
// jinja2/tests.py) and transformers' `tojson`. Filters that move string bytes keep their taint marks.
#include <algorithm>
#include <iterator>
#include <optional>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/interpreter.h"

namespace peregrine::chat {

namespace {

constexpr std::string_view kFilters[] = {
    "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
    "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum",
    "title", "tojson", "trim", "unique", "upper", "wordcount"};

constexpr std::string_view kTests[] = {
    "defined", "undefined", "none", "string", "mapping", "iterable", "number", "integer", "float",
    "sequence", "boolean", "true", "false", "callable", "odd", "even", "divisibleby", "eq", "equalto",
    "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in",
    "lower", "upper", "sameas"};

// ---------------------------------------------------------------------------------------------
// Helpers

bool python_punctuation(uint32_t cp) {
    return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2010 && cp <= 0x206F) ||
           (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFF0F);
}

Text case_folded(const Value& v, bool case_sensitive) {
    if (!v.is_string() || case_sensitive) return v.is_string() ? v.as_text() : Text();
    return change_case(v.as_text(), CaseMode::Lower);
}

// Sort/unique key: strings compare case-insensitively unless asked otherwise (Jinja's default).
Value sort_key(const Value& v, bool case_sensitive) {
    if (v.is_string() && !case_sensitive) return Value::string(case_folded(v, false));
    return v;
}

// Jinja's attribute getter: "a.b.0" walks dict keys / attributes / list indexes.
Value attribute_path(const Value& item, const Value& path) {
    if (path.is_int()) return get_item(item, path);
    if (!path.is_string()) throw EvalError("attribute must be a string or an integer");
    Value current = item;
    std::string_view rest = path.as_bytes();
    while (true) {
        const size_t dot = rest.find('.');
        const std::string_view part = rest.substr(0, dot);
        int64_t index = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
        const bool numeric = ec == std::errc() && end == part.data() + part.size() && !part.empty();
        current = numeric ? get_item(current, Value::integer(index)) : get_item(current, Value::plain(part));
        if (dot == std::string_view::npos) return current;
        rest = rest.substr(dot + 1);
    }
}

std::optional<int64_t> parse_python_int(std::string_view s, int base) {
    s = s.substr(lstrip_offset(s));
    s = s.substr(0, rstrip_offset(s));
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    std::string digits;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_') continue;
        digits += s[i];
    }
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return negative ? -value : value;
}

std::optional<double> parse_python_float(std::string_view s) {
    s = s.substr(lstrip_offset(s));
    s = s.substr(0, rstrip_offset(s));
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    double value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

Value filter_int(const Value& v, const Value& fallback, int base) {
    if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
    if (v.is_float()) {
        const double d = std::trunc(v.as_float());
        if (std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
        return fallback;
    }
    if (v.is_string()) {
        if (auto i = parse_python_int(v.as_bytes(), base)) return Value::integer(*i);
        if (auto d = parse_python_float(v.as_bytes())) return filter_int(Value::number(*d), fallback, 10);
    }
    return fallback;
}

Value filter_float(const Value& v, const Value& fallback) {
    if (v.is_number()) return Value::number(v.as_float());
    if (v.is_string())
        if (auto d = parse_python_float(v.as_bytes())) return Value::number(*d);
    return fallback;
}

Value filter_indent(Interpreter& interp, const Text& s, const Value& width, bool first, bool blank) {
    std::string indentation;
    if (width.is_string()) indentation = width.as_bytes();
    else indentation.assign(static_cast<size_t>(std::clamp<int64_t>(width.is_undefined() ? 4 : width.as_int(), 0, 1024)), ' ');
    // Jinja appends "\n" and splits lines, so a trailing newline is dropped and blank lines stay blank.
    std::vector<Text> lines;
    size_t begin = 0;
    const std::string& bytes = s.bytes();
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] == '\n' || bytes[i] == '\r') {
            lines.push_back(s.slice(begin, i));
            if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
            begin = i + 1;
        }
    }
    lines.push_back(s.slice(begin, bytes.size()));
    TextBuilder out(interp.budget());
    if (first) out.append(indentation);
    for (size_t i = 0; i < lines.size(); ++i) {
        interp.budget().step();
        if (i > 0) {
            out.append("\n");
            if (blank || !lines[i].empty()) out.append(indentation);
        }
        out.append(lines[i]);
    }
    return Value::string(out.take());
}

Value filter_escape(Interpreter& interp, const Text& s) {
    TextBuilder out(interp.budget());
    s.for_each_run([&](std::string_view run, bool tainted) {
        std::string piece;
        for (char c : run) {
            switch (c) {
                case '&': piece += "&amp;"; break;
                case '<': piece += "&lt;"; break;
                case '>': piece += "&gt;"; break;
                case '"': piece += "&#34;"; break;
                case '\'': piece += "&#39;"; break;
                default: piece += c;
            }
        }
        out.append(piece, tainted);
    });
    return Value::string(out.take());
}

Value filter_sort(Interpreter& interp, const Value& value, bool reverse, bool case_sensitive, const Value& attribute) {
    Value::List items = iterate(value, interp.budget());
    const size_t n = items.size();
    interp.budget().step(n * (1 + static_cast<size_t>(std::log2(static_cast<double>(n) + 1))));
    std::vector<std::pair<Value, Value>> keyed;  // (key, item)
    keyed.reserve(n);
    for (Value& item : items) {
        Value key = attribute.is_undefined() || attribute.is_none() ? item : attribute_path(item, attribute);
        keyed.emplace_back(sort_key(key, case_sensitive), std::move(item));
    }
    Budget& budget = interp.budget();
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
        const int order = compare_values(a.first, b.first, budget, "<");
        return reverse ? order > 0 : order < 0;
    });
    Value::List out;
    out.reserve(n);
    for (auto& entry : keyed) out.push_back(std::move(entry.second));
    return Value::list(std::move(out));
}

Value filter_select(Interpreter& interp, const Value& value, CallArgs& args, bool by_attribute, bool keep_matches) {
    const std::string_view name = by_attribute ? (keep_matches ? "selectattr" : "rejectattr") : (keep_matches ? "select" : "reject");
    size_t next = 0;
    Value attribute;
    if (by_attribute) {
        if (args.positional.empty()) throw EvalError(fmt::format("{}(): missing attribute name", name));
        attribute = args.positional[next++];
    }
    std::string test;
    if (next < args.positional.size()) {
        const Value& test_name = args.positional[next++];
        if (!test_name.is_string()) throw_argument_type(name, "test", "a test name", test_name);
        test = test_name.as_bytes();
        if (!is_known_test(test)) throw EvalError(fmt::format("{}(): no test named '{}'", name, test));
    }
    Value::List out;
    for (const Value& item : iterate(value, interp.budget())) {
        const Value subject = by_attribute ? attribute_path(item, attribute) : item;
        bool matched = false;
        if (test.empty()) {
            matched = truthy(subject);
        } else {
            CallArgs test_args;
            test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
            matched = apply_test(interp, test, subject, std::move(test_args));
        }
        if (matched == keep_matches) out.push_back(item);
    }
    return Value::list(std::move(out));
}

Value filter_map(Interpreter& interp, const Value& value, CallArgs& args) {
    Value::List out;
    const Value* attribute = nullptr;
    const Value* fallback = nullptr;
    for (const auto& [key, kw] : args.keyword) {
        if (key == "attribute") attribute = &kw;
        else if (key == "default") fallback = &kw;
        else throw EvalError(fmt::format("map(): unexpected keyword argument '{}'", key));
    }
    if (attribute == nullptr && args.positional.empty()) throw EvalError("map(): needs a filter name or attribute=");
    std::string filter;
    if (attribute == nullptr) {
        if (!args.positional[0].is_string()) throw_argument_type("map", "filter", "a filter name", args.positional[0]);
        filter = args.positional[0].as_bytes();
        if (!is_known_filter(filter)) throw EvalError(fmt::format("map(): no filter named '{}'", filter));
    }
    for (const Value& item : iterate(value, interp.budget())) {
        if (attribute != nullptr) {
            Value v = attribute_path(item, *attribute);
            out.push_back(v.is_undefined() && fallback != nullptr ? *fallback : v);
        } else {
            CallArgs filter_args;
            filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
            out.push_back(apply_filter(interp, filter, item, std::move(filter_args)));
        }
    }
    return Value::list(std::move(out));
}

Value filter_min_max(Interpreter& interp, const Value& value, bool want_max, bool case_sensitive, const Value& attribute) {
    const Value::List items = iterate(value, interp.budget());
    if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
    const Value* best = nullptr;
    Value best_key;
    for (const Value& item : items) {
        Value key = sort_key(attribute.is_undefined() || attribute.is_none() ? item : attribute_path(item, attribute), case_sensitive);
        if (best == nullptr) {
            best = &item;
            best_key = key;
            continue;
        }
        const int order = compare_values(key, best_key, interp.budget(), want_max ? ">" : "<");
        if (want_max ? order > 0 : order < 0) {
            best = &item;
            best_key = key;
        }
    }
    return *best;
}

Value filter_reverse(Interpreter& interp, const Value& value) {
    if (value.is_string()) {
        const std::vector<size_t> offsets = utf8_offsets(value.as_bytes());
        TextBuilder out(interp.budget());
        for (size_t i = offsets.size() - 1; i-- > 0;) out.append(value.as_text().slice(offsets[i], offsets[i + 1]));
        return Value::string(out.take());
    }
    Value::List items = iterate(value, interp.budget());
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value filter_round(const Value& value, const Value& precision_value, const Value& method_value) {
    if (!value.is_number()) throw_argument_type("round", "value", "a number", value);
    const int64_t precision = precision_value.is_undefined() ? 0 : precision_value.as_int();
    const std::string method = method_value.is_string() ? method_value.as_bytes() : "common";
    const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
    if (!value.is_float() && method == "common" && precision >= 0) return Value::integer(value.as_int());  // Python's round(int)
    const double x = value.as_float() * scale;
    double r = 0;
    if (method == "common") r = std::nearbyint(x);  // Python's round(): half to even
    else if (method == "floor") r = std::floor(x);
    else if (method == "ceil") r = std::ceil(x);
    else throw EvalError("round(): method must be 'common', 'ceil' or 'floor'");
    return Value::number(r / scale);
}

Value filter_join(Interpreter& interp, const Value& value, const Value& separator, const Value& attribute) {
    const Value::List items = iterate(value, interp.budget());
    TextBuilder out(interp.budget());
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) append_str(out, separator);
        append_str(out, attribute.is_undefined() || attribute.is_none() ? items[i] : attribute_path(items[i], attribute));
    }
    return Value::string(out.take());
}

}  // namespace

bool is_known_filter(std::string_view name) {
    return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

bool is_known_test(std::string_view name) {
    return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

Value apply_filter(Interpreter& interp, std::string_view name, const Value& v, CallArgs args) {
    Budget& budget = interp.budget();
    if (name == "map") return filter_map(interp, v, args);
    if (name == "select" || name == "reject") return filter_select(interp, v, args, false, name == "select");
    if (name == "selectattr" || name == "rejectattr") return filter_select(interp, v, args, true, name == "selectattr");

    ArgReader a(name, args);
    Value result;
    if (name == "default" || name == "d") {
        const Value fallback = a.get(0, "default_value", Value::plain(""));
        const bool boolean = truthy(a.get(1, "boolean", Value::boolean(false)));
        result = (v.is_undefined() || (boolean && !truthy(v))) ? fallback : v;
    } else if (name == "length" || name == "count") {
        result = Value::integer(length_of(v));
    } else if (name == "trim") {
        const Value chars = a.get(0, "chars", Value::none());
        const Text text = to_text(budget, v);
        const bool use_chars = chars.is_string();
        const size_t begin = lstrip_offset(text.bytes(), use_chars ? chars.as_bytes() : "", use_chars);
        const size_t end = begin + rstrip_offset(std::string_view(text.bytes()).substr(begin), use_chars ? chars.as_bytes() : "", use_chars);
        result = Value::string(text.slice(begin, end));
    } else if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
        const CaseMode mode = name == "upper" ? CaseMode::Upper
                              : name == "lower" ? CaseMode::Lower
                              : name == "capitalize" ? CaseMode::Capitalize
                                                     : CaseMode::JinjaTitle;
        result = Value::string(change_case(to_text(budget, v), mode));
    } else if (name == "string") {
        result = Value::string(to_text(budget, v));
    } else if (name == "safe") {
        result = v;
    } else if (name == "e" || name == "escape") {
        result = filter_escape(interp, to_text(budget, v));
    } else if (name == "join") {
        const Value separator = a.get(0, "d", Value::plain(""));
        result = filter_join(interp, v, separator, a.get(1, "attribute"));
    } else if (name == "replace") {
        const Value old_value = a.get(0, "old");
        const Value new_value = a.get(1, "new");
        const Value count = a.get(2, "count", Value::none());
        CallArgs method_args;
        method_args.positional = {old_value, new_value};
        if (!count.is_none()) method_args.positional.push_back(count);
        result = interp.call(get_attribute(Value::string(to_text(budget, v)), "replace"), std::move(method_args));
    } else if (name == "tojson") {
        const Value indent = a.get(0, "indent", Value::none());
        const bool sort_keys = truthy(a.get(1, "sort_keys", Value::boolean(false)));
        a.get(2, "ensure_ascii");  // accepted; non-ASCII is always kept as is (transformers' default)
        if (!indent.is_none() && !indent.is_int()) throw_argument_type("tojson", "indent", "an integer or None", indent);
        TextBuilder out(budget);
        append_json(out, v, indent.is_none() ? -1 : static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 64)), sort_keys);
        result = Value::string(out.take());
    } else if (name == "first" || name == "last") {
        if (v.is_list()) {
            const auto& items = v.as_list();
            result = items.empty() ? Value::undefined("the sequence is empty") : (name == "first" ? items.front() : items.back());
        } else if (v.is_string()) {
            result = get_item(v, Value::integer(name == "first" ? 0 : -1));
        } else {
            const Value::List items = iterate(v, budget);
            result = items.empty() ? Value::undefined("the sequence is empty") : (name == "first" ? items.front() : items.back());
        }
    } else if ((name == "int" || name == "float") && v.is_undefined()) {
        throw EvalError(std::string(v.undefined_name()));  // Jinja's Undefined refuses int() and float()
    } else if (name == "int") {
        const Value fallback = a.get(0, "default", Value::integer(0));
        const Value base = a.get(1, "base", Value::integer(10));
        const int64_t b = base.is_int() ? base.as_int() : 10;
        if (b < 2 || b > 36) throw EvalError("int(): base must be between 2 and 36");
        result = filter_int(v, fallback, static_cast<int>(b));
    } else if (name == "float") {
        result = filter_float(v, a.get(0, "default", Value::number(0.0)));
    } else if (name == "abs") {
        if (v.is_float()) result = Value::number(std::fabs(v.as_float()));
        else if (v.is_int() || v.is_bool()) {
            if (v.as_int() == INT64_MIN) throw EvalError("integer overflow");
            result = Value::integer(std::llabs(v.as_int()));
        } else throw_argument_type("abs", "value", "a number", v);
    } else if (name == "round") {
        const Value precision = a.get(0, "precision");
        result = filter_round(v, precision, a.get(1, "method"));
    } else if (name == "list") {
        result = Value::list(iterate(v, budget));
    } else if (name == "items") {
        if (v.is_undefined()) result = Value::list({});
        else if (!v.is_dict() && !v.is_namespace()) throw EvalError(fmt::format("items(): can only be used on a mapping, not {}", type_name(v)));
        else result = interp.call(get_attribute(Value::dict(v.as_dict()), "items"), {});
    } else if (name == "dictsort") {
        const bool case_sensitive = truthy(a.get(0, "case_sensitive"));
        const Value by = a.get(1, "by", Value::plain("key"));
        const bool reverse = truthy(a.get(2, "reverse"));
        if (!v.is_dict() && !v.is_namespace()) throw_argument_type("dictsort", "value", "a mapping", v);
        const Value pairs = interp.call(get_attribute(Value::dict(v.as_dict()), "items"), {});
        const bool by_value = by.is_string() && by.as_bytes() == "value";
        result = filter_sort(interp, pairs, reverse, case_sensitive, Value::integer(by_value ? 1 : 0));
    } else if (name == "sort") {
        const bool reverse = truthy(a.get(0, "reverse"));
        const bool case_sensitive = truthy(a.get(1, "case_sensitive"));
        result = filter_sort(interp, v, reverse, case_sensitive, a.get(2, "attribute"));
    } else if (name == "unique") {
        const bool case_sensitive = truthy(a.get(0, "case_sensitive"));
        const Value attribute = a.get(1, "attribute");
        Value::List out, seen;
        for (const Value& item : iterate(v, budget)) {
            const Value key = sort_key(attribute.is_undefined() ? item : attribute_path(item, attribute), case_sensitive);
            const bool duplicate = std::any_of(seen.begin(), seen.end(),
                                               [&](const Value& s) { return values_equal(s, key, budget); });
            if (duplicate) continue;
            seen.push_back(key);
            out.push_back(item);
        }
        result = Value::list(std::move(out));
    } else if (name == "reverse") {
        result = filter_reverse(interp, v);
    } else if (name == "min" || name == "max") {
        const bool case_sensitive = truthy(a.get(0, "case_sensitive"));
        result = filter_min_max(interp, v, name == "max", case_sensitive, a.get(1, "attribute"));
    } else if (name == "sum") {
        const Value attribute = a.get(0, "attribute");
        Value total = a.get(1, "start", Value::integer(0));
        for (const Value& item : iterate(v, budget)) {
            const Value term = attribute.is_undefined() ? item : attribute_path(item, attribute);
            if (!term.is_number() || !total.is_number()) throw_argument_type("sum", "item", "a number", term);
            int64_t sum = 0;
            if (total.is_float() || term.is_float()) total = Value::number(total.as_float() + term.as_float());
            else if (__builtin_add_overflow(total.as_int(), term.as_int(), &sum)) throw EvalError("integer overflow");
            else total = Value::integer(sum);
        }
        result = total;
    } else if (name == "attr") {
        const Value attribute = a.get(0, "name");
        if (!attribute.is_string()) throw_argument_type("attr", "name", "a string", attribute);
        result = get_attribute(v, attribute.as_bytes());
    } else if (name == "indent") {
        const Value width = a.get(0, "width", Value::integer(4));
        const bool first = truthy(a.get(1, "first"));
        const bool blank = truthy(a.get(2, "blank"));
        result = filter_indent(interp, to_text(budget, v), width, first, blank);
    } else if (name == "wordcount") {  // runs of \w characters, as Jinja's regex counts them
        const Text text = to_text(budget, v);
        int64_t words = 0;
        bool in_word = false;
        for (size_t pos = 0; pos < text.size();) {
            uint32_t cp = 0;
            pos += utf8_decode(text.bytes(), pos, cp);
            const bool word_char = (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                                   cp == '_' || (cp >= 0x80 && !is_python_space(cp) && !python_punctuation(cp));
            if (word_char && !in_word) ++words;
            in_word = word_char;
        }
        result = Value::integer(words);
    } else {
        throw EvalError(fmt::format("the '{}' filter is not supported", name));
    }
    a.finish();
    if (result.is_string() && result.identity() != v.identity()) budget.charge_string(result.as_text());
    return result;
}

bool apply_test(Interpreter& interp, std::string_view name, const Value& v, CallArgs args) {
    static constexpr std::string_view kWithArgument[] = {
        "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=",
        "gt", "greaterthan", ">", "ge", ">=", "in", "sameas"};
    const bool takes_argument = std::find(std::begin(kWithArgument), std::end(kWithArgument), name) != std::end(kWithArgument);
    ArgReader a(name, args);
    const Value other = takes_argument ? a.get(0, "other") : Value();
    a.finish();
    Budget& budget = interp.budget();
    // odd/even/divisibleby use Python's %, which also works on floats.
    const auto remainder = [&](const Value& x, const Value& d) {
        if (!x.is_number()) throw_argument_type(name, "value", "a number", x);
        if (!d.is_number()) throw_argument_type(name, "argument", "a number", d);
        if (d.as_float() == 0.0) throw EvalError(fmt::format("{}: division by zero", name));
        if (x.is_float() || d.is_float()) {
            double r = std::fmod(x.as_float(), d.as_float());
            if (r != 0.0 && ((r < 0) != (d.as_float() < 0))) r += d.as_float();
            return r;
        }
        int64_t r = d.as_int() == -1 ? 0 : x.as_int() % d.as_int();
        if (r != 0 && ((r < 0) != (d.as_int() < 0))) r += d.as_int();
        return static_cast<double>(r);
    };
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "mapping") return v.is_dict();
    // Jinja's Undefined defines __iter__ and __len__, so these tests accept it.
    if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
    if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.is_int();
    if (name == "float") return v.is_float();
    if (name == "boolean") return v.is_bool();
    if (name == "true") return v.is_bool() && v.as_bool();
    if (name == "false") return v.is_bool() && !v.as_bool();
    if (name == "callable") return v.is_callable() || v.is_undefined();  // Undefined defines __call__
    if (name == "odd") return remainder(v, Value::integer(2)) == 1.0;
    if (name == "even") return remainder(v, Value::integer(2)) == 0.0;
    if (name == "divisibleby") return remainder(v, other) == 0.0;
    if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, other, budget);
    if (name == "ne" || name == "!=") return !values_equal(v, other, budget);
    if (name == "lt" || name == "lessthan" || name == "<") return compare_values(v, other, budget, "<") < 0;
    if (name == "le" || name == "<=") return compare_values(v, other, budget, "<=") <= 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return compare_values(v, other, budget, ">") > 0;
    if (name == "ge" || name == ">=") return compare_values(v, other, budget, ">=") >= 0;
    if (name == "in") return contains(other, v, budget);
    if (name == "lower" || name == "upper") {  // Python's islower()/isupper(): needs a cased character
        const Text text = to_text(budget, v);
        bool cased = false;
        for (size_t pos = 0; pos < text.size();) {
            uint32_t cp = 0;
            pos += utf8_decode(text.bytes(), pos, cp);
            if (!is_cased_letter(cp)) continue;
            if ((name == "lower" ? to_lower(cp) : to_upper(cp)) != cp) return false;
            cased = true;
        }
        return cased;
    }
    if (name == "sameas") {
        if (v.identity() != nullptr || other.identity() != nullptr) return v.identity() == other.identity();
        return v.kind() == other.kind() && values_equal(v, other, budget);
    }
    throw EvalError(fmt::format("the '{}' test is not supported", name));
}

}  // namespace peregrine::chat
