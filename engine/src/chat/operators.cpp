#include "chat/operators.h"

#include <cmath>

#include <fmt/format.h>

#include "chat/interpreter.h"

namespace peregrine::chat {

namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
    // Jinja reports the undefined operand itself rather than a type error.
    if (a.is_undefined()) throw EvalError(std::string(a.undefined_name()));
    if (b.is_undefined()) throw EvalError(std::string(b.undefined_name()));
    throw EvalError(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b)));
}

[[noreturn]] void overflow() { throw EvalError("integer overflow (values beyond 64 bits are not supported)"); }

bool int_like(const Value& v) { return v.is_int() || v.is_bool(); }

// a op b with overflow detection (the __builtin_*_overflow family).
template <typename Op>
int64_t checked(Op op, int64_t a, int64_t b) {
    int64_t result = 0;
    if (op(a, b, &result)) overflow();
    return result;
}
bool add(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
bool sub(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
bool mul(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

int64_t floor_div(int64_t a, int64_t b) {
    if (b == 0) throw EvalError("integer division or modulo by zero");
    if (a == INT64_MIN && b == -1) overflow();
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
    if (b == 0) throw EvalError("integer division or modulo by zero");
    if (b == -1) return 0;
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

double float_mod(double a, double b) {
    if (b == 0.0) throw EvalError("float modulo by zero");
    double r = std::fmod(a, b);
    if (r != 0.0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

Value int_power(int64_t base, int64_t exponent) {
    if (exponent < 0) {
        if (base == 0) throw EvalError("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
    }
    int64_t result = 1;
    while (exponent > 0) {
        if (exponent & 1) result = checked(mul, result, base);
        exponent >>= 1;
        if (exponent > 0) base = checked(mul, base, base);
    }
    return Value::integer(result);
}

Value repeat_string(Interpreter& interp, const Text& text, int64_t count) {
    if (count <= 0 || text.empty()) return Value::plain("");
    const size_t max = interp.budget().limits().max_output_bytes;
    if (static_cast<uint64_t>(count) > max / text.size()) throw_limit("string size", static_cast<long long>(max));
    // Doubling: O(log count) appends instead of `count` of them.
    const size_t total = text.size() * static_cast<size_t>(count);
    Text out = text;
    while (out.size() * 2 <= total) {
        const Text copy = out;
        out.append(copy);
    }
    out.append(out.slice(0, total - out.size()));
    return interp.make_string(std::move(out));
}

Value repeat_list(Interpreter& interp, const Value& list, int64_t count) {
    const Value::List& items = list.as_list();
    const auto wrap = [&](Value::List out) { return list.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out)); };
    if (count <= 0 || items.empty()) return wrap({});
    const size_t max = static_cast<size_t>(interp.budget().limits().max_loop_iterations);
    if (static_cast<uint64_t>(count) > max / items.size()) throw_limit("list size", static_cast<long long>(max));
    interp.budget().step(items.size() * static_cast<size_t>(count));
    Value::List out;
    out.reserve(items.size() * static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) out.insert(out.end(), items.begin(), items.end());
    return wrap(std::move(out));
}

}  // namespace

Value concat_strings(Interpreter& interp, const Text& left, const Text& right) {
    TextBuilder out(interp.budget());
    out.append(left);
    out.append(right);
    return Value::string(out.take());
}

Value binary_operator(Interpreter& interp, std::string_view op, const Value& a, const Value& b) {
    if (op == "~") {
        TextBuilder out(interp.budget());
        append_str(out, a);
        append_str(out, b);
        return Value::string(out.take());
    }
    const bool ints = int_like(a) && int_like(b);
    const bool numbers = a.is_number() && b.is_number();
    if (op == "+") {
        if (ints) return Value::integer(checked(add, a.as_int(), b.as_int()));
        if (numbers) return Value::number(a.as_float() + b.as_float());
        if (a.is_string() && b.is_string()) return concat_strings(interp, a.as_text(), b.as_text());
        if (a.is_list() && b.is_list()) {
            interp.budget().check_list_size(a.as_list().size() + b.as_list().size());
            interp.budget().step(a.as_list().size() + b.as_list().size());
            Value::List out = a.as_list();
            out.insert(out.end(), b.as_list().begin(), b.as_list().end());
            return a.is_tuple() && b.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
        }
    } else if (op == "-") {
        if (ints) return Value::integer(checked(sub, a.as_int(), b.as_int()));
        if (numbers) return Value::number(a.as_float() - b.as_float());
    } else if (op == "*") {
        if (ints) return Value::integer(checked(mul, a.as_int(), b.as_int()));
        if (numbers) return Value::number(a.as_float() * b.as_float());
        if (a.is_string() && int_like(b)) return repeat_string(interp, a.as_text(), b.as_int());
        if (int_like(a) && b.is_string()) return repeat_string(interp, b.as_text(), a.as_int());
        if (a.is_list() && int_like(b)) return repeat_list(interp, a, b.as_int());
        if (int_like(a) && b.is_list()) return repeat_list(interp, b, a.as_int());
    } else if (op == "/") {
        if (numbers) {
            if (b.as_float() == 0.0) throw EvalError("division by zero");
            return Value::number(a.as_float() / b.as_float());
        }
    } else if (op == "//") {
        if (ints) return Value::integer(floor_div(a.as_int(), b.as_int()));
        if (numbers) {
            if (b.as_float() == 0.0) throw EvalError("float floor division by zero");
            return Value::number(std::floor(a.as_float() / b.as_float()));
        }
    } else if (op == "%") {
        if (ints) return Value::integer(floor_mod(a.as_int(), b.as_int()));
        if (numbers) return Value::number(float_mod(a.as_float(), b.as_float()));
        if (a.is_string()) throw EvalError("printf-style string formatting with '%' is not supported");
    } else if (op == "**") {
        if (ints) return int_power(a.as_int(), b.as_int());
        if (numbers) {
            const double x = a.as_float(), y = b.as_float();
            if (x == 0.0 && y < 0) throw EvalError("0.0 cannot be raised to a negative power");
            if (x < 0 && std::floor(y) != y) throw EvalError("complex results are not supported");
            return Value::number(std::pow(x, y));
        }
    }
    unsupported(op, a, b);
}

Value unary_minus(const Value& v) {
    if (int_like(v)) {
        if (v.as_int() == INT64_MIN) overflow();
        return Value::integer(-v.as_int());
    }
    if (v.is_float()) return Value::number(-v.as_float());
    if (v.is_undefined()) throw EvalError(std::string(v.undefined_name()));
    throw EvalError(fmt::format("bad operand type for unary -: '{}'", type_name(v)));
}

Value unary_plus(const Value& v) {
    if (int_like(v)) return Value::integer(v.as_int());
    if (v.is_float()) return v;
    if (v.is_undefined()) throw EvalError(std::string(v.undefined_name()));
    throw EvalError(fmt::format("bad operand type for unary +: '{}'", type_name(v)));
}

}  // namespace peregrine::chat
