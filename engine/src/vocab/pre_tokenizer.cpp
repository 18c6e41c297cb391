#include "vocab/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "peregrine/error.h"
#include "vocab/unicode_utf8.h"

namespace peregrine::vocab_detail {

namespace {

// ---- The patterns ---------------------------------------------------------------------------------

// GPT-2. llama.cpp runs this one through a hand-written matcher that also implements a final `\s+`.
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3 (and Qwen2 with single digits). The case-insensitive contractions are spelled out as
// llama.cpp does.
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek. The letter class is DeepSeek's own list of cased-letter ranges. The CJK class is
// [\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}] in llama.cpp, but its middle range holds
// whitespace (U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) that llama.cpp never
// matches there (see the header), so it is written here with those code points cut out. Likewise the
// punctuation class ends in U+3000..U+3002 in llama.cpp; only U+3001..U+3002 can match.
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
    R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
    R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
    R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekPunctuation = R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3001}-\x{3002}]+)";
constexpr const char* kDeepseekCjk =
    R"([\x{4E00}-\x{9FA5}\x{800}-\x{167F}\x{1681}-\x{1FFF}\x{200B}-\x{2027}\x{202A}-\x{202E}\x{2030}-\x{205E})"
    R"(\x{2060}-\x{2FFF}\x{3001}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

// BLOOM-style: everything up to a separator. `|`, `(` and `)` inside the class are literal, as in
// the original.
constexpr const char* kBloom = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";

// llama.cpp's whitespace (Unicode White_Space), the meaning of `\s` in every pattern above.
constexpr const char* kWhitespaceClassBody =
    R"(\t\n\x0B\f\r\x20\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// Rewrites `\s` and `\S` into explicit classes (inside a class, `\s` contributes its members).
// PCRE2's own `\s` under PCRE2_UCP differs from llama.cpp's set at U+0085 and U+001C..U+001F.
std::string rewrite_whitespace_escapes(std::string_view pattern) {
    std::string out;
    out.reserve(pattern.size() * 2);
    bool in_class = false;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char next = pattern[++i];
            if (next == 's') {
                out += in_class ? kWhitespaceClassBody : fmt::format("[{}]", kWhitespaceClassBody);
            } else if (next == 'S') {
                if (in_class) throw std::logic_error("pre-tokenizer pattern uses \\S inside a class");
                out += fmt::format("[^{}]", kWhitespaceClassBody);
            } else {
                out += c;
                out += next;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal member, not the end of the class.
            if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
            if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        out += c;
    }
    return out;
}

}  // namespace

std::optional<BpePreConfig> bpe_pre_config(std::string_view pre) {
    const auto is_any = [&](std::initializer_list<std::string_view> names) {
        for (std::string_view n : names) {
            if (pre == n) return true;
        }
        return false;
    };
    BpePreConfig c;
    if (is_any({"default"})) {
        c.patterns = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    } else if (is_any({"llama3", "llama-v3", "llama-bpe", "falcon3"})) {
        c.patterns = {kLlama3};
        c.ignore_merges = true;
        c.add_bos = true;
    } else if (is_any({"dbrx", "smaug-bpe"})) {
        c.patterns = {kLlama3};
    } else if (is_any({"chatglm-bpe"})) {
        c.patterns = {kLlama3};
        c.no_default_bos = true;
    } else if (is_any({"deepseek-llm"})) {
        c.patterns = {"[\r\n]", kDeepseekLetters, kDeepseekPunctuation, R"(\s+\z)", kDeepseekCjk, R"(\p{N}+)"};
        c.clean_spaces = false;
    } else if (is_any({"deepseek-coder"})) {
        c.patterns = {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"};
        c.clean_spaces = false;
    } else if (is_any({"falcon"})) {
        c.patterns = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
    } else if (is_any({"starcoder", "refact", "codeshell", "exaone", "minerva-7b"})) {
        c.patterns = {R"(\p{N})", kGpt2};
    } else if (is_any({"command-r", "smollm"})) {
        c.patterns = {R"(\p{N})", kGpt2};
        c.clean_spaces = false;
    } else if (is_any({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                       "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"})) {
        c.patterns = {kGpt2};
    } else if (is_any({"qwen2"})) {
        c.patterns = {kQwen2};
        c.clean_spaces = false;
    } else if (is_any({"stablelm2", "megrez"})) {
        c.patterns = {kQwen2};
    } else if (is_any({"poro-chat"})) {
        c.patterns = {kBloom};
        c.clean_spaces = false;
    } else if (is_any({"bloom", "gpt3-finnish"})) {
        c.patterns = {kBloom};
    } else if (is_any({"viking"})) {
        c.patterns = {kBloom, R"(\p{N})"};
        c.clean_spaces = false;
    } else {
        return std::nullopt;
    }
    return c;
}

struct PreTokenizer::Compiled {
    pcre2_code* code = nullptr;
    std::string pattern;
    ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns) {
    for (const std::string& source : patterns) {
        auto compiled = std::make_unique<Compiled>();
        compiled->pattern = rewrite_whitespace_escapes(source);
        int error_code = 0;
        PCRE2_SIZE error_offset = 0;
        // MATCH_INVALID_UTF: input is user text and may be broken UTF-8; such bytes simply never match.
        compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled->pattern.data()), compiled->pattern.size(),
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset,
                                       nullptr);
        if (compiled->code == nullptr) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(error_code, message, sizeof(message));
            throw Error(fmt::format("pre-tokenizer regex '{}' does not compile at offset {}: {}", source, error_offset,
                                    reinterpret_cast<const char*>(message)));
        }
        // JIT is an optimisation only: when it is unavailable the interpreter gives the same matches.
        pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
        regexes_.push_back(std::move(compiled));
    }
}

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
    struct Span {
        size_t begin, end;
    };
    std::vector<Span> pieces;
    if (!text.empty()) pieces.push_back({0, text.size()});

    std::vector<Span> next;
    for (const auto& regex : regexes_) {
        const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
            pcre2_match_data_create_from_pattern(regex->code, nullptr), &pcre2_match_data_free);
        if (!match_data) throw Error("pre-tokenizer: out of memory for PCRE2 match data");
        pcre2_match_data* match = match_data.get();
        next.clear();
        next.reserve(pieces.size() * 2);
        for (const Span piece : pieces) {
            // Each piece is matched on its own: lookaheads and `\z` see the piece's end, not the text's.
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
            const size_t length = piece.end - piece.begin;
            size_t done = 0;    // end of the last piece emitted, relative to piece.begin
            size_t start = 0;   // where the next search starts
            while (start < length) {
                const int rc = pcre2_match(regex->code, subject, length, start, 0, match, nullptr);
                if (rc == PCRE2_ERROR_NOMATCH) break;
                if (rc < 0) {
                    PCRE2_UCHAR message[256];
                    pcre2_get_error_message(rc, message, sizeof(message));
                    throw Error(fmt::format("pre-tokenizer regex '{}' failed: {}", regex->pattern,
                                            reinterpret_cast<const char*>(message)));
                }
                const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
                const size_t match_begin = ovector[0];
                const size_t match_end = ovector[1];
                if (match_end <= match_begin) {
                    // No pattern here can match empty; step over one character to be safe anyway.
                    if (match_begin >= length) break;
                    start = match_begin + std::min(utf8_lead_length(static_cast<uint8_t>(text[piece.begin + match_begin])),
                                                   length - match_begin);
                    continue;
                }
                if (match_begin > done) next.push_back({piece.begin + done, piece.begin + match_begin});
                next.push_back({piece.begin + match_begin, piece.begin + match_end});
                done = start = match_end;
            }
            if (done < length) next.push_back({piece.begin + done, piece.end});
        }
        pieces.swap(next);
    }

    std::vector<std::string_view> words;
    words.reserve(pieces.size());
    for (const Span piece : pieces) words.push_back(text.substr(piece.begin, piece.end - piece.begin));
    return words;
}

}  // namespace peregrine::vocab_detail
