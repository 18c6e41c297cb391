// Prompt lookup: text that quotes, summarises or edits its prompt repeats long stretches of it, so the
// tokens that followed the last earlier occurrence of the current n-gram are a good, free guess.
#include <algorithm>

#include "peregrine/error.h"
#include "peregrine/speculative.h"

namespace peregrine {
namespace {

class PromptLookupSource final : public DraftSource {
public:
    explicit PromptLookupSource(const PromptLookupParams& params) : params_(params) {}

    std::string_view name() const override { return "lookup"; }

    void propose(std::span<const int32_t> history, int max_tokens, Draft& out) override {
        out.clear();
        const int64_t len = static_cast<int64_t>(history.size());
        if (max_tokens <= 0 || len < 2) return;
        // Longest n first: a longer match is more specific, so what followed it is more likely to repeat.
        for (int n = static_cast<int>(std::min<int64_t>(params_.ngram_max, len - 1)); n >= params_.ngram_min; --n) {
            const auto suffix = history.subspan(static_cast<size_t>(len - n));
            // Most recent occurrence first; the match must end before the suffix itself starts.
            for (int64_t start = len - n - 1; start >= 0; --start) {
                if (!std::equal(suffix.begin(), suffix.end(), history.begin() + start)) continue;
                const int64_t from = start + n;
                const int64_t to = std::min(len, from + max_tokens);
                out.tokens.assign(history.begin() + from, history.begin() + to);
                return;
            }
        }
    }

private:
    PromptLookupParams params_;
};

}  // namespace

std::unique_ptr<DraftSource> make_prompt_lookup_source(const PromptLookupParams& params) {
    if (params.ngram_min < 1 || params.ngram_max < params.ngram_min) {
        throw InvalidRequestError("prompt lookup: n-gram sizes must satisfy 1 <= ngram_min <= ngram_max (got " +
                                  std::to_string(params.ngram_min) + ", " + std::to_string(params.ngram_max) + ")");
    }
    return std::make_unique<PromptLookupSource>(params);
}

}  // namespace peregrine
