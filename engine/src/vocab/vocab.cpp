// Vocab's accessors and tokenize(): special-token partitioning, then the SPM or BPE tokenizer on
// each text fragment, with BOS/EOS and SPM's space prefix added the way llama.cpp adds them.
#include <fmt/format.h>

#include <algorithm>

#include "peregrine/error.h"
#include "peregrine/log.h"
#include "vocab/vocab_data.h"

namespace peregrine {

using namespace vocab_detail;

namespace {

// SPM: each text fragment that starts the input or follows a special token gets a "▁" prefix (when
// the vocabulary asks for one), and every space becomes "▁".
void tokenize_spm_fragments(const VocabData& vocab, const std::vector<Fragment>& fragments, bool add_special,
                            std::vector<int32_t>& out) {
    static constexpr std::string_view kSpace = "\xE2\x96\x81";
    if (add_special && vocab.add_bos) out.push_back(vocab.bos);
    bool after_special = true;
    std::string escaped;
    for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
            out.push_back(fragment.token);
            after_special = true;
            continue;
        }
        escaped.clear();
        if (vocab.add_space_prefix && after_special) escaped += kSpace;
        for (const char c : fragment.text) {
            if (c == ' ') {
                escaped += kSpace;
            } else {
                escaped += c;
            }
        }
        spm_tokenize(vocab, escaped, out);
        after_special = false;
    }
    if (add_special && vocab.add_eos) out.push_back(vocab.eos);
}

void tokenize_bpe_fragments(const VocabData& vocab, const std::vector<Fragment>& fragments, bool add_special,
                            std::vector<int32_t>& out) {
    if (add_special && vocab.add_bos) out.push_back(vocab.bos);
    for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
            out.push_back(fragment.token);
        } else {
            bpe_tokenize(vocab, fragment.text, out);
        }
    }
    if (add_special && vocab.add_eos) out.push_back(vocab.eos);
}

std::vector<int32_t> tokenize_fragments_impl(const VocabData& vocab, const std::vector<Fragment>& fragments,
                                             bool add_special) {
    std::vector<int32_t> out;
    if (vocab.kind == VocabKind::SPM) {
        tokenize_spm_fragments(vocab, fragments, add_special, out);
    } else {
        tokenize_bpe_fragments(vocab, fragments, add_special, out);
    }
    if (add_special && vocab.add_bos && out.size() >= 2 && out[1] == vocab.bos) {
        log_debug("{}: the text starts with a BOS token and another one was added", vocab.source);
    }
    return out;
}

}  // namespace

void vocab_detail::check_token_id(const VocabData& vocab, int32_t id) {
    if (id < 0 || id >= vocab.n_tokens()) {
        throw InvalidRequestError(
            fmt::format("token id {} is outside the vocabulary of {} tokens ({})", id, vocab.n_tokens(), vocab.source));
    }
}

Vocab::Vocab(std::unique_ptr<VocabData> data) : data_(std::move(data)) {}
Vocab::~Vocab() = default;

VocabKind Vocab::kind() const { return data_->kind; }
std::string_view Vocab::pre() const { return data_->pre; }
int32_t Vocab::n_tokens() const { return data_->n_tokens(); }
int32_t Vocab::bos() const { return data_->bos; }
int32_t Vocab::eos() const { return data_->eos; }
int32_t Vocab::eot() const { return data_->eot; }
int32_t Vocab::eom() const { return data_->eom; }
int32_t Vocab::unk() const { return data_->unk; }
bool Vocab::add_bos() const { return data_->add_bos; }
bool Vocab::add_eos() const { return data_->add_eos; }
bool Vocab::add_space_prefix() const { return data_->add_space_prefix; }
const std::vector<int32_t>& Vocab::eog_ids() const { return data_->eog_ids; }

bool Vocab::is_eog(int32_t id) const {
    const auto& ids = data_->eog_ids;
    return id >= 0 && std::binary_search(ids.begin(), ids.end(), id);
}

TokenType Vocab::token_type(int32_t id) const {
    check_token_id(*data_, id);
    const uint32_t attr = data_->tokens[static_cast<size_t>(id)].attr;
    if (attr & kAttrControl) return TokenType::Control;
    if (attr & kAttrUserDefined) return TokenType::UserDefined;
    if (attr & kAttrUnknown) return TokenType::Unknown;
    if (attr & kAttrByte) return TokenType::Byte;
    if (attr & kAttrUnused) return TokenType::Unused;
    if (attr & kAttrNormal) return TokenType::Normal;
    return TokenType::Undefined;
}

const std::string& Vocab::token_text(int32_t id) const {
    check_token_id(*data_, id);
    return data_->tokens[static_cast<size_t>(id)].text;
}

int32_t Vocab::token_id(std::string_view text) const { return data_->find(text); }

std::vector<int32_t> Vocab::tokenize(std::string_view text, bool add_special, bool parse_special) const {
    std::vector<Fragment> fragments;
    partition_special_tokens(*data_, text, parse_special, fragments);
    return tokenize_fragments_impl(*data_, fragments, add_special);
}

std::vector<int32_t> Vocab::tokenize_fragments(std::span<const TextFragment> pieces, bool add_special) const {
    // Partition each piece on its own, over one joined buffer so that text left over at the end of one
    // piece and the start of the next is tokenized as the single stretch of text it is.
    std::string joined;
    for (const TextFragment& piece : pieces) joined += piece.text;
    std::vector<Fragment> fragments;
    std::vector<Fragment> parts;
    size_t offset = 0;
    for (const TextFragment& piece : pieces) {
        parts.clear();
        partition_special_tokens(*data_, std::string_view(joined).substr(offset, piece.text.size()),
                                 piece.parse_special, parts);
        offset += piece.text.size();
        for (const Fragment& part : parts) {
            Fragment* last = fragments.empty() ? nullptr : &fragments.back();
            if (last && last->token < 0 && part.token < 0 &&
                last->text.data() + last->text.size() == part.text.data()) {
                last->text = std::string_view(last->text.data(), last->text.size() + part.text.size());
            } else {
                fragments.push_back(part);
            }
        }
    }
    return tokenize_fragments_impl(*data_, fragments, add_special);
}

}  // namespace peregrine
