#include "grammar/parse_stacks.h"

#include <algorithm>
#include <deque>

#include "peregrine/error.h"

namespace peregrine::grammar {
namespace {

// Appends to `out` every stack reachable from `stack` by expanding rule references on top, until a
// character element is on top or the stack is empty. Left recursion was rejected at parse time, so this
// terminates. `scratch` holds one working stack per expansion depth.
void expand(const Grammar::Impl& g, const Stack& stack, StackList& out, std::deque<Stack>& scratch, size_t depth) {
    if (stack.empty() || stack.back()->kind == ElementKind::Chars) {
        if (out.size() >= kMaxStacks) {
            throw InvalidRequestError("the grammar is too ambiguous: more than " + std::to_string(kMaxStacks) +
                                      " ways to parse the text so far");
        }
        Stack& s = out.push();
        s.assign(stack.begin(), stack.end());
        return;
    }
    const Element* top = stack.back();  // a rule reference
    // A deque keeps the working stacks of shallower calls (one of them is `stack`) where they are.
    if (scratch.size() <= depth) scratch.resize(depth + 1);
    for (const Alternative& alt : g.rules[size_t(top->rule)].alternatives) {
        Stack& next = scratch[depth];
        next.assign(stack.begin(), stack.end() - 1);
        // What follows the reference in its own alternative resumes after the rule is done.
        if ((top + 1)->kind != ElementKind::End) next.push_back(top + 1);
        if (alt.front().kind != ElementKind::End) next.push_back(&alt.front());
        expand(g, next, out, scratch, depth + 1);
    }
}

void expand_from(const Grammar::Impl& g, const Stack& stack, StackList& out) {
    thread_local std::deque<Stack> scratch;
    expand(g, stack, out, scratch, 0);
}

}  // namespace

void StackList::dedupe() {
    if (n_ < 2) return;
    std::sort(items_.begin(), items_.begin() + long(n_));
    n_ = size_t(std::unique(items_.begin(), items_.begin() + long(n_)) - items_.begin());
}

void StackList::copy_from(const StackList& other) {
    clear();
    for (size_t i = 0; i < other.size(); ++i) {
        Stack& s = push();
        s.assign(other[i].begin(), other[i].end());
    }
}

bool StackList::any_empty() const {
    for (size_t i = 0; i < n_; ++i) {
        if (items_[i].empty()) return true;
    }
    return false;
}

void initial_stacks(const Grammar::Impl& g, StackList& out) {
    out.clear();
    Element root_ref;
    root_ref.kind = ElementKind::RuleRef;
    root_ref.rule = g.root;
    // A reference followed by End, as if the root were called from an outer rule with nothing after it
    // (expansion drops the reference, so no pointer into `call` survives).
    const Alternative call{root_ref, Element{}};
    const Stack start{&call.front()};
    expand_from(g, start, out);
    out.dedupe();
}

void advance_stacks(const Grammar::Impl& g, const StackList& in, uint32_t cp, StackList& out) {
    out.clear();
    thread_local Stack next;
    for (size_t i = 0; i < in.size(); ++i) {
        const Stack& s = in[i];
        if (s.empty() || !s.back()->matches(cp)) continue;
        next.assign(s.begin(), s.end() - 1);
        const Element* after = s.back() + 1;
        if (after->kind != ElementKind::End) next.push_back(after);
        expand_from(g, next, out);
    }
    out.dedupe();
}

bool any_stack_accepts_range(const StackList& stacks, uint32_t lo, uint32_t hi) {
    for (size_t i = 0; i < stacks.size(); ++i) {
        if (!stacks[i].empty() && stacks[i].back()->matches_any(lo, hi)) return true;
    }
    return false;
}

}  // namespace peregrine::grammar
