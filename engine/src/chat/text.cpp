#include "chat/text.h"

#include <algorithm>
#include <cstring>

namespace peregrine::chat {

Text::Text(std::string bytes, bool tainted) : bytes_(std::move(bytes)) {
    if (tainted && !bytes_.empty()) taint_.push_back({0, bytes_.size()});
}

void Text::mark(size_t begin, size_t end) {
    if (begin >= end) return;
    if (!taint_.empty() && taint_.back().end == begin) {
        taint_.back().end = end;
    } else {
        taint_.push_back({begin, end});
    }
}

void Text::append(const Text& other) {
    const size_t base = bytes_.size();
    bytes_ += other.bytes_;
    for (const TaintSpan& span : other.taint_) mark(base + span.begin, base + span.end);
}

void Text::append(std::string_view bytes, bool tainted) {
    const size_t base = bytes_.size();
    bytes_.append(bytes);
    if (tainted) mark(base, bytes_.size());
}

Text Text::slice(size_t begin, size_t end) const {
    end = std::min(end, bytes_.size());
    begin = std::min(begin, end);
    Text out;
    out.bytes_.assign(bytes_, begin, end - begin);
    for (const TaintSpan& span : taint_) {
        const size_t b = std::max(span.begin, begin);
        const size_t e = std::min(span.end, end);
        if (b < e) out.mark(b - begin, e - begin);
    }
    return out;
}

size_t utf8_decode(std::string_view s, size_t pos, uint32_t& cp) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = byte(pos);
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    size_t len = 0;
    uint32_t value = 0;
    uint32_t min_value = 0;
    if ((c & 0xE0) == 0xC0) {
        len = 2, value = c & 0x1F, min_value = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, value = c & 0x0F, min_value = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, value = c & 0x07, min_value = 0x10000;
    } else {
        cp = 0xFFFD;
        return 1;
    }
    if (pos + len > s.size()) {
        cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; ++i) {
        const unsigned char cc = byte(pos + i);
        if ((cc & 0xC0) != 0x80) {
            cp = 0xFFFD;
            return 1;
        }
        value = (value << 6) | (cc & 0x3F);
    }
    if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        cp = 0xFFFD;
        return 1;
    }
    cp = value;
    return len;
}

void utf8_encode(uint32_t cp, std::string& out) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    uint32_t cp = 0;
    for (size_t pos = 0; pos < s.size(); pos += utf8_decode(s, pos, cp)) ++n;
    return n;
}

std::vector<size_t> utf8_offsets(std::string_view s) {
    std::vector<size_t> offsets;
    uint32_t cp = 0;
    for (size_t pos = 0; pos < s.size(); pos += utf8_decode(s, pos, cp)) offsets.push_back(pos);
    offsets.push_back(s.size());
    return offsets;
}

bool is_python_space(uint32_t cp) {
    switch (cp) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
        case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
        case 0x85: case 0xA0: case 0x1680:
        case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

namespace {

bool contains_code_point(std::string_view chars, uint32_t wanted) {
    for (size_t pos = 0; pos < chars.size();) {
        uint32_t cp = 0;
        pos += utf8_decode(chars, pos, cp);
        if (cp == wanted) return true;
    }
    return false;
}

bool strippable(uint32_t cp, std::string_view chars, bool use_chars) {
    return use_chars ? contains_code_point(chars, cp) : is_python_space(cp);
}

}  // namespace

size_t lstrip_offset(std::string_view s, std::string_view chars, bool use_chars) {
    size_t pos = 0;
    while (pos < s.size()) {
        uint32_t cp = 0;
        const size_t len = utf8_decode(s, pos, cp);
        if (!strippable(cp, chars, use_chars)) break;
        pos += len;
    }
    return pos;
}

size_t rstrip_offset(std::string_view s, std::string_view chars, bool use_chars) {
    size_t end = s.size();
    while (end > 0) {
        // Step back to the start of the previous code point (at most 4 bytes back).
        size_t start = end - 1;
        while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        uint32_t cp = 0;
        const size_t len = utf8_decode(s, start, cp);
        if (start + len != end) {  // stray continuation byte: treat it as one invalid code point
            start = end - 1;
            cp = 0xFFFD;
        }
        if (!strippable(cp, chars, use_chars)) break;
        end = start;
    }
    return end;
}

uint32_t to_upper(uint32_t cp) {
    if (cp >= 'a' && cp <= 'z') return cp - 32;
    if (cp < 0x80) return cp;
    if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;         // Latin-1
    if (cp == 0xFF) return 0x178;                                        // ÿ -> Ÿ
    if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2) return cp - 32;      // Greek
    if (cp == 0x3C2) return 0x3A3;                                       // final sigma
    if (cp >= 0x430 && cp <= 0x44F) return cp - 32;                      // Cyrillic
    if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
    return cp;
}

uint32_t to_lower(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp < 0x80) return cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
    if (cp == 0x178) return 0xFF;
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;
    if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
    return cp;
}

bool is_cased_letter(uint32_t cp) {
    return to_upper(cp) != cp || to_lower(cp) != cp || cp == 0xDF;
}

size_t find_bytes(std::string_view haystack, std::string_view needle, size_t from) {
    if (from > haystack.size()) return std::string_view::npos;
    if (needle.empty()) return from;
    const void* hit = memmem(haystack.data() + from, haystack.size() - from, needle.data(), needle.size());
    if (hit == nullptr) return std::string_view::npos;
    return static_cast<size_t>(static_cast<const char*>(hit) - haystack.data());
}

}  // namespace peregrine::chat
