// Finding special tokens spelled out in the input text (llama.cpp's tokenizer_st_partition).
//
// The order matters and is llama.cpp's: the outer loop runs over the special tokens, longest text
// first, and each token splits every remaining text fragment at each of its occurrences, left to
// right. So with tokens "bcd" and "ab", the text "abcd" becomes "a" + <bcd>, not <ab> + "cd".
#include <vector>

#include "vocab/unicode_utf8.h"
#include "vocab/vocab_data.h"

namespace peregrine::vocab_detail {

void partition_special_tokens(const VocabData& vocab, std::string_view text, bool parse_special,
                              std::vector<Fragment>& out) {
    std::vector<Fragment> fragments;
    if (!text.empty()) fragments.push_back({-1, text});
    std::vector<Fragment> next;

    for (const int32_t id : vocab.special_tokens) {
        const TokenEntry& token = vocab.tokens[static_cast<size_t>(id)];
        if (!parse_special && (token.attr & (kAttrControl | kAttrUnknown)) != 0) continue;
        const std::string_view needle = token.text;
        if (needle.empty()) continue;   // cannot happen (empty entries are renamed), but would never end

        next.clear();
        bool changed = false;
        for (const Fragment& fragment : fragments) {
            if (fragment.token >= 0 || fragment.text.find(needle) == std::string_view::npos) {
                next.push_back(fragment);
                continue;
            }
            changed = true;
            std::string_view rest = fragment.text;
            while (!rest.empty()) {
                const size_t match = rest.find(needle);
                if (match == std::string_view::npos) {
                    next.push_back({-1, rest});
                    break;
                }
                std::string_view left = rest.substr(0, match);
                if (token.attr & kAttrLstrip) {
                    while (!left.empty() && is_ascii_space(left.back())) left.remove_suffix(1);
                }
                if (!left.empty()) next.push_back({-1, left});
                next.push_back({id, {}});
                rest.remove_prefix(match + needle.size());
                if (token.attr & kAttrRstrip) {
                    while (!rest.empty() && is_ascii_space(rest.front())) rest.remove_prefix(1);
                }
            }
        }
        if (changed) fragments.swap(next);
    }
    out.insert(out.end(), fragments.begin(), fragments.end());
}

}  // namespace peregrine::vocab_detail
