// Lookahead (Jacobi) guesses, see make_lookahead_source in peregrine/speculative.h.
//
// After a pass over [t, g1..gK] the target predicted y0..yK (y_j for the position after g_j). With a
// guesses kept, y_a was emitted, and y_(a+1)..y_K are predictions made from a prefix with one wrong
// token: a Jacobi iteration's next guesses for the positions that follow. They are often right where
// the text does not depend on the wrong token (names, fixed phrases), and they get better pass by pass.
// Every predicted sequence also goes into an n-gram pool (token -> the tokens predicted after it), which
// extends short guesses and proposes when there is no window.
#include <algorithm>
#include <deque>
#include <unordered_map>

#include "peregrine/speculative.h"

namespace peregrine {
namespace {

constexpr size_t kPoolPerToken = 4;     // continuations kept per token, most recent first
constexpr size_t kPoolGramLength = 8;   // tokens kept per continuation

class LookaheadSource final : public DraftSource {
public:
    explicit LookaheadSource(const PromptLookupParams& fallback) : lookup_(make_prompt_lookup_source(fallback)) {}

    std::string_view name() const override { return "lookahead"; }
    bool wants_predictions() const override { return true; }

    void begin(const DraftRequest&) override {
        window_.clear();
        pool_.clear();
    }

    void observe(int64_t first_position, std::span<const int32_t> predictions) override {
        window_.assign(predictions.begin(), predictions.end());
        window_position_ = first_position;
        for (size_t j = 0; j + 1 < predictions.size(); ++j) {
            const size_t end = std::min(predictions.size(), j + 1 + kPoolGramLength);
            remember(predictions[j], predictions.subspan(j + 1, end - j - 1));
        }
    }

    void propose(std::span<const int32_t> history, int max_tokens, Draft& out) override {
        out.clear();
        if (max_tokens <= 0 || history.empty()) return;
        // The text itself first (what was already kept is the most reliable n-gram source), then the
        // window's guesses for the positions from `next` on (if the window ran up to here and agrees with
        // the token just emitted), then the pool of predicted n-grams.
        lookup_->propose(history, max_tokens, out);
        if (!out.tokens.empty()) return;
        const int64_t next = static_cast<int64_t>(history.size());
        const int64_t offset = next - window_position_;
        if (offset >= 1 && offset < static_cast<int64_t>(window_.size()) && window_[size_t(offset - 1)] == history.back()) {
            for (size_t i = size_t(offset); i < window_.size() && int(out.tokens.size()) < max_tokens; ++i) {
                out.tokens.push_back(window_[i]);
            }
        }
        extend_from_pool(out.tokens.empty() ? history.back() : out.tokens.back(), max_tokens, out);
    }

private:
    void remember(int32_t token, std::span<const int32_t> continuation) {
        if (continuation.empty()) return;
        auto& list = pool_[token];
        std::vector<int32_t> gram(continuation.begin(), continuation.end());
        list.erase(std::remove(list.begin(), list.end(), gram), list.end());
        list.push_front(std::move(gram));
        if (list.size() > kPoolPerToken) list.pop_back();
    }

    void extend_from_pool(int32_t last, int max_tokens, Draft& out) {
        while (int(out.tokens.size()) < max_tokens) {
            const auto it = pool_.find(last);
            if (it == pool_.end() || it->second.empty()) return;
            const std::vector<int32_t>& gram = it->second.front();
            for (int32_t t : gram) {
                if (int(out.tokens.size()) >= max_tokens) return;
                out.tokens.push_back(t);
            }
            last = out.tokens.back();
        }
    }

    std::unique_ptr<DraftSource> lookup_;
    std::vector<int32_t> window_;  // the target's predictions of the last pass
    int64_t window_position_ = 0;  // position window_[0] was predicted for
    std::unordered_map<int32_t, std::deque<std::vector<int32_t>>> pool_;
};

}  // namespace

std::unique_ptr<DraftSource> make_lookahead_source(const PromptLookupParams& fallback) {
    return std::make_unique<LookaheadSource>(fallback);
}

}  // namespace peregrine
