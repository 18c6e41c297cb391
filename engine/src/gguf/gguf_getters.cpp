// Typed metadata lookups on GgufFile. A key that is present with the wrong type is an error (the
// file is not what it claims), never silently replaced by the fallback.
#include <fmt/format.h>

#include "gguf/byte_cursor.h"
#include "peregrine/gguf.h"

namespace peregrine::gguf {

std::string GgufFile::describe_key(std::string_view key) const {
    const auto it = metadata_index_.find(key);
    if (it == metadata_index_.end()) return fmt::format("{}: key '{}'", path_, detail::printable(key));
    return fmt::format("{}: key '{}' at offset {}", path_, detail::printable(key), metadata_offsets_[it->second]);
}

namespace {

[[noreturn]] void missing(const std::string& path, std::string_view key) {
    throw GgufError(fmt::format("{}: required key '{}' is missing", path, detail::printable(key)));
}

template <typename T, typename Convert>
std::vector<T> convert_array(const Value& value, const std::string& what, Convert convert) {
    const Array& array = value.to_array(what);
    std::vector<T> out;
    out.reserve(array.items.size());
    for (const Value& item : array.items) out.push_back(convert(item, what));
    return out;
}

}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) missing(path_, key);
    return v->to_string(describe_key(key));
}

std::string GgufFile::get_string_or(std::string_view key, std::string fallback) const {
    const Value* v = find(key);
    return v == nullptr ? std::move(fallback) : v->to_string(describe_key(key));
}

int64_t GgufFile::get_int(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) missing(path_, key);
    return v->to_int64(describe_key(key));
}

int64_t GgufFile::get_int_or(std::string_view key, int64_t fallback) const {
    const Value* v = find(key);
    return v == nullptr ? fallback : v->to_int64(describe_key(key));
}

double GgufFile::get_float_or(std::string_view key, double fallback) const {
    const Value* v = find(key);
    return v == nullptr ? fallback : v->to_double(describe_key(key));
}

bool GgufFile::get_bool_or(std::string_view key, bool fallback) const {
    const Value* v = find(key);
    return v == nullptr ? fallback : v->to_bool(describe_key(key));
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return {};
    const std::string what = describe_key(key);
    const Array& array = v->to_array(what);
    if (array.element_type != ValueType::STRING) {
        throw GgufError(fmt::format("{}: expected an array of string, found an array of {}", what,
                                    value_type_name(array.element_type)));
    }
    std::vector<std::string> out;
    out.reserve(array.items.size());
    for (const Value& item : array.items) out.push_back(item.to_string(what));
    return out;
}

std::vector<float> GgufFile::get_float_array(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return {};
    return convert_array<float>(*v, describe_key(key), [](const Value& item, const std::string& what) {
        return static_cast<float>(item.to_double(what));
    });
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return {};
    return convert_array<int64_t>(*v, describe_key(key), [](const Value& item, const std::string& what) {
        return item.to_int64(what);
    });
}

}  // namespace peregrine::gguf
