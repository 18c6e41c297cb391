// Incremental UTF-8 decoding for grammar matching: tokens can end in the middle of a character (byte
// tokens, byte-level BPE), so the matcher carries a partly received code point between tokens.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

namespace peregrine::grammar {

// Only well-formed UTF-8 gets through: overlong forms (F0 80 81 BB for "{"), surrogates and code points
// above U+10FFFF are refused as early as the bytes allow, so a grammar never accepts text that a
// UTF-8 decoder would show as U+FFFD, and never follows a partial character that cannot be completed.
struct Utf8Cursor {
    uint32_t value = 0;     // bits received so far of a partial code point
    uint8_t remaining = 0;  // continuation bytes still expected; 0: between characters
    uint8_t length = 0;     // bytes of the character being received

    enum class Step { Complete, Partial, Invalid };

    // Feeds one byte; on Complete, `cp` is the finished code point.
    Step feed(uint8_t byte, uint32_t& cp) {
        if (remaining == 0) {
            if (byte < 0x80) {
                cp = byte;
                return Step::Complete;
            }
            if ((byte & 0xE0) == 0xC0) {
                value = byte & 0x1Fu;
                remaining = length = 2;
            } else if ((byte & 0xF0) == 0xE0) {
                value = byte & 0x0Fu;
                remaining = length = 3;
            } else if ((byte & 0xF8) == 0xF0) {
                value = byte & 0x07u;
                remaining = length = 4;
            } else {
                return Step::Invalid;  // a continuation byte with no lead, or 0xF8..0xFF
            }
            --remaining;
            return possible() ? Step::Partial : Step::Invalid;
        }
        if ((byte & 0xC0) != 0x80) return Step::Invalid;
        value = (value << 6) | (byte & 0x3Fu);
        if (--remaining > 0) return possible() ? Step::Partial : Step::Invalid;
        cp = value;
        value = 0;
        return valid(cp, length) ? Step::Complete : Step::Invalid;
    }

    // The valid code points a partial character can still become: [min_code_point(), max_code_point()].
    uint32_t min_code_point() const { return std::max(value << (6 * remaining), shortest(length)); }
    uint32_t max_code_point() const {
        return std::min((value << (6 * remaining)) | ((1u << (6 * remaining)) - 1u), longest(length));
    }

private:
    static uint32_t shortest(uint8_t len) { return len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000; }
    static uint32_t longest(uint8_t len) { return len == 2 ? 0x7FF : len == 3 ? 0xFFFF : 0x10FFFF; }
    static bool valid(uint32_t cp, uint8_t len) {
        return cp >= shortest(len) && cp <= longest(len) && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    bool possible() const {
        const uint32_t lo = min_code_point(), hi = max_code_point();
        return lo <= hi && !(lo >= 0xD800 && hi <= 0xDFFF);
    }
};

inline void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

}  // namespace peregrine::grammar
