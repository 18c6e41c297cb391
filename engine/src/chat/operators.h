// Python semantics of the binary and unary arithmetic operators: + - * / // % ** ~ and unary -/+.
// 64-bit integers stand in for Python's unbounded ints; overflow is an error, not a wrap.
#pragma once

#include <string_view>

#include "chat/value.h"

namespace peregrine::chat {

class Interpreter;

Value binary_operator(Interpreter& interpreter, std::string_view op, const Value& left, const Value& right);
Value unary_minus(const Value& operand);
Value unary_plus(const Value& operand);

// Concatenates two strings (taint kept), checking the size before allocating.
Value concat_strings(Interpreter& interpreter, const Text& left, const Text& right);

}  // namespace peregrine::chat
