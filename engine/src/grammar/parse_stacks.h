// The matcher's pushdown state: a set of parse stacks, each an array of grammar positions (bottom first).
// The top of every stack is a character element, or the stack is empty, which means the text so far is a
// complete sentence. Several stacks exist when the text so far can be parsed in several ways.
//
// StackList keeps its stacks' buffers between uses so that walking the vocabulary's prefix tree (one
// advance per tree edge) does not allocate once warmed up.
#pragma once

#include <cstdint>
#include <vector>

#include "grammar/grammar_impl.h"

namespace peregrine::grammar {

using Stack = std::vector<const Element*>;

class StackList {
public:
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    const Stack& operator[](size_t i) const { return items_[i]; }
    void clear() { n_ = 0; }
    Stack& push() {
        if (n_ == items_.size()) items_.emplace_back();
        Stack& s = items_[n_++];
        s.clear();
        return s;
    }
    void pop() { --n_; }
    // Removes duplicate stacks (ambiguous grammars reach the same state along different paths).
    void dedupe();
    void copy_from(const StackList& other);
    bool any_empty() const;

private:
    std::vector<Stack> items_;
    size_t n_ = 0;
};

// Throws InvalidRequestError when a grammar is so ambiguous that its stacks explode.
constexpr size_t kMaxStacks = 4096;

// The stacks at the start of the text.
void initial_stacks(const Grammar::Impl& grammar, StackList& out);
// The stacks after one more code point (deduplicated); empty when the grammar refuses it.
void advance_stacks(const Grammar::Impl& grammar, const StackList& in, uint32_t cp, StackList& out);
// Whether some stack can continue with a character in [lo, hi] (a partly received UTF-8 character).
bool any_stack_accepts_range(const StackList& stacks, uint32_t lo, uint32_t hi);

}  // namespace peregrine::grammar
