// Vocab::from_gguf: reading tokenizer.ggml.* metadata, checking it, and filling in llama.cpp's
// defaults for whatever the file leaves out.
//
// Keys read:
//   tokenizer.ggml.model         "llama" (SPM) or "gpt2" (BPE); anything else is unsupported
//   tokenizer.ggml.pre           BPE pre-tokenizer name (absent: "default")
//   tokenizer.ggml.tokens        token texts                          (required, non-empty, unique)
//   tokenizer.ggml.scores        SPM merge scores                      (optional, one per token)
//   tokenizer.ggml.token_type    GGUF token types                      (optional, one per token)
//   tokenizer.ggml.merges        BPE merges "left right", by rank      (required for gpt2)
//   tokenizer.ggml.*_token_id    special ids; 4294967295 (or negative) means "none"
//   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix
//   general.name                 Phi-3's special-token attributes depend on it
#include <fmt/format.h>

#include <cstdio>
#include <limits>

#include "peregrine/error.h"
#include "peregrine/gguf.h"
#include "peregrine/log.h"
#include "vocab/unicode_utf8.h"
#include "vocab/vocab_data.h"

namespace peregrine {

using namespace vocab_detail;

namespace {

constexpr const char* kModelKey = "tokenizer.ggml.model";
constexpr const char* kPreKey = "tokenizer.ggml.pre";
constexpr const char* kTokensKey = "tokenizer.ggml.tokens";
constexpr const char* kScoresKey = "tokenizer.ggml.scores";
constexpr const char* kTypesKey = "tokenizer.ggml.token_type";
constexpr const char* kMergesKey = "tokenizer.ggml.merges";

uint32_t attr_from_token_type(int64_t type) {
    switch (type) {
        case 1: return kAttrNormal;
        case 2: return kAttrUnknown;
        case 3: return kAttrControl;
        case 4: return kAttrUserDefined;
        case 5: return kAttrUnused;
        case 6: return kAttrByte;
        default: return kAttrUndefined;   // 0 and unknown values, as llama.cpp
    }
}

// Model type and pre-tokenizer: sets the kind, the tokenizer flags and the default special ids.
// Returns the BPE pre-tokenizer patterns (empty for SPM).
std::vector<std::string> read_tokenizer_model(const gguf::GgufFile& file, VocabData& vocab) {
    const std::string model = file.get_string(kModelKey);
    const std::string pre = file.get_string_or(kPreKey, "");
    vocab.pre = pre.empty() ? "default" : pre;

    if (model == "llama") {
        vocab.kind = VocabKind::SPM;
        vocab.bos = 1, vocab.eos = 2, vocab.unk = 0;
        vocab.add_space_prefix = true;
        vocab.add_bos = true;
        vocab.add_eos = false;
        vocab.clean_spaces = false;
        return {};
    }
    if (model == "gpt2") {
        vocab.kind = VocabKind::BPE;
        vocab.bos = 11, vocab.eos = 11;   // llama.cpp's BPE defaults (Falcon's <|endoftext|>)
        if (pre.empty()) {
            log_warn("{}: {} is missing; using the 'default' pre-tokenizer, tokenization may not match the model",
                     file.path(), kPreKey);
        }
        const std::optional<BpePreConfig> config = bpe_pre_config(vocab.pre);
        if (!config) {
            throw UnsupportedModelError(
                fmt::format("{}: {} = '{}' is not a supported pre-tokenizer", file.path(), kPreKey, printable(vocab.pre)));
        }
        vocab.ignore_merges = config->ignore_merges;
        vocab.clean_spaces = config->clean_spaces;
        vocab.add_bos = config->add_bos.value_or(false);
        if (config->no_default_bos) vocab.bos = -1;
        return config->patterns;
    }
    if (model == "bert" || model == "t5" || model == "rwkv" || model == "no_vocab" || model == "none") {
        throw UnsupportedModelError(fmt::format("{}: {} = '{}' is not supported (only 'llama' and 'gpt2' are)",
                                                file.path(), kModelKey, model));
    }
    throw UnsupportedModelError(
        fmt::format("{}: {} = '{}' is an unknown tokenizer model", file.path(), kModelKey, printable(model)));
}

void read_tokens(const gguf::GgufFile& file, VocabData& vocab) {
    if (!file.has(kTokensKey)) throw GgufError(fmt::format("{}: required key '{}' is missing", file.path(), kTokensKey));
    std::vector<std::string> texts = file.get_string_array(kTokensKey);
    if (texts.empty()) throw GgufError(fmt::format("{}: {} is empty", file.path(), kTokensKey));
    if (texts.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        throw GgufError(fmt::format("{}: {} has {} entries, more than a token id can address", file.path(), kTokensKey,
                                    texts.size()));
    }
    const size_t n = texts.size();
    const std::vector<float> scores = file.get_float_array(kScoresKey);
    if (file.has(kScoresKey) && scores.size() != n) {
        throw GgufError(fmt::format("{}: {} has {} entries but {} has {}", file.path(), kScoresKey, scores.size(),
                                    kTokensKey, n));
    }
    const std::vector<int64_t> types = file.get_int_array(kTypesKey);
    if (file.has(kTypesKey) && types.size() != n) {
        throw GgufError(fmt::format("{}: {} has {} entries but {} has {}", file.path(), kTypesKey, types.size(),
                                    kTokensKey, n));
    }

    vocab.tokens.resize(n);
    for (size_t i = 0; i < n; ++i) {
        TokenEntry& token = vocab.tokens[i];
        token.text = std::move(texts[i]);
        if (token.text.empty()) {
            // llama.cpp renames empty entries so that every text maps to one id.
            log_warn("{}: {} entry {} is empty", file.path(), kTokensKey, i);
            token.text = fmt::format("[EMPTY_{}]", i);
        }
        token.score = scores.empty() ? 0.0f : scores[i];
        token.attr = types.empty() ? kAttrNormal : attr_from_token_type(types[i]);
    }
    if (const auto duplicate = vocab.token_index.build(vocab.tokens)) {
        throw GgufError(fmt::format("{}: {} has the text '{}' twice (ids {} and {})", file.path(), kTokensKey,
                                    printable(vocab.tokens[static_cast<size_t>(duplicate->first)].text), duplicate->first,
                                    duplicate->second));
    }
}

void read_merges(const gguf::GgufFile& file, VocabData& vocab) {
    if (!file.has(kMergesKey)) {
        throw GgufError(fmt::format("{}: required key '{}' is missing (a gpt2 tokenizer needs its merges)", file.path(),
                                    kMergesKey));
    }
    const std::vector<std::string> merges = file.get_string_array(kMergesKey);
    vocab.merges.reserve(merges.size());
    std::string joined;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const std::string_view merge = merges[rank];
        // The separator is the first space after the first character (a part never starts with a space
        // in byte-level BPE, but the search starts at 1 as in llama.cpp).
        const size_t space = merge.find(' ', 1);
        if (space == std::string::npos) {
            throw GgufError(fmt::format("{}: {} entry {} ('{}') is not of the form 'left right'", file.path(),
                                        kMergesKey, rank, printable(merge)));
        }
        const std::string_view left = merge.substr(0, space);
        const std::string_view right = merge.substr(space + 1);
        joined.assign(left).append(right);
        int32_t ids[3];
        const std::string_view parts[3] = {left, right, joined};
        for (int i = 0; i < 3; ++i) {
            ids[i] = vocab.find(parts[i]);
            if (ids[i] < 0) {
                throw GgufError(fmt::format("{}: {} entry {} ('{}') refers to '{}', which is not in {}", file.path(),
                                            kMergesKey, rank, printable(merge), printable(parts[i]), kTokensKey));
            }
        }
        vocab.merges.add(ids[0], ids[1], MergeInfo{static_cast<int32_t>(rank), ids[2]});
    }
}

// Special ids. An id that is out of range is an error for the ids tokenization and generation rely
// on; for the others (padding, mask, FIM, ...) it is only logged, as real files do carry such ids.
void read_special_ids(const gguf::GgufFile& file, VocabData& vocab) {
    struct Key {
        const char* name;
        int32_t* id;
        bool required_valid;
    };
    const Key keys[] = {
        {"tokenizer.ggml.bos_token_id", &vocab.bos, true},
        {"tokenizer.ggml.eos_token_id", &vocab.eos, true},
        {"tokenizer.ggml.eot_token_id", &vocab.eot, true},
        {"tokenizer.ggml.eom_token_id", &vocab.eom, true},
        {"tokenizer.ggml.unknown_token_id", &vocab.unk, true},
        {"tokenizer.ggml.seperator_token_id", &vocab.sep, false},
        {"tokenizer.ggml.padding_token_id", &vocab.pad, false},
        {"tokenizer.ggml.mask_token_id", &vocab.mask, false},
        {"tokenizer.ggml.fim_pre_token_id", &vocab.fim_pre, false},
        {"tokenizer.ggml.fim_suf_token_id", &vocab.fim_suf, false},
        {"tokenizer.ggml.fim_mid_token_id", &vocab.fim_mid, false},
        {"tokenizer.ggml.fim_pad_token_id", &vocab.fim_pad, false},
        {"tokenizer.ggml.fim_rep_token_id", &vocab.fim_rep, false},
        {"tokenizer.ggml.fim_sep_token_id", &vocab.fim_sep, false},
        {"tokenizer.ggml.prefix_token_id", &vocab.fim_pre, false},   // older names of the FIM ids
        {"tokenizer.ggml.suffix_token_id", &vocab.fim_suf, false},
        {"tokenizer.ggml.middle_token_id", &vocab.fim_mid, false},
    };
    for (const Key& key : keys) {
        if (!file.has(key.name)) continue;
        const int64_t value = file.get_int(key.name);
        if (value < 0 || value == 0xFFFFFFFFll) {
            *key.id = -1;
            continue;
        }
        if (value >= vocab.n_tokens()) {
            const std::string message = fmt::format("{}: {} = {} is outside the vocabulary of {} tokens", file.path(),
                                                    key.name, value, vocab.n_tokens());
            if (key.required_valid) throw GgufError(message);
            log_warn("{}; ignoring it", message);
            continue;
        }
        *key.id = static_cast<int32_t>(value);
    }
    // The defaults themselves may not exist in a small vocabulary.
    for (int32_t* id : {&vocab.bos, &vocab.eos, &vocab.unk}) {
        if (*id >= vocab.n_tokens()) *id = -1;
    }

    vocab.add_bos = file.get_bool_or("tokenizer.ggml.add_bos_token", vocab.add_bos);
    vocab.add_eos = file.get_bool_or("tokenizer.ggml.add_eos_token", vocab.add_eos);
    if (vocab.add_bos && vocab.bos < 0) {
        log_warn("{}: the vocabulary asks for a BOS token but has none; not adding one", file.path());
        vocab.add_bos = false;
    }
    if (vocab.add_eos && vocab.eos < 0) {
        log_warn("{}: the vocabulary asks for an EOS token but has none; not adding one", file.path());
        vocab.add_eos = false;
    }
}

void build_byte_tokens(VocabData& vocab) {
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        int32_t id = vocab.find(name);
        if (id < 0) {
            const char raw = static_cast<char>(b);
            id = vocab.find(std::string_view(&raw, 1));
        }
        vocab.byte_tokens[static_cast<size_t>(b)] = id;
    }
}

}  // namespace

std::shared_ptr<const Vocab> Vocab::from_gguf(const gguf::GgufFile& file) {
    auto data = std::make_unique<VocabData>();
    VocabData& vocab = *data;
    vocab.source = file.path();
    vocab.byte_tokens.fill(-1);

    const std::vector<std::string> patterns = read_tokenizer_model(file, vocab);
    vocab.add_space_prefix = file.get_bool_or("tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);
    read_tokens(file, vocab);
    if (vocab.kind == VocabKind::BPE) {
        read_merges(file, vocab);
        vocab.pre_tokenizer = std::make_unique<PreTokenizer>(patterns);
    } else {
        build_byte_tokens(vocab);
    }
    read_special_ids(file, vocab);

    {
        // llama.cpp's std::unordered_map, built the same way (id order, no reserve), only to be walked
        // in the same order by the text-based special-token detection.
        LlamaOrderTokenMap llama_order;
        for (int32_t id = 0; id < vocab.n_tokens(); ++id) llama_order.emplace(vocab.tokens[static_cast<size_t>(id)].text, id);
        detect_special_tokens_by_text(vocab, llama_order);
    }
    build_eog_ids(vocab);
    build_special_token_cache(vocab);

    vocab.pieces.resize(vocab.tokens.size());
    for (int32_t id = 0; id < vocab.n_tokens(); ++id) vocab.pieces[static_cast<size_t>(id)] = make_piece(vocab, id);

    apply_model_token_attributes(vocab, file.get_string_or("general.name", ""));

    log_debug("{}: {} vocabulary, {} tokens, pre-tokenizer '{}', {} special tokens, {} merges", file.path(),
              vocab.kind == VocabKind::SPM ? "SPM" : "BPE", vocab.n_tokens(), vocab.pre, vocab.special_tokens.size(),
              vocab.merges.size());
    return std::shared_ptr<const Vocab>(new Vocab(std::move(data)));
}

}  // namespace peregrine
