// JSON schema -> GBNF (supported subset in peregrine/grammar.h). Each schema node becomes a GBNF
// expression; objects, sized strings and arrays, and $ref targets get rules of their own, named after
// their path ("root-address-city"), so the grammar can be read next to the schema.
//
// Objects keep the declared property order. For properties p0..pn-1 of which some are required:
//   from-i  ::= kv(j) after-(j+1)   for each j from i up to the first required property at or after i
//   after-i ::= "," from-i          plus an empty alternative when no property from i on is required
// so optional properties may be skipped, required ones never, and commas only appear between members.
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "peregrine/grammar.h"

namespace peregrine {
namespace {

using json = nlohmann::ordered_json;  // declaration order of properties matters

constexpr long kMaxCount = 1000;  // largest maxLength / maxItems (the GBNF repetition limit)

const std::map<std::string, std::string>& primitive_rules() {
    static const std::map<std::string, std::string> rules = {
        {"value", R"(object | array | string | number | boolean | null)"},
        {"object", R"("{" ( string ":" value ( "," string ":" value )* )? "}")"},
        {"array", R"("[" ( value ( "," value )* )? "]")"},
        {"string", R"("\"" char* "\"")"},
        {"char", R"([^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ))"},
        {"integer", R"("-"? ( "0" | [1-9] [0-9]{0,15} ))"},
        {"number", R"(integer ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?)"},
        {"boolean", R"("true" | "false")"},
        {"null", R"("null")"},
    };
    return rules;
}

const std::map<std::string, std::vector<std::string>>& primitive_dependencies() {
    static const std::map<std::string, std::vector<std::string>> deps = {
        {"value", {"object", "array", "string", "number", "boolean", "null"}},
        {"object", {"string", "value"}},
        {"array", {"value"}},
        {"string", {"char"}},
        {"number", {"integer"}},
    };
    return deps;
}

// Keywords that only describe (they change nothing in what is generated).
const std::set<std::string>& annotation_keywords() {
    static const std::set<std::string> keys = {"title", "description", "default", "examples", "$schema", "$id",
                                               "$comment", "format", "$defs", "definitions", "additionalProperties",
                                               "readOnly", "writeOnly", "deprecated"};
    return keys;
}

const std::set<std::string>& supported_keywords() {
    static const std::set<std::string> keys = {"type", "properties", "required", "items", "minItems", "maxItems",
                                               "minLength", "maxLength", "enum", "const", "anyOf", "oneOf", "$ref"};
    return keys;
}

std::string gbnf_literal(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out = "\"";
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string pointer_token(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

std::string sanitize(const std::string& hint) {
    std::string out;
    for (char c : hint) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        out += ok ? c : '-';
    }
    if (out.size() > 48) out.resize(48);
    return out.empty() ? "x" : out;
}

class SchemaCompiler {
public:
    explicit SchemaCompiler(const json& doc) : doc_(doc) {}

    std::string compile() {
        names_.insert("root");
        for (const auto& [name, body] : primitive_rules()) names_.insert(name);
        const std::string root = node(doc_, "", "root");
        std::string out = "root ::= " + root + "\n";
        for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
        for (const auto& [name, body] : primitive_rules()) {
            if (needed_.count(name)) out += name + " ::= " + body + "\n";
        }
        return out;
    }

private:
    [[noreturn]] static void fail(const std::string& pointer, const std::string& message) {
        throw GrammarError("json schema " + (pointer.empty() ? std::string("/") : pointer) + ": " + message, 0, 0);
    }

    void need(const std::string& primitive) {
        if (!needed_.insert(primitive).second) return;
        const auto deps = primitive_dependencies().find(primitive);
        if (deps != primitive_dependencies().end()) {
            for (const std::string& d : deps->second) need(d);
        }
    }

    std::string reserve_name(const std::string& hint) {
        std::string base = sanitize(hint), name = base;
        for (int i = 2; names_.count(name); ++i) name = base + "-" + std::to_string(i);
        names_.insert(name);
        return name;
    }

    std::string add_rule(const std::string& hint, const std::string& body) {
        const std::string name = reserve_name(hint);
        rules_.emplace_back(name, body);
        return name;
    }

    static long count(const json& s, const char* key, const std::string& ptr, long fallback) {
        if (!s.contains(key)) return fallback;
        const json& v = s.at(key);
        if (!v.is_number_integer() || v.get<long long>() < 0) {
            fail(ptr + "/" + key, "must be a non-negative integer");
        }
        if (v.get<long long>() > kMaxCount) fail(ptr + "/" + key, "above " + std::to_string(kMaxCount) + " is not supported");
        return static_cast<long>(v.get<long long>());
    }

    std::string node(const json& s, const std::string& ptr, const std::string& hint) {
        if (s.is_boolean()) {
            if (!s.get<bool>()) fail(ptr, "the schema false allows no value");
            need("value");
            return "value";
        }
        if (!s.is_object()) fail(ptr, "a schema must be an object or a boolean");
        for (const auto& [key, value] : s.items()) {
            if (!supported_keywords().count(key) && !annotation_keywords().count(key)) {
                fail(ptr + "/" + pointer_token(key), "unsupported keyword '" + key + "'");
            }
        }
        if (s.contains("$ref")) return reference(s.at("$ref"), ptr + "/$ref");
        if (s.contains("const")) return gbnf_literal(s.at("const").dump());
        if (s.contains("enum")) {
            const json& values = s.at("enum");
            if (!values.is_array() || values.empty()) fail(ptr + "/enum", "must be a non-empty array");
            std::string alts;
            for (const json& v : values) alts += (alts.empty() ? "" : " | ") + gbnf_literal(v.dump());
            return "( " + alts + " )";
        }
        for (const char* key : {"anyOf", "oneOf"}) {
            if (!s.contains(key)) continue;
            const json& list = s.at(key);
            if (!list.is_array() || list.empty()) fail(ptr + "/" + key, "must be a non-empty array of schemas");
            std::string alts;
            for (size_t i = 0; i < list.size(); ++i) {
                const std::string alt = node(list[i], ptr + "/" + key + "/" + std::to_string(i), hint + "-" + std::to_string(i));
                alts += (alts.empty() ? "" : " | ") + alt;
            }
            return "( " + alts + " )";
        }
        if (!s.contains("type")) {
            if (s.contains("properties") || s.contains("required")) return typed(s, "object", ptr, hint);
            if (s.contains("items")) return typed(s, "array", ptr, hint);
            need("value");
            return "value";
        }
        const json& type = s.at("type");
        if (type.is_string()) return typed(s, type.get<std::string>(), ptr, hint);
        if (!type.is_array() || type.empty()) fail(ptr + "/type", "must be a type name or a non-empty list of them");
        std::string alts;
        for (size_t i = 0; i < type.size(); ++i) {
            if (!type[i].is_string()) fail(ptr + "/type/" + std::to_string(i), "must be a type name");
            alts += (alts.empty() ? "" : " | ") + typed(s, type[i].get<std::string>(), ptr, hint);
        }
        return "( " + alts + " )";
    }

    std::string typed(const json& s, const std::string& type, const std::string& ptr, const std::string& hint) {
        if (type == "string") return string_rule(s, ptr, hint);
        if (type == "integer" || type == "number" || type == "boolean" || type == "null") {
            need(type);
            return type;
        }
        if (type == "object") return object_rule(s, ptr, hint);
        if (type == "array") return array_rule(s, ptr, hint);
        fail(ptr + "/type", "unknown type '" + type + "'");
    }

    std::string string_rule(const json& s, const std::string& ptr, const std::string& hint) {
        const long min = count(s, "minLength", ptr, 0);
        const long max = count(s, "maxLength", ptr, -1);
        if (max >= 0 && max < min) fail(ptr + "/maxLength", "is smaller than minLength");
        if (min == 0 && max < 0) {
            need("string");
            return "string";
        }
        need("char");
        const std::string reps = "{" + std::to_string(min) + "," + (max >= 0 ? std::to_string(max) : "") + "}";
        return add_rule(hint, R"("\"" char)" + reps + R"( "\"")");
    }

    std::string object_rule(const json& s, const std::string& ptr, const std::string& hint) {
        const json empty = json::object();
        const json& props = s.contains("properties") ? s.at("properties") : empty;
        if (!props.is_object()) fail(ptr + "/properties", "must be an object of schemas");
        std::vector<std::string> keys;
        for (const auto& [key, value] : props.items()) keys.push_back(key);
        std::vector<bool> required(keys.size(), false);
        if (s.contains("required")) {
            const json& req = s.at("required");
            if (!req.is_array()) fail(ptr + "/required", "must be an array of property names");
            for (size_t i = 0; i < req.size(); ++i) {
                const std::string rptr = ptr + "/required/" + std::to_string(i);
                if (!req[i].is_string()) fail(rptr, "must be a property name");
                const auto it = std::find(keys.begin(), keys.end(), req[i].get<std::string>());
                if (it == keys.end()) fail(rptr, "required property '" + req[i].get<std::string>() + "' is not in properties");
                required[size_t(it - keys.begin())] = true;
            }
        }
        if (keys.empty()) {
            const bool closed = s.contains("additionalProperties") && s.at("additionalProperties") == false;
            if (closed || s.contains("properties")) return gbnf_literal("{}");
            need("object");
            return "object";
        }
        const size_t n = keys.size();
        std::vector<std::string> kv(n);
        for (size_t i = 0; i < n; ++i) {
            const std::string value = node(props.at(keys[i]), ptr + "/properties/" + pointer_token(keys[i]), hint + "-" + keys[i]);
            kv[i] = gbnf_literal(json(keys[i]).dump() + ":") + " " + value;
        }
        // Names first (the rules refer to each other), bodies after.
        std::vector<std::string> from(n), after(n + 1);
        for (size_t i = 0; i < n; ++i) from[i] = reserve_name(hint + "-from-" + std::to_string(i));
        for (size_t i = 1; i < n; ++i) after[i] = reserve_name(hint + "-after-" + std::to_string(i));
        std::vector<bool> required_from(n + 1, false);
        for (size_t i = n; i-- > 0;) required_from[i] = required[i] || required_from[i + 1];
        for (size_t i = 0; i < n; ++i) {
            std::string alts;
            for (size_t j = i; j < n; ++j) {
                const std::string tail = j + 1 < n ? " " + after[j + 1] : "";
                alts += (alts.empty() ? "" : " | ") + kv[j] + tail;
                if (required[j]) break;  // a required property cannot be skipped
            }
            rules_.emplace_back(from[i], alts);
        }
        for (size_t i = 1; i < n; ++i) {
            rules_.emplace_back(after[i], "\",\" " + from[i] + (required_from[i] ? "" : " | "));
        }
        const std::string members = required_from[0] ? from[0] : "( " + from[0] + " )?";
        return add_rule(hint, "\"{\" " + members + " \"}\"");
    }

    std::string array_rule(const json& s, const std::string& ptr, const std::string& hint) {
        std::string item;
        if (s.contains("items")) {
            item = node(s.at("items"), ptr + "/items", hint + "-item");
        } else {
            need("value");
            item = "value";
        }
        const long min = count(s, "minItems", ptr, 0);
        const long max = count(s, "maxItems", ptr, -1);
        if (max >= 0 && max < min) fail(ptr + "/maxItems", "is smaller than minItems");
        if (max == 0) return gbnf_literal("[]");
        const std::string more_max = max >= 0 ? std::to_string(max - 1) : "";
        if (min == 0) {
            return add_rule(hint, "\"[\" ( " + item + " ( \",\" " + item + " ){0," + more_max + "} )? \"]\"");
        }
        return add_rule(hint, "\"[\" " + item + " ( \",\" " + item + " ){" + std::to_string(min - 1) + "," + more_max +
                                  "} \"]\"");
    }

    std::string reference(const json& ref, const std::string& ptr) {
        if (!ref.is_string()) fail(ptr, "must be a string");
        const std::string target = ref.get<std::string>();
        if (target == "#") return "root";
        if (target.rfind("#/", 0) != 0) fail(ptr, "only local references (\"#/...\") are supported, not '" + target + "'");
        const auto known = refs_.find(target);
        if (known != refs_.end()) return known->second;
        const json* resolved = nullptr;
        try {
            resolved = &doc_.at(json::json_pointer(target.substr(1)));
        } catch (const std::exception&) {
            fail(ptr, "'" + target + "' does not name a part of this schema");
        }
        const std::string name = reserve_name("ref-" + target.substr(target.find_last_of('/') + 1));
        refs_.emplace(target, name);  // before compiling it, so recursive references find it
        const std::string body = node(*resolved, target.substr(1), name);
        rules_.emplace_back(name, body);
        return name;
    }

    const json& doc_;
    std::vector<std::pair<std::string, std::string>> rules_;
    std::set<std::string> names_;
    std::set<std::string> needed_;
    std::map<std::string, std::string> refs_;
};

}  // namespace

std::string json_schema_to_gbnf(std::string_view schema_json) {
    json doc;
    try {
        doc = json::parse(schema_json.begin(), schema_json.end());
    } catch (const json::parse_error& e) {
        // e.byte is 1-based: the byte at which parsing failed.
        int line = 1, column = 1;
        for (size_t i = 0; i + 1 < e.byte && i < schema_json.size(); ++i) {
            if (schema_json[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        std::string what = e.what();
        const size_t colon = what.find(": ", what.find("column"));
        if (colon != std::string::npos) what = what.substr(colon + 2);
        throw GrammarError("json schema:" + std::to_string(line) + ":" + std::to_string(column) + ": invalid JSON: " + what,
                           line, column);
    }
    return SchemaCompiler(doc).compile();
}

std::shared_ptr<const Grammar> Grammar::from_json_schema(std::string_view schema_json) {
    return parse(json_schema_to_gbnf(schema_json));
}

}  // namespace peregrine
