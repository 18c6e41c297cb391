// GrammarMatcher: the parse stacks plus a partly received UTF-8 character. The token mask walks the
// vocabulary's prefix tree depth first, advancing the stacks one byte per tree edge; a byte the grammar
// refuses prunes every token below that edge, so the work grows with the number of allowed prefixes,
// not with the vocabulary.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

#include "grammar/grammar_impl.h"
#include "grammar/grammar_vocabulary.h"
#include "grammar/parse_stacks.h"
#include "grammar/utf8_cursor.h"

namespace peregrine {

using grammar::StackList;
using grammar::Utf8Cursor;

struct GrammarMatcher::State {
    StackList stacks;
    Utf8Cursor partial;
    bool ended = false;  // an end-of-generation token was accepted
};

namespace {

// Advances `in` by one byte into `out`; false when refused. A completed character advances the stacks;
// a partial one only has to be acceptable to some stack, and the stacks stay as they are (then `out`
// is left untouched and `same` is set, so the caller keeps using `in`).
bool advance_byte(const Grammar::Impl& g, const StackList& in, Utf8Cursor& cursor, uint8_t byte, StackList& out,
                  bool& same) {
    uint32_t cp = 0;
    switch (cursor.feed(byte, cp)) {
        case Utf8Cursor::Step::Invalid: return false;
        case Utf8Cursor::Step::Partial:
            same = true;
            return grammar::any_stack_accepts_range(in, cursor.min_code_point(), cursor.max_code_point());
        case Utf8Cursor::Step::Complete:
            same = false;
            grammar::advance_stacks(g, in, cp, out);
            return !out.empty();
    }
    return false;
}

// Depth-first walk of the prefix tree. levels[d] holds the stacks after d bytes when they changed.
struct MaskWalk {
    const Grammar::Impl& g;
    const GrammarVocabulary::Impl& v;
    std::vector<uint8_t>& allowed;
    std::deque<StackList>& levels;

    void walk(int32_t node_index, const StackList& stacks, Utf8Cursor cursor, size_t depth) {
        const auto& node = v.nodes[size_t(node_index)];
        if (levels.size() <= depth + 1) levels.resize(depth + 2);
        for (int32_t c = 0; c < node.n_children; ++c) {
            const int32_t child_index = node.first_child + c;
            const auto& child = v.nodes[size_t(child_index)];
            Utf8Cursor next_cursor = cursor;
            StackList& next = levels[depth + 1];
            bool same = false;
            if (!advance_byte(g, stacks, next_cursor, child.byte, next, same)) continue;
            const StackList& after = same ? stacks : next;
            for (int32_t t = child.tokens_begin; t < child.tokens_end; ++t) allowed[size_t(v.ids[size_t(t)])] = 1;
            walk(child_index, after, next_cursor, depth + 1);
        }
    }
};

}  // namespace

namespace {

// Buffers reused by every matcher of the thread (kept warm so masking does not allocate).
thread_local std::deque<StackList> t_mask_levels;
thread_local StackList t_text_a, t_text_b;

bool advance_text(const Grammar::Impl& g, GrammarMatcher::State& state, std::string_view text) {
    StackList& a = t_text_a;
    StackList& b = t_text_b;
    a.copy_from(state.stacks);
    Utf8Cursor cursor = state.partial;
    bool ok = true;
    for (char ch : text) {
        bool same = false;
        if (!advance_byte(g, a, cursor, uint8_t(ch), b, same)) {
            ok = false;
            break;
        }
        if (!same) std::swap(a, b);
    }
    if (ok) {
        state.stacks.copy_from(a);
        state.partial = cursor;
    }
    return ok;
}

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const GrammarVocabulary> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), state_(std::make_unique<State>()) {
    if (!grammar_ || !vocab_) throw InvalidRequestError("GrammarMatcher needs a grammar and a vocabulary");
    grammar::initial_stacks(grammar_->impl(), state_->stacks);
}

GrammarMatcher::GrammarMatcher(const GrammarMatcher& other)
    : grammar_(other.grammar_), vocab_(other.vocab_), state_(std::make_unique<State>()) {
    state_->stacks.copy_from(other.state_->stacks);
    state_->partial = other.state_->partial;
    state_->ended = other.state_->ended;
}

GrammarMatcher& GrammarMatcher::operator=(const GrammarMatcher& other) {
    if (this != &other) {
        grammar_ = other.grammar_;
        vocab_ = other.vocab_;
        state_->stacks.copy_from(other.state_->stacks);
        state_->partial = other.state_->partial;
        state_->ended = other.state_->ended;
    }
    return *this;
}

GrammarMatcher::~GrammarMatcher() = default;

bool GrammarMatcher::can_end() const {
    return state_->ended || (state_->partial.remaining == 0 && state_->stacks.any_empty());
}

bool GrammarMatcher::finished() const {
    if (state_->ended) return true;
    if (!can_end()) return false;
    for (size_t i = 0; i < state_->stacks.size(); ++i) {
        if (!state_->stacks[i].empty()) return false;
    }
    return true;
}

bool GrammarMatcher::accept_text(std::string_view text) {
    if (state_->ended) return text.empty();
    return advance_text(grammar_->impl(), *state_, text);
}

bool GrammarMatcher::is_allowed(int32_t id) const {
    if (id < 0 || id >= vocab_->n_tokens()) return false;
    if (vocab_->is_eog(id)) return can_end() && !state_->ended;
    const std::string& piece = vocab_->piece(id);
    if (piece.empty() || state_->ended) return false;
    State copy;
    copy.stacks.copy_from(state_->stacks);
    copy.partial = state_->partial;
    return advance_text(grammar_->impl(), copy, piece);
}

bool GrammarMatcher::accept_token(int32_t id) {
    if (id < 0 || id >= vocab_->n_tokens()) return false;
    if (vocab_->is_eog(id)) {
        if (!can_end() || state_->ended) return false;
        state_->ended = true;
        return true;
    }
    const std::string& piece = vocab_->piece(id);
    if (piece.empty() || state_->ended) return false;
    return advance_text(grammar_->impl(), *state_, piece);
}

void GrammarMatcher::allowed_tokens(std::vector<uint8_t>& allowed) const {
    const auto& v = vocab_->impl();
    allowed.assign(v.pieces.size(), 0);
    if (state_->ended) return;
    MaskWalk walk{grammar_->impl(), v, allowed, t_mask_levels};
    walk.walk(0, state_->stacks, state_->partial, 0);
    if (can_end()) {
        for (int32_t id : v.eog_ids) allowed[size_t(id)] = 1;
    }
}

void GrammarMatcher::apply_mask(std::span<float> logits) const {
    thread_local std::vector<uint8_t> allowed;
    allowed_tokens(allowed);
    if (logits.size() != allowed.size()) {
        throw InvalidRequestError("apply_mask: " + std::to_string(logits.size()) + " logits for a vocabulary of " +
                                  std::to_string(allowed.size()) + " tokens");
    }
    for (size_t i = 0; i < logits.size(); ++i) {
        if (!allowed[i]) logits[i] = -std::numeric_limits<float>::infinity();
    }
}

std::string GrammarMatcher::forced_text(size_t max_bytes) const {
    std::string text;
    if (state_->ended || state_->partial.remaining != 0) return text;
    StackList a, b;
    a.copy_from(state_->stacks);
    while (text.size() < max_bytes && !a.empty()) {
        int64_t cp = -1;
        for (size_t i = 0; i < a.size(); ++i) {
            if (a[i].empty()) return text;  // ending here is a choice too
            const int64_t c = a[i].back()->single_code_point();
            if (c < 0 || (cp >= 0 && c != cp)) return text;
            cp = c;
        }
        grammar::advance_stacks(grammar_->impl(), a, uint32_t(cp), b);
        std::swap(a, b);
        grammar::append_utf8(text, uint32_t(cp));
    }
    return text;
}

int32_t GrammarMatcher::forced_token() const {
    const auto& v = vocab_->impl();
    const std::string text = forced_text(std::max<size_t>(v.max_piece_bytes, 1));
    int32_t best = -1;
    int32_t node = 0;
    for (char ch : text) {
        const auto& n = v.nodes[size_t(node)];
        int32_t next = -1;
        for (int32_t c = 0; c < n.n_children; ++c) {
            if (v.nodes[size_t(n.first_child + c)].byte == uint8_t(ch)) {
                next = n.first_child + c;
                break;
            }
        }
        if (next < 0) break;
        node = next;
        const auto& reached = v.nodes[size_t(node)];
        if (reached.tokens_begin < reached.tokens_end) best = v.ids[size_t(reached.tokens_begin)];
    }
    return best;
}

}  // namespace peregrine
