// Tokenizer built from a GGUF file's tokenizer.ggml.* metadata.
//
// The goal is to agree with llama.cpp id for id (the golden files under shared/golden/tokenize/ were
// produced by llama.cpp c392e50), including its quirks:
//   - SPM ("llama"): score-driven bigram merging, "▁" for spaces, a "▁" prefix on the text and on every
//     text fragment that follows a special token, <0xNN> byte fallback.
//   - BPE ("gpt2"): byte-level BPE with merge ranks, after a pre-tokenizer (a list of regexes chosen by
//     tokenizer.ggml.pre) has split the text into words.
//   - Special tokens: CONTROL tokens are recognised in the text only when parse_special is set;
//     USER_DEFINED tokens always. Per-model attributes (Phi-3's RSTRIP) follow general.name.
//   - Defaults for absent keys (BOS/EOS ids, add_bos/add_eos) per tokenizer model and pre-tokenizer.
//   - End-of-generation ids, including tokens recognised by their text (<|im_end|>, <|eot_id|>, ...).
// Bad metadata (arrays of different lengths, ids out of range, unknown models, merges naming tokens
// that do not exist) ends in GgufError / UnsupportedModelError naming the key, never in a crash.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine {

namespace gguf {
class GgufFile;
}
namespace vocab_detail {
struct VocabData;
}

// The GGUF token types (tokenizer.ggml.token_type values).
enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };
enum class VocabKind { SPM, BPE };

// One piece of text for Vocab::tokenize_fragments. Fragments with parse_special = false never turn
// into CONTROL tokens (USER_DEFINED tokens are still matched, as in raw tokenization).
struct TextFragment {
    std::string text;
    bool parse_special = true;
};

class Vocab {
public:
    // Reads tokenizer.ggml.* keys; throws GgufError/UnsupportedModelError with the key name on bad data
    // (arrays of different lengths, special ids out of range, unknown tokenizer model, missing merges...).
    static std::shared_ptr<const Vocab> from_gguf(const gguf::GgufFile& file);
    ~Vocab();
    Vocab(const Vocab&) = delete;
    Vocab& operator=(const Vocab&) = delete;

    VocabKind kind() const;
    std::string_view pre() const;        // tokenizer.ggml.pre or "default"
    int32_t n_tokens() const;
    int32_t bos() const;
    int32_t eos() const;
    int32_t eot() const;                 // -1 when none
    int32_t eom() const;                 // -1 when none
    int32_t unk() const;                 // -1 when none
    bool add_bos() const;
    bool add_eos() const;
    bool add_space_prefix() const;       // SPM: a "▁" is put before the text
    bool is_eog(int32_t id) const;       // end of generation (EOS, EOT, <|im_end|>-like, as llama.cpp)
    const std::vector<int32_t>& eog_ids() const;   // ascending
    // The effective type: llama.cpp turns tokens that look like end-of-turn/FIM markers into CONTROL.
    TokenType token_type(int32_t id) const;
    const std::string& token_text(int32_t id) const;   // raw vocabulary entry; throws for a bad id
    int32_t token_id(std::string_view text) const;     // exact vocabulary entry, -1 when absent

    // llama_tokenize(text, add_special, parse_special)
    std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;
    // Tokenizes the concatenation of the fragments as one text (BOS/EOS once, as add_special says),
    // except that special tokens are only looked for inside each fragment, with its own parse_special.
    std::vector<int32_t> tokenize_fragments(std::span<const TextFragment> fragments, bool add_special) const;

    // llama_token_to_piece(id, lstrip=0, special): the exact bytes (may be a partial UTF-8 sequence).
    // With special = false, CONTROL and UNKNOWN tokens give "". Throws InvalidRequestError for a bad id.
    std::string token_to_piece(int32_t id, bool special = true) const;
    // llama_detokenize(ids, remove_special, unparse_special)
    std::string detokenize(std::span<const int32_t> ids, bool remove_special, bool unparse_special) const;

private:
    explicit Vocab(std::unique_ptr<vocab_detail::VocabData> data);
    std::unique_ptr<vocab_detail::VocabData> data_;
};

// Streaming detokenizer: feed ids one by one, get only complete UTF-8 back (holds partial sequences;
// flush() emits what is left, invalid bytes as U+FFFD). The output is the plain concatenation of the
// pieces (no SPM leading-space stripping), which is what a streaming UI shows.
class StreamDecoder {
public:
    explicit StreamDecoder(const Vocab& vocab, bool special = false);
    std::string push(int32_t id);
    std::string flush();

private:
    const Vocab& vocab_;
    bool special_;
    std::string pending_;   // bytes of an incomplete UTF-8 sequence, at most 3
};

}  // namespace peregrine
