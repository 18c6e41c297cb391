// A small JSON-schema validator for the keywords the grammar compiler supports, written independently
// of it (from the JSON schema spec), so the tests check generated JSON against the schema itself rather
// than against the grammar the compiler produced. Returns "" when valid, else where and why not.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace peregrine::test {

using ordered_json = nlohmann::ordered_json;

inline size_t utf8_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

inline std::string validate_json(const ordered_json& v, const ordered_json& schema, const ordered_json& root,
                                 const std::string& at = "") {
    if (schema.is_boolean()) return schema.get<bool>() ? "" : at + ": schema false";
    if (schema.contains("$ref")) {
        const std::string ref = schema.at("$ref").get<std::string>();
        const ordered_json& target = ref == "#" ? root : root.at(ordered_json::json_pointer(ref.substr(1)));
        return validate_json(v, target, root, at);
    }
    if (schema.contains("const") && v != schema.at("const")) return at + ": not the const value";
    if (schema.contains("enum")) {
        bool found = false;
        for (const auto& e : schema.at("enum")) found = found || e == v;
        if (!found) return at + ": not one of the enum values";
    }
    for (const char* key : {"anyOf", "oneOf"}) {
        if (!schema.contains(key)) continue;
        int matches = 0;
        for (const auto& alt : schema.at(key)) matches += validate_json(v, alt, root, at).empty();
        if (matches == 0 || (std::string(key) == "oneOf" && matches > 1)) return at + ": " + key + " not satisfied";
    }
    if (schema.contains("type")) {
        auto is = [&](const std::string& t) {
            if (t == "string") return v.is_string();
            if (t == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>())));
            if (t == "number") return v.is_number();
            if (t == "boolean") return v.is_boolean();
            if (t == "null") return v.is_null();
            if (t == "object") return v.is_object();
            if (t == "array") return v.is_array();
            return false;
        };
        const auto& t = schema.at("type");
        bool ok = false;
        if (t.is_string()) ok = is(t.get<std::string>());
        else for (const auto& x : t) ok = ok || is(x.get<std::string>());
        if (!ok) return at + ": wrong type (" + std::string(v.type_name()) + ")";
    }
    if (v.is_string()) {
        const size_t n = utf8_length(v.get<std::string>());
        if (schema.contains("minLength") && n < schema.at("minLength").get<size_t>()) return at + ": too short";
        if (schema.contains("maxLength") && n > schema.at("maxLength").get<size_t>()) return at + ": too long";
    }
    if (v.is_array()) {
        if (schema.contains("minItems") && v.size() < schema.at("minItems").get<size_t>()) return at + ": too few items";
        if (schema.contains("maxItems") && v.size() > schema.at("maxItems").get<size_t>()) return at + ": too many items";
        if (schema.contains("items")) {
            for (size_t i = 0; i < v.size(); ++i) {
                const std::string e = validate_json(v[i], schema.at("items"), root, at + "/" + std::to_string(i));
                if (!e.empty()) return e;
            }
        }
    }
    if (v.is_object() && (schema.contains("properties") || schema.contains("required"))) {
        const ordered_json props = schema.value("properties", ordered_json::object());
        for (const auto& r : schema.value("required", ordered_json::array())) {
            if (!v.contains(r.get<std::string>())) return at + ": missing required " + r.get<std::string>();
        }
        for (const auto& [key, value] : v.items()) {
            if (!props.contains(key)) return at + ": unexpected property " + key;
            const std::string e = validate_json(value, props.at(key), root, at + "/" + key);
            if (!e.empty()) return e;
        }
    }
    return "";
}

}  // namespace peregrine::test
