#include "grammar/grammar_vocabulary.h"

#include <algorithm>
#include <numeric>

#include "peregrine/vocab.h"

namespace peregrine {
namespace {

using Impl = GrammarVocabulary::Impl;

// Builds the children of `node` from ids[lo, hi), all of whose pieces share their first `depth` bytes.
// The ids are sorted by piece, so those whose piece ends at `depth` come first, and each child's ids
// are a contiguous run. Children of one node are allocated together, then each child is built.
void build(Impl& v, int32_t node, size_t lo, size_t hi, size_t depth) {
    size_t i = lo;
    while (i < hi && v.pieces[size_t(v.ids[i])].size() == depth) ++i;
    v.nodes[size_t(node)].tokens_begin = int32_t(lo);
    v.nodes[size_t(node)].tokens_end = int32_t(i);
    std::vector<std::pair<size_t, size_t>> runs;
    while (i < hi) {
        const uint8_t b = uint8_t(v.pieces[size_t(v.ids[i])][depth]);
        size_t j = i;
        while (j < hi && uint8_t(v.pieces[size_t(v.ids[j])][depth]) == b) ++j;
        runs.emplace_back(i, j);
        i = j;
    }
    const int32_t first = int32_t(v.nodes.size());
    v.nodes[size_t(node)].first_child = first;
    v.nodes[size_t(node)].n_children = int32_t(runs.size());
    v.nodes.resize(v.nodes.size() + runs.size());
    for (size_t c = 0; c < runs.size(); ++c) {
        const auto [a, b] = runs[c];
        v.nodes[size_t(first) + c].byte = uint8_t(v.pieces[size_t(v.ids[a])][depth]);
        build(v, first + int32_t(c), a, b, depth + 1);
    }
}

}  // namespace

GrammarVocabulary::GrammarVocabulary(const Vocab& vocab) : impl_(std::make_unique<Impl>()) {
    Impl& v = *impl_;
    const int32_t n = vocab.n_tokens();
    v.pieces.resize(size_t(n));
    v.eog.assign(size_t(n), 0);
    std::vector<uint8_t> is_byte(size_t(n), 0);
    for (int32_t id = 0; id < n; ++id) {
        if (vocab.is_eog(id)) {
            v.eog[size_t(id)] = 1;
            v.eog_ids.push_back(id);
            continue;
        }
        const TokenType type = vocab.token_type(id);
        // Control and unknown tokens show no text; unused ones never appear. Neither can match a grammar.
        if (type == TokenType::Control || type == TokenType::Unknown || type == TokenType::Unused) continue;
        v.pieces[size_t(id)] = vocab.token_to_piece(id, /*special=*/false);
        is_byte[size_t(id)] = type == TokenType::Byte;
        v.max_piece_bytes = std::max(v.max_piece_bytes, v.pieces[size_t(id)].size());
    }
    for (int32_t id = 0; id < n; ++id) {
        if (!v.pieces[size_t(id)].empty()) v.ids.push_back(id);
    }
    // Sorted by text; for equal texts a normal token before a byte token (what a tokenizer would
    // produce), then the lower id.
    std::sort(v.ids.begin(), v.ids.end(), [&](int32_t a, int32_t b) {
        const std::string& pa = v.pieces[size_t(a)];
        const std::string& pb = v.pieces[size_t(b)];
        if (pa != pb) return pa < pb;
        if (is_byte[size_t(a)] != is_byte[size_t(b)]) return is_byte[size_t(a)] < is_byte[size_t(b)];
        return a < b;
    });
    v.nodes.resize(1);
    build(v, 0, 0, v.ids.size(), 0);
}

GrammarVocabulary::~GrammarVocabulary() = default;
int32_t GrammarVocabulary::n_tokens() const { return int32_t(impl_->pieces.size()); }
const std::string& GrammarVocabulary::piece(int32_t id) const { return impl_->pieces.at(size_t(id)); }
bool GrammarVocabulary::is_eog(int32_t id) const { return impl_->eog.at(size_t(id)) != 0; }

}  // namespace peregrine
