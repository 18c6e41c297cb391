#include "chat/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace peregrine::chat {

void throw_limit(std::string_view what, long long limit) {
    throw EvalError(fmt::format("{} limit ({}) exceeded", what, limit));
}

// ---------------------------------------------------------------------------------------------
// Dict and Value

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : entries)
        if (k == key) return &v;
    return nullptr;
}

void Dict::set(std::string key, Value value) {
    for (auto& [k, v] : entries) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    entries.emplace_back(std::move(key), std::move(value));
}

Value Value::undefined(std::string what) {
    Value v;
    v.data_ = std::make_shared<const std::string>(std::move(what));
    return v;
}

Value Value::none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
}

Value Value::boolean(bool b) {
    Value v;
    v.kind_ = Kind::Bool;
    v.data_ = b;
    return v;
}

Value Value::integer(int64_t i) {
    Value v;
    v.kind_ = Kind::Int;
    v.data_ = i;
    return v;
}

Value Value::number(double d) {
    Value v;
    v.kind_ = Kind::Float;
    v.data_ = d;
    return v;
}

Value Value::string(Text text) {
    Value v;
    v.kind_ = Kind::String;
    v.data_ = std::make_shared<const Text>(std::move(text));
    return v;
}

Value Value::plain(std::string_view bytes) { return string(Text(std::string(bytes))); }

void Value::set_container_shape(const Value& item) {
    const int item_depth = item.depth_ + 1;
    if (item_depth > kMaxDepth) throw_limit("value nesting", kMaxDepth);
    depth_ = std::max<uint16_t>(depth_, static_cast<uint16_t>(item_depth));
    holds_namespace_ = holds_namespace_ || item.holds_namespace_ || item.kind_ == Kind::Namespace;
}

Value Value::list(List items) {
    Value v;
    v.kind_ = Kind::List;
    v.depth_ = 1;
    for (const Value& item : items) v.set_container_shape(item);
    v.data_ = std::make_shared<const List>(std::move(items));
    return v;
}

Value Value::tuple(List items) {
    Value v = list(std::move(items));
    v.tuple_ = true;
    return v;
}

Value Value::dict(Dict dict) {
    Value v;
    v.kind_ = Kind::Dict;
    v.depth_ = 1;
    for (const auto& entry : dict.entries) v.set_container_shape(entry.second);
    v.data_ = std::make_shared<Dict>(std::move(dict));
    return v;
}

Value Value::make_namespace(Dict attributes) {
    for (const auto& entry : attributes.entries)
        if (entry.second.holds_namespace_ || entry.second.kind_ == Kind::Namespace)
            throw EvalError("a namespace cannot hold another namespace");
    Value v = dict(std::move(attributes));
    v.kind_ = Kind::Namespace;
    v.depth_ = 1;
    return v;
}

Value Value::callable(std::shared_ptr<const Callable> fn) {
    Value v;
    v.kind_ = Kind::Callable;
    v.data_ = std::move(fn);
    return v;
}

int64_t Value::as_int() const {
    if (kind_ == Kind::Bool) return std::get<bool>(data_) ? 1 : 0;
    return std::get<int64_t>(data_);
}

double Value::as_float() const {
    if (kind_ == Kind::Float) return std::get<double>(data_);
    return static_cast<double>(as_int());
}

std::string_view Value::undefined_name() const {
    if (const auto* name = std::get_if<NamePtr>(&data_)) return **name;
    return {};
}

const void* Value::identity() const {
    switch (kind_) {
        case Kind::String: return std::get<TextPtr>(data_).get();
        case Kind::List: return std::get<ListPtr>(data_).get();
        case Kind::Dict:
        case Kind::Namespace: return std::get<DictPtr>(data_).get();
        case Kind::Callable: return std::get<CallablePtr>(data_).get();
        default: return nullptr;
    }
}

std::string_view type_name(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return "Undefined";
        case Value::Kind::None: return "NoneType";
        case Value::Kind::Bool: return "bool";
        case Value::Kind::Int: return "int";
        case Value::Kind::Float: return "float";
        case Value::Kind::String: return "str";
        case Value::Kind::List: return "list";
        case Value::Kind::Dict: return "dict";
        case Value::Kind::Namespace: return "Namespace";
        case Value::Kind::Callable: return "function";
    }
    return "?";
}

bool truthy(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
        case Value::Kind::None: return false;
        case Value::Kind::Bool: return v.as_bool();
        case Value::Kind::Int: return v.as_int() != 0;
        case Value::Kind::Float: return v.as_float() != 0.0;
        case Value::Kind::String: return !v.as_text().empty();
        case Value::Kind::List: return !v.as_list().empty();
        case Value::Kind::Dict: return !v.as_dict().entries.empty();
        case Value::Kind::Namespace:
        case Value::Kind::Callable: return true;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Formatting

std::string format_python_float(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";

    // Shortest round-trip digits, as Python's repr uses, then Python's layout rules.
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
    const std::string_view sci(buf, static_cast<size_t>(result.ptr - buf));
    const size_t e_pos = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e_pos))
        if (c != '.') digits += c;
    int exponent = 0;
    std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exponent);
    const int decpt = exponent + 1;  // position of the decimal point relative to the digits
    const int n = static_cast<int>(digits.size());

    std::string out = d < 0 ? "-" : "";
    if (decpt <= -4 || decpt > 16) {
        out += digits[0];
        if (n > 1) {
            out += '.';
            out.append(digits, 1);
        }
        out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
    } else if (decpt <= 0) {
        out += "0.";
        out.append(static_cast<size_t>(-decpt), '0');
        out += digits;
    } else if (decpt >= n) {
        out += digits;
        out.append(static_cast<size_t>(decpt - n), '0');
        out += ".0";
    } else {
        out.append(digits, 0, static_cast<size_t>(decpt));
        out += '.';
        out.append(digits, static_cast<size_t>(decpt));
    }
    return out;
}

namespace {

// Code points Python's str.isprintable() rejects that templates may plausibly meet.
bool python_unprintable(uint32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
           (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF;
}

// Appends `text` escaped character by character; each escaped piece keeps its source's taint.
template <typename Escape>
void append_escaped(TextBuilder& out, const Text& text, Escape&& escape) {
    text.for_each_run([&](std::string_view run, bool tainted) {
        std::string piece;
        for (size_t pos = 0; pos < run.size();) {
            uint32_t cp = 0;
            const size_t len = utf8_decode(run, pos, cp);
            if (!escape(cp, piece)) piece.append(run.substr(pos, len));
            pos += len;
            if (piece.size() >= 4096) {
                out.append(piece, tainted);
                piece.clear();
            }
        }
        out.append(piece, tainted);
    });
}

void append_string_repr(TextBuilder& out, const Text& text) {
    const std::string& b = text.bytes();
    const char quote = (b.find('\'') != std::string::npos && b.find('"') == std::string::npos) ? '"' : '\'';
    out.append(std::string_view(&quote, 1));
    append_escaped(out, text, [quote](uint32_t cp, std::string& piece) {
        if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
            piece += '\\';
            piece += static_cast<char>(cp);
        } else if (cp == '\n') {
            piece += "\\n";
        } else if (cp == '\r') {
            piece += "\\r";
        } else if (cp == '\t') {
            piece += "\\t";
        } else if (python_unprintable(cp)) {
            piece += cp < 0x100 ? fmt::format("\\x{:02x}", cp) : fmt::format("\\u{:04x}", cp);
        } else {
            return false;
        }
        return true;
    });
    out.append(std::string_view(&quote, 1));
}

void append_string_json(TextBuilder& out, const Text& text) {
    out.append("\"");
    append_escaped(out, text, [](uint32_t cp, std::string& piece) {
        switch (cp) {
            case '"': piece += "\\\""; return true;
            case '\\': piece += "\\\\"; return true;
            case '\n': piece += "\\n"; return true;
            case '\r': piece += "\\r"; return true;
            case '\t': piece += "\\t"; return true;
            case '\b': piece += "\\b"; return true;
            case '\f': piece += "\\f"; return true;
            default:
                if (cp < 0x20) {
                    piece += fmt::format("\\u{:04x}", cp);
                    return true;
                }
                return false;
        }
    });
    out.append("\"");
}

}  // namespace

void append_repr(TextBuilder& out, const Value& v) {
    out.budget().step();
    DepthGuard guard(out.budget());  // namespaces can contain themselves
    switch (v.kind()) {
        case Value::Kind::String:
            append_string_repr(out, v.as_text());
            return;
        case Value::Kind::List: {
            out.append(v.is_tuple() ? "(" : "[");
            bool first = true;
            for (const Value& item : v.as_list()) {
                if (!first) out.append(", ");
                first = false;
                append_repr(out, item);
            }
            if (v.is_tuple() && v.as_list().size() == 1) out.append(",");
            out.append(v.is_tuple() ? ")" : "]");
            return;
        }
        case Value::Kind::Dict: {
            out.append("{");
            bool first = true;
            for (const auto& [key, item] : v.as_dict().entries) {
                if (!first) out.append(", ");
                first = false;
                append_string_repr(out, Text(key));
                out.append(": ");
                append_repr(out, item);
            }
            out.append("}");
            return;
        }
        case Value::Kind::Undefined:
            return;  // str(Undefined) is "", and so is its repr inside a container
        default:
            append_str(out, v);
    }
}

void append_str(TextBuilder& out, const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return;
        case Value::Kind::None: out.append("None"); return;
        case Value::Kind::Bool: out.append(v.as_bool() ? "True" : "False"); return;
        case Value::Kind::Int: out.append(std::to_string(v.as_int())); return;
        case Value::Kind::Float: out.append(format_python_float(v.as_float())); return;
        case Value::Kind::String: out.append(v.as_text()); return;
        case Value::Kind::List:
        case Value::Kind::Dict: append_repr(out, v); return;
        case Value::Kind::Namespace: {
            out.append("<Namespace ");
            Dict copy = v.as_dict();  // a plain dict of the same attributes, for its repr
            append_repr(out, Value::dict(std::move(copy)));
            out.append(">");
            return;
        }
        case Value::Kind::Callable:
            out.append(fmt::format("<function {}>", v.as_callable().name()));
            return;
    }
}

Text to_text(Budget& budget, const Value& value) {
    if (value.is_string()) return value.as_text();
    TextBuilder out(budget);
    append_str(out, value);
    return out.take();
}

void append_json(TextBuilder& out, const Value& v, int indent, bool sort_keys, int level) {
    out.budget().step();
    DepthGuard guard(out.budget());  // namespaces can contain themselves
    const auto newline = [&](int depth) {
        out.append("\n");
        out.append(std::string(static_cast<size_t>(indent) * static_cast<size_t>(depth), ' '));
    };
    switch (v.kind()) {
        case Value::Kind::None: out.append("null"); return;
        case Value::Kind::Bool: out.append(v.as_bool() ? "true" : "false"); return;
        case Value::Kind::Int: out.append(std::to_string(v.as_int())); return;
        case Value::Kind::Float: {
            const double d = v.as_float();
            if (std::isnan(d)) out.append("NaN");
            else if (std::isinf(d)) out.append(d < 0 ? "-Infinity" : "Infinity");
            else out.append(format_python_float(d));
            return;
        }
        case Value::Kind::String: append_string_json(out, v.as_text()); return;
        case Value::Kind::List: {
            const auto& items = v.as_list();
            if (items.empty()) {
                out.append("[]");
                return;
            }
            out.append("[");
            for (size_t i = 0; i < items.size(); ++i) {
                if (i > 0) out.append(indent >= 0 ? "," : ", ");
                if (indent >= 0) newline(level + 1);
                append_json(out, items[i], indent, sort_keys, level + 1);
            }
            if (indent >= 0) newline(level);
            out.append("]");
            return;
        }
        case Value::Kind::Dict:
        case Value::Kind::Namespace: {
            std::vector<const std::pair<std::string, Value>*> entries;
            for (const auto& entry : v.as_dict().entries) entries.push_back(&entry);
            if (sort_keys)
                std::stable_sort(entries.begin(), entries.end(),
                                 [](const auto* a, const auto* b) { return a->first < b->first; });
            if (entries.empty()) {
                out.append("{}");
                return;
            }
            out.append("{");
            for (size_t i = 0; i < entries.size(); ++i) {
                if (i > 0) out.append(indent >= 0 ? "," : ", ");
                if (indent >= 0) newline(level + 1);
                append_string_json(out, Text(entries[i]->first));
                out.append(": ");
                append_json(out, entries[i]->second, indent, sort_keys, level + 1);
            }
            if (indent >= 0) newline(level);
            out.append("}");
            return;
        }
        case Value::Kind::Undefined:
        case Value::Kind::Callable:
            throw EvalError(fmt::format("Object of type {} is not JSON serializable", type_name(v)));
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison, iteration, membership

bool values_equal(const Value& a, const Value& b, Budget& budget) {
    budget.step();
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Value::Kind::Undefined:
        case Value::Kind::None: return true;
        case Value::Kind::String: return a.as_bytes() == b.as_bytes();
        case Value::Kind::List: {
            const auto& x = a.as_list();
            const auto& y = b.as_list();
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i)
                if (!values_equal(x[i], y[i], budget)) return false;
            return true;
        }
        case Value::Kind::Dict: {
            const auto& x = a.as_dict().entries;
            const Dict& y = b.as_dict();
            if (x.size() != y.entries.size()) return false;
            for (const auto& [key, value] : x) {
                const Value* other = y.find(key);
                if (other == nullptr || !values_equal(value, *other, budget)) return false;
            }
            return true;
        }
        default: return a.identity() == b.identity();
    }
}

int compare_values(const Value& a, const Value& b, Budget& budget, std::string_view op) {
    budget.step();
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            const double x = a.as_float(), y = b.as_float();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        const int64_t x = a.as_int(), y = b.as_int();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        const int c = a.as_bytes().compare(b.as_bytes());  // UTF-8 byte order is code point order
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_list() && b.is_list()) {
        const auto& x = a.as_list();
        const auto& y = b.as_list();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i)
            if (!values_equal(x[i], y[i], budget)) return compare_values(x[i], y[i], budget, op);
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    throw EvalError(fmt::format("'{}' not supported between instances of '{}' and '{}'", op, type_name(a), type_name(b)));
}

Value::List iterate(const Value& v, Budget& budget) {
    Value::List items;
    switch (v.kind()) {
        case Value::Kind::Undefined: return items;
        case Value::Kind::List:
            budget.step(v.as_list().size());
            return v.as_list();
        case Value::Kind::Dict:
            budget.step(v.as_dict().entries.size());
            for (const auto& entry : v.as_dict().entries) items.push_back(Value::plain(entry.first));
            return items;
        case Value::Kind::String: {
            const Text& text = v.as_text();
            const std::vector<size_t> offsets = utf8_offsets(text.bytes());
            budget.check_list_size(offsets.size() - 1);
            budget.step(offsets.size());
            items.reserve(offsets.size() - 1);
            for (size_t i = 0; i + 1 < offsets.size(); ++i)
                items.push_back(Value::string(text.slice(offsets[i], offsets[i + 1])));
            return items;
        }
        default:
            throw EvalError(fmt::format("'{}' object is not iterable", type_name(v)));
    }
}

bool contains(const Value& container, const Value& item, Budget& budget) {
    switch (container.kind()) {
        case Value::Kind::Undefined: return false;
        case Value::Kind::String:
            if (!item.is_string())
                throw EvalError(fmt::format("'in <string>' requires string as left operand, not {}", type_name(item)));
            budget.step(1 + container.as_text().size() / 4096);
            return find_bytes(container.as_bytes(), item.as_bytes()) != std::string_view::npos;
        case Value::Kind::List:
            for (const Value& element : container.as_list())
                if (values_equal(element, item, budget)) return true;
            return false;
        case Value::Kind::Dict:
        case Value::Kind::Namespace:
            return item.is_string() && container.as_dict().find(item.as_bytes()) != nullptr;
        default:
            throw EvalError(fmt::format("argument of type '{}' is not iterable", type_name(container)));
    }
}

int64_t length_of(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return 0;
        case Value::Kind::String: return static_cast<int64_t>(utf8_length(v.as_bytes()));
        case Value::Kind::List: return static_cast<int64_t>(v.as_list().size());
        case Value::Kind::Dict:
        case Value::Kind::Namespace: return static_cast<int64_t>(v.as_dict().entries.size());
        default: throw EvalError(fmt::format("object of type '{}' has no len()", type_name(v)));
    }
}

}  // namespace peregrine::chat
