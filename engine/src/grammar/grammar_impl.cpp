// The pieces of a compiled grammar that every stage shares: errors, character classes.
#include <algorithm>

#include "grammar/grammar_impl.h"

namespace peregrine {

GrammarError::GrammarError(const std::string& message, int line, int column)
    : InvalidRequestError(message), line_(line), column_(column) {}

Grammar::Grammar(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Grammar::~Grammar() = default;
size_t Grammar::n_rules() const { return impl_->rules.size(); }

namespace grammar {

void normalize_ranges(std::vector<CharRange>& ranges) {
    std::sort(ranges.begin(), ranges.end(), [](const CharRange& a, const CharRange& b) { return a.lo < b.lo; });
    std::vector<CharRange> merged;
    for (const CharRange& r : ranges) {
        if (!merged.empty() && r.lo <= merged.back().hi + 1) {
            merged.back().hi = std::max(merged.back().hi, r.hi);
        } else {
            merged.push_back(r);
        }
    }
    ranges = std::move(merged);
}

bool Element::matches(uint32_t cp) const {
    bool in = false;
    for (const CharRange& r : ranges) {
        if (cp < r.lo) break;
        if (cp <= r.hi) {
            in = true;
            break;
        }
    }
    return in != negated;
}

bool Element::matches_any(uint32_t lo, uint32_t hi) const {
    if (!negated) {
        for (const CharRange& r : ranges) {
            if (r.lo <= hi && lo <= r.hi) return true;
        }
        return false;
    }
    // Negated: some point of [lo, hi] lies outside every range (ranges are sorted and merged).
    uint32_t next = lo;
    for (const CharRange& r : ranges) {
        if (r.hi < next) continue;
        if (r.lo > next) return true;
        if (r.hi >= hi) return false;
        next = r.hi + 1;
    }
    return next <= hi;
}

int64_t Element::single_code_point() const {
    if (kind != ElementKind::Chars || negated || ranges.size() != 1 || ranges[0].lo != ranges[0].hi) return -1;
    return ranges[0].lo;
}

}  // namespace grammar
}  // namespace peregrine
