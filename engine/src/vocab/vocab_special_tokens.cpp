// Special-token rules that llama.cpp applies after reading the token list: tokens recognised by their
// text (end of turn, fill-in-the-middle markers), the end-of-generation set, the cache of tokens
// that are matched in input text, and per-model token attributes.
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <set>
#include <string>

#include "peregrine/log.h"
#include "vocab/unicode_utf8.h"
#include "vocab/vocab_data.h"

namespace peregrine::vocab_detail {

namespace {

bool is_one_of(std::string_view text, std::initializer_list<std::string_view> candidates) {
    return std::find(candidates.begin(), candidates.end(), text) != candidates.end();
}

// llama.cpp forces tokens it recognises by text to CONTROL (dropping any other type), so that they
// are not matched in raw text and not printed by detokenize(remove_special).
void force_control(VocabData& vocab, int32_t id) {
    TokenEntry& token = vocab.tokens[static_cast<size_t>(id)];
    if ((token.attr & kAttrControl) == 0) {
        log_debug("{}: token {} '{}' looks like a control token but is not typed CONTROL; treating it as CONTROL",
                  vocab.source, id, printable(token.text));
        token.attr = kAttrControl;
    }
}

void detect(VocabData& vocab, int32_t& slot, std::string_view text, int32_t id,
            std::initializer_list<std::string_view> candidates) {
    if (slot >= 0 || !is_one_of(text, candidates)) return;
    slot = id;
    force_control(vocab, id);
}

}  // namespace

void detect_special_tokens_by_text(VocabData& vocab, const LlamaOrderTokenMap& token_map) {
    // Iterating the hash map (not the id order) is deliberate: llama.cpp walks its std::unordered_map
    // and the first candidate met wins. Qwen has both <|endoftext|> and <|im_end|>, Phi-3 both
    // <|endoftext|> and <|end|>; llama.cpp's EOT is the latter in both, and only this order says so.
    for (const auto& [text, id] : token_map) {
        detect(vocab, vocab.eot, text, id,
               {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
                "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"});   // DeepSeek <｜end▁of▁sentence｜>
        detect(vocab, vocab.eom, text, id, {"<|eom_id|>"});
        detect(vocab, vocab.fim_pre, text, id,
               {"<|fim_prefix|>", "<fim-prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>"});
        detect(vocab, vocab.fim_suf, text, id,
               {"<|fim_suffix|>", "<fim-suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>", "<SUF>"});
        detect(vocab, vocab.fim_mid, text, id,
               {"<|fim_middle|>", "<fim-middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>"});
        detect(vocab, vocab.fim_pad, text, id, {"<|fim_pad|>", "<fim-pad>", "<PAD>"});
        detect(vocab, vocab.fim_rep, text, id, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"});
        detect(vocab, vocab.fim_sep, text, id, {"<|file_sep|>"});
    }
}

void build_eog_ids(VocabData& vocab) {
    std::set<int32_t> eog;
    for (const int32_t id : {vocab.fim_pad, vocab.fim_rep, vocab.fim_sep}) {
        if (id >= 0) eog.insert(id);
    }
    for (int32_t id = 0; id < vocab.n_tokens(); ++id) {
        const std::string_view text = vocab.tokens[static_cast<size_t>(id)].text;
        if (is_one_of(text, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
                             "<EOT>"})) {
            eog.insert(id);
            force_control(vocab, id);
        }
    }
    for (const int32_t id : {vocab.eos, vocab.eot, vocab.eom}) {
        if (id >= 0) eog.insert(id);
    }
    vocab.eog_ids.assign(eog.begin(), eog.end());
}

void build_special_token_cache(VocabData& vocab) {
    vocab.special_tokens.clear();
    for (int32_t id = 0; id < vocab.n_tokens(); ++id) {
        if (vocab.has_attr(id, kAttrControl | kAttrUserDefined | kAttrUnknown)) vocab.special_tokens.push_back(id);
    }
    // Longest first. std::sort (not stable_sort) on purpose: it is llama.cpp's call on the same input,
    // so tokens of equal length end up in the same order, which decides overlapping matches.
    std::sort(vocab.special_tokens.begin(), vocab.special_tokens.end(), [&](int32_t a, int32_t b) {
        return vocab.tokens[static_cast<size_t>(a)].text.size() > vocab.tokens[static_cast<size_t>(b)].text.size();
    });
}

void apply_model_token_attributes(VocabData& vocab, std::string_view model_name) {
    std::string name(model_name);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    const auto set_attr = [&](std::string_view text, uint32_t attr, bool on) {
        const int32_t id = vocab.find(text);
        if (id < 0) return;
        uint32_t& bits = vocab.tokens[static_cast<size_t>(id)].attr;
        bits = on ? (bits | attr) : (bits & ~attr);
    };
    const auto contains = [](std::string_view haystack, std::string_view needle) {
        return haystack.find(needle) != std::string_view::npos;
    };

    if (contains(vocab.pre, "jina-v2-de") || contains(vocab.pre, "jina-v2-es") || contains(vocab.pre, "jina-v2-code")) {
        set_attr("<mask>", kAttrLstrip, true);
    } else if (contains(name, "phi-3") || contains(name, "phi3")) {
        // Phi-3's tokenizer drops the whitespace after its special tokens (and after </s>, which this
        // vocabulary has as USER_DEFINED), except after <unk>, <s> and <|endoftext|>. llama.cpp only
        // knows this from the model name.
        for (const int32_t id : vocab.special_tokens) vocab.tokens[static_cast<size_t>(id)].attr |= kAttrRstrip;
        set_attr("</s>", kAttrRstrip, true);
        for (const std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(text, kAttrRstrip, false);
    }
}

}  // namespace peregrine::vocab_detail
