// A draft model guesses with its own forward passes on its own Context. Its KV sequence mirrors the
// target's text: each proposal first rolls it back to the longest prefix it shares with the history
// (dropping its rejected guesses with truncate_sequence) and feeds what is new as one chunk.
//
// Staged speculation (greedy): with params.tree the proposal is a tree, the draft's chain plus its
// next-best tokens at the first two positions as leaves; with params.lookup_drafts each draft forward
// also feeds what prompt lookup guesses will follow, and keeps the guesses that equal the draft's own
// argmax (the chain is the one plain drafting gives, in fewer draft passes).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "peregrine/batch.h"
#include "peregrine/error.h"
#include "peregrine/log.h"
#include "peregrine/speculative.h"
#include "peregrine/vocab.h"

namespace peregrine {
namespace {

constexpr int32_t kSeq = 0;

// Threshold drafting: the acceptance rate the adaptive threshold steers towards, and its range.
constexpr double kTargetAcceptance = 0.75;
constexpr float kMinThreshold = 0.02f;
constexpr float kMaxThreshold = 0.95f;

ContextParams draft_context_params(const DraftModelParams& p) {
    ContextParams c;
    c.n_ctx = p.n_ctx;
    c.n_threads = p.n_threads;
    c.n_seq_max = 1;
    return c;
}

class DraftModelSource final : public DraftSource {
public:
    DraftModelSource(std::shared_ptr<const Model> model, const DraftModelParams& params)
        : params_(params), context_(std::move(model), draft_context_params(params)) {
        if (params_.n_batch <= 0) throw InvalidRequestError("draft model: n_batch must be positive");
        if (!(params_.min_probability >= 0.0f && params_.min_probability < 1.0f)) {
            throw InvalidRequestError("draft model: min_probability must be in [0, 1)");
        }
        if (params_.lookup_drafts) lookup_ = make_prompt_lookup_source(params_.lookup);
    }

    std::string_view name() const override { return "draft"; }

    void begin(const DraftRequest& request) override {
        const int n_vocab = context_.model().info().n_vocab;
        if (request.n_vocab != n_vocab) {
            throw InvalidRequestError("draft model has " + std::to_string(n_vocab) + " tokens but the target has " +
                                      std::to_string(request.n_vocab) + ": the vocabularies must be the same");
        }
        context_.remove_sequence(kSeq);
        cached_.clear();
        last_guesses_.clear();
        blocked_ = 0;
        threshold_ = params_.min_probability;
        sampler_.reset();
        if (request.sampling.temperature > 0.0f) {
            // The draft's q needs no penalties: any q keeps the output exact, and without a history the
            // draft sampler never has to be rolled back.
            SamplingParams sp = request.sampling;
            sp.repeat_penalty = 1.0f;
            sp.frequency_penalty = 0.0f;
            sp.presence_penalty = 0.0f;
            sp.repeat_last_n = 0;
            sp.seed = request.seed ^ 0xd1b54a32d192ed03ull;
            sampler_.emplace(sp, n_vocab);
        }
        if (!request.prompt.empty() && static_cast<int64_t>(request.prompt.size()) < context_.n_ctx()) {
            catch_up(request.prompt);
        }
    }

    void end() override {
        context_.remove_sequence(kSeq);
        cached_.clear();
    }

    void propose(std::span<const int32_t> history, int max_tokens, Draft& out) override {
        out.clear();
        adapt_threshold(history);
        const int64_t len = static_cast<int64_t>(history.size());
        const int64_t n_ctx = context_.n_ctx();
        if (max_tokens <= 0 || len == 0 || len >= n_ctx) return;
        // Guess i is fed at position len + i (all but the last), which must stay inside the context.
        max_tokens = static_cast<int>(std::min<int64_t>(max_tokens, n_ctx - len));

        catch_up(history);
        if (!sampler_ && (params_.tree || params_.lookup_drafts)) {
            propose_staged(history, max_tokens, out);
            return;
        }
        for (int i = 0; i < max_tokens; ++i) {
            int32_t token;
            float prob;
            if (sampler_) {
                token = sampler_->sample(logits_);
                sampler_->last_distribution(q_);
                prob = q_[size_t(token)];
            } else {
                token = argmax_with_probability(logits_, prob);
            }
            if (threshold_ > 0.0f && prob < threshold_) {
                if (i == 0) ++blocked_;  // the threshold stopped the whole proposal
                break;
            }
            out.tokens.push_back(token);
            if (sampler_) out.probs.insert(out.probs.end(), q_.begin(), q_.end());
            if (i + 1 == max_tokens) break;
            Batch b;
            b.add(kSeq, static_cast<int32_t>(len + i), token, true);
            set_logits(context_.decode(b));
            cached_.push_back(token);
        }
        last_guesses_ = out.tokens;
        last_len_ = len;
    }

private:
    struct Alternative {
        int depth;
        int32_t token;
    };

    // Greedy staged drafting: the chain (with prompt-lookup guesses verified by the draft when
    // lookup_drafts), then the tree's leaves.
    void propose_staged(std::span<const int32_t> history, int max_tokens, Draft& out) {
        const int n_alt0 = params_.tree ? 2 : 0;
        const int n_alt1 = params_.tree && max_tokens >= 2 ? 1 : 0;
        static_assert(Draft::kMaxTreeLeaves >= 3);
        const size_t chain_max = size_t(max_tokens);
        const int64_t len = static_cast<int64_t>(history.size());
        std::vector<int32_t>& chain = out.tokens;
        alternatives_.clear();
        const auto take = [&](const std::vector<float>& logits) {  // false: the threshold stops the chain
            float prob;
            const int32_t token = argmax_with_probability(logits, prob);
            if (threshold_ > 0.0f && prob < threshold_) {
                if (chain.empty()) ++blocked_;
                return false;
            }
            const int depth = int(chain.size());
            if (depth == 0 && n_alt0 > 0) add_alternatives(logits, token, depth, n_alt0);
            if (depth == 1 && n_alt1 > 0) add_alternatives(logits, token, depth, n_alt1);
            chain.push_back(token);
            return true;
        };
        std::vector<int32_t> text;
        Draft guesses;
        Batch b;
        bool go = take(logits_);
        while (go && chain.size() < chain_max) {
            // Feed the last chain token, plus what prompt lookup guesses comes after it.
            guesses.clear();
            if (params_.lookup_drafts) {
                text.assign(history.begin(), history.end());
                text.insert(text.end(), chain.begin(), chain.end());
                lookup_->propose(text, int(chain_max - chain.size()), guesses);
            }
            b.clear();
            const int64_t base = len + int64_t(chain.size()) - 1;
            b.add(kSeq, static_cast<int32_t>(base), chain.back(), true);
            for (size_t j = 0; j < guesses.tokens.size(); ++j) {
                b.add(kSeq, static_cast<int32_t>(base + 1 + int64_t(j)), guesses.tokens[j], true);
            }
            const std::span<const float> rows = context_.decode(b);
            cached_.push_back(chain.back());
            const size_t n_vocab = logits_.size();
            size_t row = 0;
            for (; row < b.size(); ++row) {
                set_logits(rows.subspan(row * n_vocab, n_vocab));
                if (chain.size() == chain_max || !(go = take(logits_))) break;
                if (row + 1 == b.size() || chain.back() != guesses.tokens[row]) break;
                cached_.push_back(chain.back());  // the guess fed at row + 1 is this token
            }
            // Rows after the last kept guess hold guesses the draft did not choose.
            if (int64_t(cached_.size()) < context_.sequence_length(kSeq)) {
                context_.truncate_sequence(kSeq, static_cast<int32_t>(cached_.size()));
            }
            // The chain's last token is not in the draft's KV yet: the next round feeds it.
        }
        last_guesses_ = chain;
        last_len_ = len;
        if (alternatives_.empty() || chain.empty()) return;
        out.parents.resize(chain.size());
        for (size_t i = 0; i < chain.size(); ++i) out.parents[i] = int32_t(i) - 1;
        for (const Alternative& a : alternatives_) {
            if (a.depth >= int(chain.size())) continue;  // its chain node was not drafted
            out.tokens.push_back(a.token);
            out.parents.push_back(a.depth == 0 ? -1 : 0);
        }
    }

    // The draft's next-best tokens after `chosen` at chain depth `depth`, kept if likely enough.
    void add_alternatives(const std::vector<float>& logits, int32_t chosen, int depth, int n) {
        const float best = *std::max_element(logits.begin(), logits.end());
        double sum = 0.0;
        for (float l : logits) sum += std::exp(double(l) - double(best));
        std::vector<int32_t> top;
        for (int i = 0; i < n; ++i) {
            int32_t arg = -1;
            for (int32_t t = 0; t < int32_t(logits.size()); ++t) {
                if (t == chosen || std::find(top.begin(), top.end(), t) != top.end()) continue;
                if (arg < 0 || logits[size_t(t)] > logits[size_t(arg)]) arg = t;
            }
            if (arg < 0) break;
            top.push_back(arg);
            const double prob = std::exp(double(logits[size_t(arg)]) - double(best)) / sum;
            if (prob < DraftModelParams::kTreeMinProbability) break;
            alternatives_.push_back({depth, arg});
        }
    }

    // Rolls the draft's sequence back to what it shares with the history and decodes the rest, leaving
    // logits_ at the prediction for position len.
    void catch_up(std::span<const int32_t> history) {
        const size_t len = history.size();
        size_t common = 0;
        while (common < cached_.size() && common < len && cached_[common] == history[common]) ++common;
        if (common == len) --common;  // the last token is re-fed: its logits are the ones needed
        if (common < cached_.size()) {
            context_.truncate_sequence(kSeq, static_cast<int32_t>(common));
            cached_.resize(common);
        }
        Batch b;
        for (size_t begin = common; begin < len; begin += size_t(params_.n_batch)) {
            const size_t end = std::min(len, begin + size_t(params_.n_batch));
            b.clear();
            for (size_t i = begin; i < end; ++i) b.add(kSeq, static_cast<int32_t>(i), history[i], i + 1 == len);
            const std::span<const float> logits = context_.decode(b);
            if (end == len) set_logits(logits);
        }
        cached_.assign(history.begin(), history.end());
    }

    void set_logits(std::span<const float> logits) { logits_.assign(logits.begin(), logits.end()); }

    static int32_t argmax_with_probability(const std::vector<float>& logits, float& prob) {
        const auto best = std::max_element(logits.begin(), logits.end());
        double sum = 0.0;
        for (float l : logits) sum += std::exp(double(l) - double(*best));
        prob = float(1.0 / sum);
        return static_cast<int32_t>(best - logits.begin());
    }

    // Threshold drafting: see how many of the last guesses the target kept, and move the threshold
    // towards the acceptance rate that pays.
    void adapt_threshold(std::span<const int32_t> history) {
        if (!params_.adaptive_threshold || threshold_ <= 0.0f) return;
        if (blocked_ > 0) {
            // Nothing was drafted: the threshold is stricter than this text's confidence allows.
            threshold_ = std::max(kMinThreshold, threshold_ * 0.8f);
            blocked_ = 0;
        }
        if (last_guesses_.empty()) return;
        size_t kept = 0;
        while (kept < last_guesses_.size() && last_len_ + int64_t(kept) < int64_t(history.size()) &&
               history[size_t(last_len_) + kept] == last_guesses_[kept]) {
            ++kept;
        }
        const double rate = double(kept) / double(last_guesses_.size());
        threshold_ = std::clamp(float(threshold_ + 0.1 * (kTargetAcceptance - rate)), kMinThreshold, kMaxThreshold);
        last_guesses_.clear();
    }

    DraftModelParams params_;
    std::unique_ptr<DraftSource> lookup_;  // lookup_drafts: guesses for the draft's own chain
    std::vector<Alternative> alternatives_;
    Context context_;
    std::vector<int32_t> cached_;        // tokens in the draft's KV sequence, in order
    std::vector<float> logits_;          // (n_vocab) the draft's prediction for the next position
    std::vector<float> q_;               // (n_vocab) distribution of the last sampled guess
    std::optional<Sampler> sampler_;     // set when the request samples
    float threshold_ = 0.0f;
    std::vector<int32_t> last_guesses_;  // the last proposal, to measure how much of it was kept
    int blocked_ = 0;                    // proposals the threshold stopped before their first guess
    int64_t last_len_ = 0;
};

}  // namespace

void check_draft_vocabulary(const Vocab& target, const Vocab& draft) {
    if (target.n_tokens() != draft.n_tokens()) {
        throw InvalidRequestError("draft model vocabulary has " + std::to_string(draft.n_tokens()) +
                                  " tokens, the target's " + std::to_string(target.n_tokens()));
    }
    if (target.bos() != draft.bos() || target.eos() != draft.eos()) {
        throw InvalidRequestError("draft model vocabulary has different BOS/EOS ids than the target's");
    }
    for (int32_t id = 0; id < target.n_tokens(); ++id) {
        if (target.token_text(id) != draft.token_text(id)) {
            throw InvalidRequestError("draft model vocabulary differs from the target's at token id " +
                                      std::to_string(id) + " ('" + draft.token_text(id) + "' vs '" +
                                      target.token_text(id) + "')");
        }
    }
}

std::string parse_draft_model_spec(std::string_view spec, DraftModelParams& params) {
    struct Kind {
        std::string_view prefix;
        bool tree, lookup;
    };
    static constexpr Kind kKinds[] = {
        {"draft:", false, false}, {"tree:", true, false}, {"draft-lookup:", false, true}, {"staged:", true, true}};
    for (const Kind& k : kKinds) {
        if (spec.substr(0, k.prefix.size()) != k.prefix) continue;
        const std::string path(spec.substr(k.prefix.size()));
        if (path.empty()) throw InvalidRequestError("'" + std::string(spec) + "' names no draft model file");
        params.tree = k.tree;
        params.lookup_drafts = k.lookup;
        return path;
    }
    return {};
}

std::unique_ptr<DraftSource> make_draft_model_source(std::shared_ptr<const Model> draft_model,
                                                     const DraftModelParams& params) {
    if (!draft_model) throw InvalidRequestError("draft model: no model given");
    return std::make_unique<DraftModelSource>(std::move(draft_model), params);
}

}  // namespace peregrine
