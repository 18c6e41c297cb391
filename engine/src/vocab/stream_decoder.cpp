// StreamDecoder: pieces in, complete UTF-8 out.
//
// A byte-fallback token carries one byte of a character (an emoji takes four tokens), and a BPE token
// may end in the middle of one. push() emits every complete character and keeps an unfinished tail
// (at most 3 bytes) for the next call. Bytes that can never become valid UTF-8 are replaced with
// U+FFFD right away, so a caller never sees broken text.
#include "peregrine/vocab.h"
#include "vocab/unicode_utf8.h"

namespace peregrine {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// True when `tail` (1..3 bytes) is the beginning of a well-formed sequence that more bytes could
// complete: a lead byte whose announced length exceeds what is there, with valid continuation bytes
// and no overlong or surrogate start.
bool is_incomplete_sequence(std::string_view tail) {
    const auto lead = static_cast<uint8_t>(tail[0]);
    size_t need = 0;
    if (lead >= 0xC2 && lead <= 0xDF) need = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) need = 3;
    else if (lead >= 0xF0 && lead <= 0xF4) need = 4;
    else return false;
    if (tail.size() >= need) return false;
    for (size_t i = 1; i < tail.size(); ++i) {
        const auto b = static_cast<uint8_t>(tail[i]);
        if ((b & 0xC0) != 0x80) return false;
        // The second byte narrows the range for E0 (no overlong), ED (no surrogates), F0 and F4.
        if (i == 1 && ((lead == 0xE0 && b < 0xA0) || (lead == 0xED && b > 0x9F) || (lead == 0xF0 && b < 0x90) ||
                       (lead == 0xF4 && b > 0x8F))) {
            return false;
        }
    }
    return true;
}

}  // namespace

StreamDecoder::StreamDecoder(const Vocab& vocab, bool special) : vocab_(vocab), special_(special) {}

std::string StreamDecoder::push(int32_t id) {
    pending_ += vocab_.token_to_piece(id, special_);
    std::string out;
    size_t pos = 0;
    while (pos < pending_.size()) {
        const size_t valid = vocab_detail::valid_utf8_prefix(std::string_view(pending_).substr(pos));
        out.append(pending_, pos, valid);
        pos += valid;
        if (pos == pending_.size()) break;
        const std::string_view rest = std::string_view(pending_).substr(pos);
        if (rest.size() <= 3 && is_incomplete_sequence(rest)) break;   // wait for the next piece
        out += kReplacement;   // this byte cannot start a character: give it up
        ++pos;
    }
    pending_.erase(0, pos);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    if (!pending_.empty()) out = kReplacement;   // an unfinished character stays unfinished
    pending_.clear();
    return out;
}

}  // namespace peregrine
