// Bounds-checked little-endian reads over an in-memory GGUF image. Every read checks the remaining
// bytes first, and every failure becomes a GgufError of the form
//   "<file>: <subject> <field> at offset <n>: <problem>"
// where the subject is the item being parsed ("key 'general.name'", "tensor 'output.weight'").
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine::gguf::detail {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

// Makes untrusted names safe to print: control bytes escaped, long names cut.
inline std::string printable(std::string_view s) {
    constexpr size_t kMaxShown = 96;
    std::string out;
    for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > kMaxShown) out += fmt::format("... ({} bytes)", s.size());
    return out;
}

class ByteCursor {
public:
    ByteCursor(const uint8_t* data, uint64_t size, std::string_view file)
        : data_(data), size_(size), file_(file) {}

    uint64_t pos() const { return pos_; }
    uint64_t size() const { return size_; }
    uint64_t remaining() const { return size_ - pos_; }

    // What the following reads belong to, for error messages; empty for the file header.
    void set_subject(std::string subject) { subject_ = std::move(subject); }

    [[noreturn]] void fail(uint64_t at, std::string_view field, std::string_view problem) const {
        std::string where = subject_;
        if (!field.empty()) {
            if (!where.empty()) where += ' ';
            where += field;
        }
        throw GgufError(fmt::format("{}: {}{}at offset {}: {}", file_, where, where.empty() ? "" : " ", at,
                                    problem));
    }

    void require(uint64_t n, std::string_view field) const {
        if (n > remaining()) {
            fail(pos_, field,
                 fmt::format("needs {} bytes but only {} remain (file size {})", n, remaining(), size_));
        }
    }

    template <typename T>
    T read(std::string_view field) {
        static_assert(std::is_trivially_copyable_v<T>);
        require(sizeof(T), field);
        T value;
        std::memcpy(&value, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    // u64 length + bytes; the length is checked against the file before anything is copied.
    std::string_view read_string(std::string_view field) {
        const uint64_t at = pos_;
        const auto length = read<uint64_t>(field);
        if (length > remaining()) {
            fail(at, field,
                 fmt::format("string length {} exceeds the {} bytes left in the file (size {})", length,
                             remaining(), size_));
        }
        std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
        pos_ += length;
        return s;
    }

    const uint8_t* at(uint64_t offset) const { return data_ + offset; }

private:
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
    std::string_view file_;
    std::string subject_;
};

}  // namespace peregrine::gguf::detail
