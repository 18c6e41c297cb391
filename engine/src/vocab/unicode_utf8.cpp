#include "vocab/unicode_utf8.h"

#include <array>

namespace peregrine::vocab_detail {

size_t utf8_lead_length(uint8_t lead) {
    static constexpr std::array<uint8_t, 16> lengths = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lengths[lead >> 4];
}

std::optional<uint32_t> decode_utf8(std::string_view text, size_t& pos) {
    if (pos >= text.size()) return std::nullopt;
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
    const uint8_t lead = byte(pos);
    if (lead < 0x80) {
        ++pos;
        return lead;
    }
    size_t length = 0;
    uint32_t cp = 0;
    uint32_t min_value = 0;
    if ((lead & 0xE0) == 0xC0) {
        length = 2, cp = lead & 0x1F, min_value = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3, cp = lead & 0x0F, min_value = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4, cp = lead & 0x07, min_value = 0x10000;
    } else {
        return std::nullopt;
    }
    if (pos + length > text.size()) return std::nullopt;
    for (size_t i = 1; i < length; ++i) {
        const uint8_t b = byte(pos + i);
        if ((b & 0xC0) != 0x80) return std::nullopt;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min_value || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    pos += length;
    return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

size_t valid_utf8_prefix(std::string_view bytes) {
    size_t pos = 0;
    while (pos < bytes.size() && decode_utf8(bytes, pos)) {
    }
    return pos;
}

std::string printable(std::string_view text, size_t max_bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    size_t pos = 0;
    while (pos < text.size() && out.size() < max_bytes) {
        const size_t start = pos;
        const std::optional<uint32_t> cp = decode_utf8(text, pos);
        if (cp && *cp >= 0x20 && *cp != 0x7F) {
            out.append(text, start, pos - start);
            continue;
        }
        pos = start + 1;
        const auto byte = static_cast<uint8_t>(text[start]);
        out += "\\x";
        out += kHex[byte >> 4];
        out += kHex[byte & 15];
    }
    if (pos < text.size()) out += "...";
    return out;
}

namespace {

// Printable bytes keep their own code point; the remaining 68 bytes, in ascending order, get
// U+0100, U+0101, ... This is the alphabet GPT-2 introduced and every byte-level BPE vocabulary uses.
struct ByteAlphabet {
    std::array<std::string, 256> byte_to_text;
    std::array<int16_t, 512> code_point_to_byte{};

    ByteAlphabet() {
        code_point_to_byte.fill(-1);
        const auto printable = [](int b) {
            return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        int next_shifted = 0x100;
        for (int b = 0; b < 256; ++b) {
            const uint32_t cp = printable(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next_shifted++);
            append_utf8(byte_to_text[b], cp);
            code_point_to_byte[cp] = static_cast<int16_t>(b);
        }
    }
};

const ByteAlphabet& alphabet() {
    static const ByteAlphabet instance;
    return instance;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return alphabet().byte_to_text[byte]; }

int unicode_to_byte(uint32_t cp) {
    return cp < alphabet().code_point_to_byte.size() ? alphabet().code_point_to_byte[cp] : -1;
}

}  // namespace peregrine::vocab_detail
