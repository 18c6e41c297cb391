// The compiled form of a grammar: rules of alternatives of element sequences, repetitions and groups
// already turned into helper rules. Every alternative ends with an End element, so a pointer to an
// element is a complete "where am I in this alternative" position, and the matcher's parse stacks are
// plain arrays of such pointers (the grammar is immutable once built, so the pointers stay valid).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "peregrine/grammar.h"

namespace peregrine::grammar {

struct CharRange {
    uint32_t lo, hi;  // inclusive code points
};

enum class ElementKind : uint8_t { Chars, RuleRef, End };

struct Element {
    ElementKind kind = ElementKind::End;
    bool negated = false;          // Chars: matches every code point outside `ranges`
    int32_t rule = -1;             // RuleRef: index into Grammar::Impl::rules
    std::vector<CharRange> ranges; // Chars: sorted, non-overlapping, non-adjacent

    bool matches(uint32_t cp) const;
    // Some code point in [lo, hi] matches (for a partly received UTF-8 character).
    bool matches_any(uint32_t lo, uint32_t hi) const;
    // The one code point this element matches, or -1 if it matches none or several.
    int64_t single_code_point() const;
};

using Alternative = std::vector<Element>;  // ends with an End element

struct Rule {
    std::string name;                       // as written, or "<parent>_<n>" for a helper rule
    std::vector<Alternative> alternatives;
    size_t offset = 0;                      // where it is defined (or, for helpers, what made it)
    bool defined = false;
};

// Sorts and merges ranges (so matching is a scan of disjoint ranges).
void normalize_ranges(std::vector<CharRange>& ranges);

}  // namespace peregrine::grammar

namespace peregrine {

struct Grammar::Impl {
    std::vector<grammar::Rule> rules;
    int32_t root = -1;
};

}  // namespace peregrine
