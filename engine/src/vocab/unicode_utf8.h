// UTF-8 helpers and the byte-level BPE alphabet (GPT-2's bytes_to_unicode table).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace peregrine::vocab_detail {

// Length of the UTF-8 sequence a lead byte announces, judged from its top four bits only (continuation
// and invalid lead bytes count as 1). SPM and BPE split their input into "characters" this way.
size_t utf8_lead_length(uint8_t lead);

// Decodes one well-formed code point at `pos` and advances `pos`; returns nullopt (pos unchanged) for
// an invalid or truncated sequence, overlong forms and surrogates included.
std::optional<uint32_t> decode_utf8(std::string_view text, size_t& pos);

void append_utf8(std::string& out, uint32_t code_point);

// How many bytes at the start of `bytes` form complete, valid UTF-8 (stops at the first problem).
size_t valid_utf8_prefix(std::string_view bytes);

// Byte-level BPE: every byte is shown as a printable code point (bytes that are printable Latin-1
// stand for themselves, the others are moved to U+0100 and up), so token texts never contain raw
// spaces or control bytes. byte_to_unicode(0x20) is "Ġ".
const std::string& byte_to_unicode(uint8_t byte);
// The inverse: the byte a code point stands for, or -1 when it is not part of the alphabet.
int unicode_to_byte(uint32_t code_point);

// For error messages: `text` with control bytes and invalid UTF-8 shown as \xNN, cut to about
// `max_bytes` (a hostile file's strings can be anything).
std::string printable(std::string_view text, size_t max_bytes = 80);

// ASCII whitespace as C's isspace() sees it in the "C" locale; llama.cpp strips these for the
// LSTRIP/RSTRIP token attributes.
inline bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace peregrine::vocab_detail
