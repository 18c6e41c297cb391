// Everything a Vocab knows, shared by the loader, the tokenizers and the detokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "peregrine/vocab.h"
#include "vocab/pre_tokenizer.h"
#include "vocab/token_index.h"

namespace peregrine::vocab_detail {

// Token attributes as llama.cpp keeps them: the GGUF token type as one bit, plus the strip flags some
// models set on their special tokens.
enum TokenAttr : uint32_t {
    kAttrUndefined = 0,
    kAttrUnknown = 1u << 0,
    kAttrUnused = 1u << 1,
    kAttrNormal = 1u << 2,
    kAttrControl = 1u << 3,
    kAttrUserDefined = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrLstrip = 1u << 7,   // drop whitespace before the token when it is matched in text
    kAttrRstrip = 1u << 8,   // drop whitespace after it
};

struct TokenEntry {
    std::string text;
    float score = 0.0f;
    uint32_t attr = kAttrNormal;
};

// std::hash over the bytes, usable with string_view lookups; hashes exactly like std::hash<std::string>
// (see detect_special_tokens_by_text for why that matters).
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// Text -> id in the iteration order of llama.cpp's token map: a std::unordered_map filled in id order
// without reserve(). Only the load-time special-token detection needs it.
using LlamaOrderTokenMap = std::unordered_map<std::string_view, int32_t, StringHash, std::equal_to<>>;

struct VocabData {
    VocabKind kind = VocabKind::SPM;
    std::string pre = "default";
    std::string source;   // file name, for messages

    std::vector<TokenEntry> tokens;
    TokenIndex token_index;   // text -> id
    MergeTable merges;        // BPE: (left id, right id) -> rank and merged id

    int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
    int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;

    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;   // SPM: prefix "▁"
    bool ignore_merges = false;      // BPE: a word that is a token is not merged further
    bool clean_spaces = false;       // detokenize: " ," -> "," and friends

    std::vector<int32_t> special_tokens;   // CONTROL/USER_DEFINED/UNKNOWN ids, longest text first
    std::vector<int32_t> eog_ids;          // ascending
    std::vector<std::string> pieces;       // token_to_piece(id, special = true) for every id
    std::array<int32_t, 256> byte_tokens{};   // SPM byte fallback: <0xNN> (or the raw byte) per byte, -1 if none

    std::unique_ptr<PreTokenizer> pre_tokenizer;   // BPE only

    int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
    int32_t find(std::string_view text) const { return token_index.find(text, tokens); }
    bool has_attr(int32_t id, uint32_t attr) const { return (tokens[static_cast<size_t>(id)].attr & attr) != 0; }
};

// A stretch of input: either text still to be tokenized or an already recognised special token.
struct Fragment {
    int32_t token = -1;        // >= 0: a special token
    std::string_view text;     // token < 0: the raw text (a view into the caller's input)
};

// Splits `text` around the special tokens it contains, as llama.cpp's tokenizer_st_partition does:
// tokens are tried longest first, each one splitting every text fragment at all its occurrences.
// CONTROL and UNKNOWN tokens are only considered when parse_special is set; USER_DEFINED always.
void partition_special_tokens(const VocabData& vocab, std::string_view text, bool parse_special,
                              std::vector<Fragment>& out);

// Model-level tokenizers; each appends the ids of one text fragment to `out`.
void spm_tokenize(const VocabData& vocab, std::string_view text, std::vector<int32_t>& out);
void bpe_tokenize(const VocabData& vocab, std::string_view text, std::vector<int32_t>& out);

// Throws InvalidRequestError unless 0 <= id < n_tokens.
void check_token_id(const VocabData& vocab, int32_t id);

// token_to_piece for the piece cache (special = true).
std::string make_piece(const VocabData& vocab, int32_t id);

// Load-time steps that follow llama.cpp's special-token handling (vocab_special_tokens.cpp).
void detect_special_tokens_by_text(VocabData& vocab, const LlamaOrderTokenMap& token_map);
void build_eog_ids(VocabData& vocab);
void build_special_token_cache(VocabData& vocab);
void apply_model_token_attributes(VocabData& vocab, std::string_view model_name);

}  // namespace peregrine::vocab_detail
