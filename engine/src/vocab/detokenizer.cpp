// From ids back to bytes: pieces (llama_token_to_piece) and whole-sequence detokenization
// (llama_detokenize), including SPM's leading-space rule and BPE's clean-up of tokenization spaces.
#include <fmt/format.h>

#include "peregrine/error.h"
#include "vocab/unicode_utf8.h"
#include "vocab/vocab_data.h"

namespace peregrine {

using namespace vocab_detail;

namespace vocab_detail {

namespace {

// SPM spells spaces as U+2581 "▁".
std::string unescape_spm_spaces(std::string_view text) {
    static constexpr std::string_view kSpace = "\xE2\x96\x81";
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpace.size(), kSpace) == 0) {
            out += ' ';
            i += kSpace.size();
        } else {
            out += text[i++];
        }
    }
    return out;
}

// "<0x41>" -> 0x41. Anything else is not a well-formed byte token.
std::optional<uint8_t> parse_byte_token(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return std::nullopt;
    int value = 0;
    for (const char c : text.substr(3, 2)) {
        value <<= 4;
        if (c >= '0' && c <= '9') value |= c - '0';
        else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
        else return std::nullopt;
    }
    return static_cast<uint8_t>(value);
}

// Byte-level BPE: each code point of the token text stands for one byte. A code point outside the
// alphabet (possible in hand-made vocabularies) is shown the way llama.cpp shows it.
std::string decode_byte_level(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        const size_t start = pos;
        const std::optional<uint32_t> cp = decode_utf8(text, pos);
        if (!cp) pos = start + 1;   // a stray byte: report it like an unknown code point
        const int byte = cp ? unicode_to_byte(*cp) : -1;
        if (byte >= 0) {
            out += static_cast<char>(byte);
            continue;
        }
        out += "[UNK_BYTE_0x";
        for (size_t i = start; i < pos; ++i) out += fmt::format("{:02x}", static_cast<uint8_t>(text[i]));
        out += text;
        out += ']';
    }
    return out;
}

}  // namespace

std::string make_piece(const VocabData& vocab, int32_t id) {
    const TokenEntry& token = vocab.tokens[static_cast<size_t>(id)];
    // Special and user-defined tokens print as their text; unused and undefined ones print nothing.
    if (token.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return token.text;
    if (vocab.kind == VocabKind::SPM) {
        if (token.attr & kAttrNormal) return unescape_spm_spaces(token.text);
        if (token.attr & kAttrByte) {
            const std::optional<uint8_t> byte = parse_byte_token(token.text);
            return byte ? std::string(1, static_cast<char>(*byte)) : token.text;
        }
        return {};
    }
    if (token.attr & kAttrNormal) return decode_byte_level(token.text);
    return {};
}

}  // namespace vocab_detail

namespace {

// llama.cpp's clean_up_tokenization_spaces, three passes over the text:
//   " ?" " !" " ." " ,"  -> drop the space
//   " ' "                -> "'" (a lone apostrophe between spaces loses both spaces)
//   " 's" " 'm" " 're" " 've" -> drop the space (but " 't", " 'd", " 'll" keep it)
void clean_up_spaces(std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i > 0 && text[i - 1] == ' ' && (c == '?' || c == '!' || c == '.' || c == ',')) out.pop_back();
        out += c;
    }
    text.swap(out);

    out.clear();
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i > 0 && c == '\'' && i + 1 < text.size() && text[i - 1] == ' ' && text[i + 1] == ' ') {
            out.pop_back();
            out += c;
            // The space after the apostrophe goes too. llama.cpp overwrites it with NUL in place, so
            // it no longer counts as "the space before" the next character; keep that.
            text[++i] = '\0';
            continue;
        }
        out += c;
    }
    text.swap(out);

    out.clear();
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i > 0 && text[i - 1] == ' ' && c == '\'' && i + 1 < text.size()) {
            const char c1 = text[i + 1];
            const char c2 = i + 2 < text.size() ? text[i + 2] : '\0';
            if (c1 == 's' || c1 == 'm' || (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e')) out.pop_back();
        }
        out += c;
    }
    text.swap(out);
}

}  // namespace

std::string Vocab::token_to_piece(int32_t id, bool special) const {
    check_token_id(*data_, id);
    if (!special && data_->has_attr(id, kAttrUnknown | kAttrControl)) return {};
    return data_->pieces[static_cast<size_t>(id)];
}

std::string Vocab::detokenize(std::span<const int32_t> ids, bool remove_special, bool unparse_special) const {
    const VocabData& vocab = *data_;
    for (const int32_t id : ids) check_token_id(vocab, id);

    // SPM put a space in front of the text; take it off the first piece again, unless a BOS that
    // remove_special drops comes first (then the text is shown as the model saw it after BOS).
    bool strip_leading_space = vocab.add_space_prefix;
    if (remove_special && vocab.add_bos && !ids.empty() && ids.front() == vocab.bos) {
        strip_leading_space = false;
        ids = ids.subspan(1);
    }
    if (remove_special && vocab.add_eos && !ids.empty() && ids.back() == vocab.eos) ids = ids.first(ids.size() - 1);

    std::string text;
    for (const int32_t id : ids) {
        std::string piece = token_to_piece(id, unparse_special);
        // Only the very first token is considered, even when it prints nothing.
        if (strip_leading_space && !piece.empty() && piece.front() == ' ') piece.erase(0, 1);
        strip_leading_space = false;
        text += piece;
    }
    if (vocab.clean_spaces) clean_up_spaces(text);
    return text;
}

}  // namespace peregrine
