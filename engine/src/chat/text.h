// Strings of the template interpreter: UTF-8 bytes plus the byte ranges that came from message
// content ("tainted"), and the Python-compatible UTF-8 helpers (code point indexing, whitespace,
// case mapping) that Jinja's string semantics need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::chat {

// Bytes [begin, end) of a Text that came from message content.
struct TaintSpan {
    size_t begin = 0;
    size_t end = 0;
};

// A UTF-8 string that remembers which of its bytes came from message content. Every operation that
// moves bytes around (concatenation, slicing, stripping, case mapping, escaping) carries the marks
// along, so the final prompt can tell content bytes from template bytes.
class Text {
public:
    Text() = default;
    explicit Text(std::string bytes, bool tainted = false);

    const std::string& bytes() const { return bytes_; }
    const std::vector<TaintSpan>& taint() const { return taint_; }  // sorted, disjoint, non-adjacent
    size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }
    // Approximate heap bytes, for the interpreter's memory budget.
    size_t cost() const { return bytes_.size() + taint_.size() * sizeof(TaintSpan); }

    void append(const Text& other);
    void append(std::string_view bytes, bool tainted = false);
    Text slice(size_t begin, size_t end) const;  // byte offsets, clamped

    // Calls fn(bytes, tainted) for each maximal run of equally marked bytes, in order.
    template <typename Fn>
    void for_each_run(Fn&& fn) const {
        size_t pos = 0;
        for (const TaintSpan& span : taint_) {
            if (span.begin > pos) fn(std::string_view(bytes_).substr(pos, span.begin - pos), false);
            fn(std::string_view(bytes_).substr(span.begin, span.end - span.begin), true);
            pos = span.end;
        }
        if (pos < bytes_.size()) fn(std::string_view(bytes_).substr(pos), false);
    }

private:
    void mark(size_t begin, size_t end);  // appends a span, merging with the last one if adjacent

    std::string bytes_;
    std::vector<TaintSpan> taint_;
};

// Decodes the code point at bytes[pos]; returns its byte length (>= 1). Invalid or truncated
// sequences decode as U+FFFD of length 1, so every byte string can be walked.
size_t utf8_decode(std::string_view bytes, size_t pos, uint32_t& code_point);
void utf8_encode(uint32_t code_point, std::string& out);
size_t utf8_length(std::string_view bytes);  // number of code points, as Python's len()
// Byte offset of every code point plus the end offset (size = length + 1).
std::vector<size_t> utf8_offsets(std::string_view bytes);

// Python's str.isspace() for one code point.
bool is_python_space(uint32_t code_point);
// Byte offsets after stripping like Python's str.strip(): with empty `chars` whitespace is removed,
// otherwise any code point contained in `chars`.
size_t lstrip_offset(std::string_view bytes, std::string_view chars = {}, bool use_chars = false);
size_t rstrip_offset(std::string_view bytes, std::string_view chars = {}, bool use_chars = false);

// Case mapping for ASCII, Latin-1, Greek and Cyrillic letters. Each mapping keeps the UTF-8 length
// of the code point, so taint marks stay valid byte for byte. Other scripts are left unchanged.
uint32_t to_upper(uint32_t code_point);
uint32_t to_lower(uint32_t code_point);
bool is_cased_letter(uint32_t code_point);

// Fast substring search (glibc memmem: linear time, no quadratic blow-up on hostile input).
size_t find_bytes(std::string_view haystack, std::string_view needle, size_t from = 0);

}  // namespace peregrine::chat
