// BPE pre-tokenizers: the regexes that cut text into words before byte-level BPE runs on each word.
//
// Which regexes apply is decided by tokenizer.ggml.pre. llama.cpp applies a list of regexes one after
// the other; each one only adds cut points: inside every current piece, each match becomes a piece
// and so does each unmatched stretch between matches. PreTokenizer does the same with PCRE2.
//
// The patterns are llama.cpp's (which are the Hugging Face tokenizer.json ones), adjusted so that
// PCRE2 gives llama.cpp's results:
//   - `\s` means llama.cpp's whitespace set (Unicode White_Space: no U+001C..U+001F, but U+0085 and
//     U+00A0), written out as an explicit class.
//   - in patterns without \p{..} classes, llama.cpp turns non-ASCII whitespace into U+000B before
//     matching, so literal ranges never match it (only `\s` does); our ranges exclude it explicitly.
//   - `$` is end of piece (`\z`), as in ECMAScript.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::vocab_detail {

// Per tokenizer.ggml.pre value: the regex list and the flags llama.cpp sets with it.
struct BpePreConfig {
    std::vector<std::string> patterns;   // PCRE2 syntax, before the `\s` rewrite
    bool ignore_merges = false;          // a word that is itself a token is emitted as is
    bool clean_spaces = true;            // detokenize removes " ," " ." " 's"-style spaces
    std::optional<bool> add_bos;         // default when tokenizer.ggml.add_bos_token is absent
    bool no_default_bos = false;         // the BPE default BOS id (11) does not apply
};

// nullopt for a pre-tokenizer name this engine does not know.
std::optional<BpePreConfig> bpe_pre_config(std::string_view pre);

class PreTokenizer {
public:
    // Compiles the patterns (UTF + Unicode properties, JIT when available). Throws Error naming the
    // pattern when PCRE2 rejects one.
    explicit PreTokenizer(const std::vector<std::string>& patterns);
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    // The words of `text`, in order, covering it completely (views into `text`). Invalid UTF-8 is
    // never matched by a pattern, so it ends up in words of its own rather than being dropped.
    std::vector<std::string_view> split(std::string_view text) const;

private:
    struct Compiled;
    std::vector<std::unique_ptr<Compiled>> regexes_;
};

}  // namespace peregrine::vocab_detail
