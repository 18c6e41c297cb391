// Metadata values: type names, checked conversions and builders.
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "peregrine/gguf.h"

namespace peregrine::gguf {
namespace {

[[noreturn]] void type_mismatch(std::string_view what, std::string_view expected, ValueType found) {
    throw GgufError(fmt::format("{}: expected {}, found {}", what, expected, value_type_name(found)));
}

bool is_unsigned_type(ValueType t) {
    return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
           t == ValueType::UINT64;
}

bool is_signed_type(ValueType t) {
    return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 ||
           t == ValueType::INT64;
}

}  // namespace

std::string_view value_type_name(ValueType type) {
    switch (type) {
        case ValueType::UINT8: return "u8";
        case ValueType::INT8: return "i8";
        case ValueType::UINT16: return "u16";
        case ValueType::INT16: return "i16";
        case ValueType::UINT32: return "u32";
        case ValueType::INT32: return "i32";
        case ValueType::FLOAT32: return "f32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::UINT64: return "u64";
        case ValueType::INT64: return "i64";
        case ValueType::FLOAT64: return "f64";
    }
    return "unknown";
}

bool Value::is_integer() const {
    return (is_unsigned_type(type) && std::holds_alternative<uint64_t>(data)) ||
           (is_signed_type(type) && std::holds_alternative<int64_t>(data));
}

int64_t Value::to_int64(std::string_view what) const {
    if (!is_integer()) type_mismatch(what, "an integer", type);
    if (const auto* u = std::get_if<uint64_t>(&data)) {
        if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            throw GgufError(fmt::format("{}: value {} does not fit in int64", what, *u));
        }
        return static_cast<int64_t>(*u);
    }
    return std::get<int64_t>(data);
}

uint64_t Value::to_uint64(std::string_view what) const {
    if (!is_integer()) type_mismatch(what, "an integer", type);
    if (const auto* s = std::get_if<int64_t>(&data)) {
        if (*s < 0) throw GgufError(fmt::format("{}: negative value {} where an unsigned one is needed", what, *s));
        return static_cast<uint64_t>(*s);
    }
    return std::get<uint64_t>(data);
}

double Value::to_double(std::string_view what) const {
    if ((type == ValueType::FLOAT32 || type == ValueType::FLOAT64) && std::holds_alternative<double>(data)) {
        return std::get<double>(data);
    }
    if (is_integer()) {
        if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
        return static_cast<double>(std::get<int64_t>(data));
    }
    type_mismatch(what, "a number", type);
}

bool Value::to_bool(std::string_view what) const {
    if (type != ValueType::BOOL || !std::holds_alternative<bool>(data)) type_mismatch(what, "bool", type);
    return std::get<bool>(data);
}

const std::string& Value::to_string(std::string_view what) const {
    if (type != ValueType::STRING || !std::holds_alternative<std::string>(data)) {
        type_mismatch(what, "string", type);
    }
    return std::get<std::string>(data);
}

const Array& Value::to_array(std::string_view what) const {
    if (type != ValueType::ARRAY || !std::holds_alternative<Array>(data)) type_mismatch(what, "array", type);
    return std::get<Array>(data);
}

Value Value::make_uint(ValueType type, uint64_t v) {
    if (!is_unsigned_type(type)) {
        throw Error(fmt::format("Value::make_uint: {} is not an unsigned integer type", value_type_name(type)));
    }
    Value out;
    out.type = type;
    out.data.emplace<uint64_t>(v);
    return out;
}

Value Value::make_int(ValueType type, int64_t v) {
    if (!is_signed_type(type)) {
        throw Error(fmt::format("Value::make_int: {} is not a signed integer type", value_type_name(type)));
    }
    Value out;
    out.type = type;
    out.data.emplace<int64_t>(v);
    return out;
}

Value Value::make_float(ValueType type, double v) {
    if (type != ValueType::FLOAT32 && type != ValueType::FLOAT64) {
        throw Error(fmt::format("Value::make_float: {} is not a float type", value_type_name(type)));
    }
    Value out;
    out.type = type;
    out.data.emplace<double>(v);
    return out;
}

Value Value::make_bool(bool v) {
    Value out;
    out.type = ValueType::BOOL;
    out.data.emplace<bool>(v);
    return out;
}

Value Value::make_string(std::string v) {
    Value out;
    out.type = ValueType::STRING;
    out.data.emplace<std::string>(std::move(v));
    return out;
}

Value Value::make_array(Array v) {
    Value out;
    out.type = ValueType::ARRAY;
    out.data.emplace<Array>(std::move(v));
    return out;
}

}  // namespace peregrine::gguf
