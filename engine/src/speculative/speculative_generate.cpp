// The speculative / guided generation loop (see peregrine/speculative.h). One iteration:
//   settle   every logit row of the last pass decides the token of its position (forced by the grammar,
//            or chosen by TokenVerifier from the masked row and that position's guess); tokens go
//            through the TokenSink one by one; the first token that is not the guess ends the row scan;
//   rollback the target's KV keeps only rows whose tokens were kept (Context::truncate_sequence);
//   force    while the grammar leaves one possible text, its tokens are emitted without sampling;
//   draft    the source guesses up to K tokens (K from the DraftLengthController, capped by n_predict and
//            the context), cut where the grammar would refuse them;
//   verify   one target pass over the tokens not yet in its KV (the last emitted token and any forced
//            ones) plus the guesses, logits for the last of the former and for every guess.
// With no source and no grammar this is generate()'s loop, one row per pass.
// Tree drafts (greedy, no grammar, KV cache on): the guesses are fed as tree rows (batch.h) after the
// last emitted token; settle walks from the root, following the child whose token the target chose, and
// Context::keep_tree_path moves the accepted path's K/V to consecutive positions and drops the rest.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "peregrine/batch.h"
#include "peregrine/error.h"
#include "peregrine/grammar.h"
#include "peregrine/log.h"
#include "peregrine/speculative.h"
#include "peregrine/vocab.h"
#include "speculative/draft_length_controller.h"
#include "speculative/token_sink.h"
#include "speculative/token_verifier.h"

namespace peregrine {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Like generate(): the sequence is removed however generation ends.
struct SequenceGuard {
    Context& context;
    int32_t seq_id;
    ~SequenceGuard() { context.remove_sequence(seq_id); }
};

struct SourceGuard {
    DraftSource* source;
    ~SourceGuard() {
        if (source) source->end();
    }
};

void validate(const Context& context, const Vocab& vocab, std::span<const int32_t> prompt,
              const GenerationParams& params, const SpeculativeOptions& options) {
    if (prompt.empty()) throw InvalidRequestError("the prompt is empty: nothing to generate from");
    if (static_cast<int64_t>(prompt.size()) >= context.n_ctx()) {
        throw InvalidRequestError("the prompt has " + std::to_string(prompt.size()) + " tokens but the context holds " +
                                  std::to_string(context.n_ctx()) + " (raise -c/--ctx-size or shorten the prompt)");
    }
    if (context.sequence_length(params.seq_id) != 0) {
        throw InvalidRequestError("sequence " + std::to_string(params.seq_id) + " is already in use");
    }
    if (params.n_batch <= 0) throw InvalidRequestError("n_batch must be positive");
    if (options.draft_k < 0 || options.draft_k > 64) {
        throw InvalidRequestError("draft_k must be in [0, 64], got " + std::to_string(options.draft_k));
    }
    if (context.model().info().n_vocab != vocab.n_tokens()) {
        throw InvalidRequestError("the model has " + std::to_string(context.model().info().n_vocab) +
                                  " logits per row but the vocabulary " + std::to_string(vocab.n_tokens()) + " tokens");
    }
}

class SpeculativeLoop {
public:
    SpeculativeLoop(Context& context, const Vocab& vocab, std::span<const int32_t> prompt,
                    const GenerationParams& params, const SpeculativeOptions& options, const TextCallback& on_text,
                    SpeculativeResult& out)
        : context_(context),
          vocab_(vocab),
          params_(params),
          options_(options),
          result_(out.generation),
          stats_(out.speculative),
          n_vocab_(vocab.n_tokens()),
          sampler_(params.sampling, vocab.n_tokens()),
          sink_(vocab, params, sampler_, on_text, context.n_ctx(), out.generation),
          verifier_(sampler_, sampler_.seed()),
          controller_(options.draft_k, options.adaptive_k),
          source_(options.draft_k > 0 ? options.draft : nullptr) {
        result_.prompt_tokens.assign(prompt.begin(), prompt.end());
        result_.stats.n_prompt_tokens = static_cast<int>(prompt.size());
        result_.seed = sampler_.seed();
        for (int32_t t : prompt) sampler_.accept(t);
        history_.assign(prompt.begin(), prompt.end());
        if (options.grammar) {
            auto vocabulary = options.grammar_vocabulary ? options.grammar_vocabulary
                                                         : std::make_shared<const GrammarVocabulary>(vocab);
            grammar_.emplace(options.grammar, std::move(vocabulary));
        }
    }

    void run() {
        SourceGuard source_guard{source_};
        const auto begin_start = Clock::now();
        if (source_) source_->begin({params_.sampling, sampler_.seed(), n_vocab_, history_});
        const double begin_ms = ms_since(begin_start);
        const auto prefill_start = Clock::now();
        prefill();
        // A draft model prefilled the same prompt in begin(): the ratio of the two estimates what a guess
        // costs against a target pass until guesses are timed (near 0 for sources without a model).
        const double prefill_ms = ms_since(prefill_start);
        if (prefill_ms > 0) controller_.set_draft_cost_ratio(begin_ms / prefill_ms);
        while (!sink_.stopped()) {
            settle();
            if (sink_.stopped()) break;
            force();
            if (sink_.stopped()) break;
            draft();
            verify();
        }
        sink_.finish();
        stats_.n_generated = result_.stats.n_generated;
    }

private:
    void prefill() {
        const size_t n = history_.size();
        Batch batch;
        for (size_t begin = 0; begin < n; begin += size_t(params_.n_batch)) {
            const size_t end = std::min(n, begin + size_t(params_.n_batch));
            batch.clear();
            for (size_t i = begin; i < end; ++i) batch.add(params_.seq_id, int32_t(i), history_[i], i + 1 == n);
            logits_ = context_.decode(batch);
            ++stats_.n_forward_passes;
        }
        kv_len_ = n;
        pass_base_ = n;
        sink_.prompt_done();
    }

    // The token of one position: forced by the grammar, or chosen from the (masked) logits row.
    int32_t choose(size_t row, size_t position, int32_t guess, const float* q) {
        const std::span<const float> raw = logits_.subspan(row * size_t(n_vocab_), size_t(n_vocab_));
        if (options_.on_logits) options_.on_logits(int32_t(position), raw);
        if (grammar_ && options_.force_grammar_tokens) {
            const int32_t forced = grammar_->forced_token();
            if (forced >= 0) {
                ++stats_.n_forced;
                return forced;
            }
        }
        if (!grammar_) return verifier_.choose(raw, guess, q);
        masked_.assign(raw.begin(), raw.end());
        grammar_->apply_mask(masked_);
        if (std::none_of(masked_.begin(), masked_.end(), [](float l) { return l > -HUGE_VALF; })) {
            throw InvalidRequestError("the grammar allows no token of this vocabulary after the text \"" +
                                      vocab_.detokenize(result_.tokens, false, false) + "\"");
        }
        return verifier_.choose(masked_, guess, q);
    }

    // Emits one token; false when generation is over.
    bool emit(int32_t token) {
        if (grammar_ && !grammar_->accept_token(token)) {
            throw Error("internal error: a token chosen under the grammar mask was refused by the grammar");
        }
        if (!sink_.push(token)) return false;
        history_.push_back(token);
        if (grammar_ && grammar_->finished()) {
            sink_.stop(StopReason::EndOfGeneration);
            return false;
        }
        return true;
    }

    void settle() {
        if (tree_pass_) {
            settle_tree();
            return;
        }
        const auto start = Clock::now();
        const size_t emitted_before = result_.tokens.size();
        if (source_ && source_->wants_predictions()) observe_predictions();
        const size_t n_guesses = n_valid_ + (tail_guess_ ? 1 : 0);
        size_t accepted = 0;
        bool rejected = false;
        for (size_t j = 0; j <= n_valid_; ++j) {
            const bool has_guess = j < n_guesses;
            const int32_t guess = has_guess ? draft_.tokens[j] : -1;
            const float* q = has_guess && draft_.sampled() ? draft_.probs.data() + j * size_t(n_vocab_) : nullptr;
            const int32_t token = choose(j, pass_base_ + j, guess, q);
            if (!emit(token)) break;
            if (has_guess && token == guess && j < n_valid_) {
                ++accepted;
                continue;
            }
            rejected = has_guess;
            break;
        }
        stats_.n_drafted += int64_t(n_guesses);
        stats_.n_accepted += int64_t(accepted);
        if (n_guesses > 0) ++stats_.n_verify_passes;
        // Rows of rejected guesses leave the KV cache; the accepted guesses' rows stay.
        const size_t keep = pass_base_ + accepted;
        if (keep < kv_len_) {
            context_.truncate_sequence(params_.seq_id, int32_t(keep));
            kv_len_ = keep;
        }
        if (pass_rows_ > 0) record_pass(int(n_guesses), int(accepted), rejected, start, emitted_before);
    }

    // Tells the controller what the last pass did and cost, from drafting to its settled tokens.
    void record_pass(int n_guesses, int accepted, bool rejected, Clock::time_point settle_start,
                     size_t emitted_before) {
        PassRecord pass;
        pass.k = pass_k_;
        pass.n_drafted = n_guesses;
        pass.n_accepted = accepted;
        pass.rejected = rejected;
        pass.draft_ms = pass_draft_ms_;
        pass.verify_ms = pass_verify_ms_;
        pass.n_rows = pass_rows_;
        pass.loop_ms = pass_loop_ms_ + ms_since(settle_start);
        pass.n_emitted = int(result_.tokens.size() - emitted_before);
        controller_.record(pass);
    }

    // A tree pass: logits row 0 is the last emitted token's, row 1 + i guess i's. From the root, each
    // decided token moves to the child guess with that token, if there is one.
    void settle_tree() {
        const auto start = Clock::now();
        const size_t emitted_before = result_.tokens.size();
        const size_t n_nodes = draft_.tokens.size();
        path_rows_.clear();
        for (size_t r = 0; r < n_causal_rows_; ++r) path_rows_.push_back(int32_t(r));
        int32_t node = -1;
        size_t row = 0, accepted = 0;
        bool rejected = false;
        while (true) {
            const int32_t token = choose(row, pass_base_ + accepted, -1, nullptr);
            if (!emit(token)) break;
            int32_t child = -1;
            bool has_children = false;
            for (size_t i = 0; i < n_nodes; ++i) {
                if (draft_.parents[i] != node) continue;
                has_children = true;
                if (draft_.tokens[i] == token) {
                    child = int32_t(i);
                    break;
                }
            }
            if (child < 0) {
                rejected = has_children;
                break;
            }
            ++accepted;
            node = child;
            row = 1 + size_t(child);
            path_rows_.push_back(int32_t(n_causal_rows_ + size_t(child)));
        }
        stats_.n_drafted += int64_t(n_nodes);
        stats_.n_accepted += int64_t(accepted);
        ++stats_.n_verify_passes;
        ++stats_.n_tree_passes;
        context_.keep_tree_path(params_.seq_id, path_rows_);
        kv_len_ = pass_base_ + accepted;
        tree_pass_ = false;
        record_pass(int(n_nodes), int(accepted), rejected, start, emitted_before);
    }

    // The target's argmax of every row of the last pass (ties: lowest id), for lookahead's next guesses.
    void observe_predictions() {
        predictions_.clear();
        for (size_t j = 0; j <= n_valid_; ++j) {
            const std::span<const float> row = logits_.subspan(j * size_t(n_vocab_), size_t(n_vocab_));
            predictions_.push_back(int32_t(std::max_element(row.begin(), row.end()) - row.begin()));
        }
        source_->observe(int64_t(pass_base_), predictions_);
    }

    void force() {
        if (!grammar_ || !options_.force_grammar_tokens) return;
        for (int32_t forced = grammar_->forced_token(); forced >= 0; forced = grammar_->forced_token()) {
            ++stats_.n_forced;
            if (!emit(forced)) return;
        }
    }

    void draft() {
        draft_.clear();
        n_valid_ = 0;
        tail_guess_ = false;
        pass_draft_ms_ = 0;
        pass_loop_ms_ = 0;
        pass_k_ = 0;
        if (!source_) return;
        int k = controller_.next_k();
        stats_.last_k = k;
        // Guess i goes at position history.size() + i and plain decoding never feeds position n_ctx - 1;
        // the pass yields at most k + 1 tokens, so more than remaining - 1 guesses would be wasted.
        k = std::min<int64_t>({k, int64_t(sink_.remaining()) - 1, int64_t(context_.n_ctx()) - 1 - int64_t(history_.size())});
        if (k <= 0) return;
        pass_k_ = k;
        const auto start = Clock::now();
        source_->propose(history_, k, draft_);
        pass_draft_ms_ = ms_since(start);
        stats_.draft_ms += pass_draft_ms_;
        const auto checks = Clock::now();
        // A tree's leaves come on top of its chain of up to k guesses; each of its rows takes a KV slot.
        const size_t cap = draft_.tree() ? std::min<size_t>(size_t(k) + Draft::kMaxTreeLeaves,
                                                            size_t(context_.n_ctx()) - history_.size())
                                         : size_t(k);
        if (draft_.tokens.size() > cap) draft_.tokens.resize(cap);
        if (draft_.tree()) {
            draft_.parents.resize(draft_.tokens.size());
            if (!tree_allowed()) keep_first_chain();
        }
        if (draft_.sampled() && draft_.probs.size() < draft_.tokens.size() * size_t(n_vocab_)) {
            throw Error("draft source '" + std::string(source_->name()) + "' returned too few distributions");
        }
        for (int32_t t : draft_.tokens) {
            if (t < 0 || t >= n_vocab_) {
                throw Error("draft source '" + std::string(source_->name()) + "' guessed token id " +
                            std::to_string(t) + ", outside the vocabulary");
            }
        }
        cut_draft();
        pass_loop_ms_ = ms_since(checks);
    }

    // A tree is verified as one only where the greedy walk applies and the KV cache can hold its rows.
    bool tree_allowed() const {
        return params_.sampling.temperature <= 0.0f && !grammar_ && context_.uses_kv_cache() && !draft_.sampled() &&
               !source_->wants_predictions();
    }

    void keep_first_chain() {
        size_t n = 0;
        while (n < draft_.tokens.size() && draft_.parents[n] == int32_t(n) - 1) ++n;
        draft_.tokens.resize(n);
        if (draft_.sampled()) draft_.probs.resize(n * size_t(n_vocab_));
        draft_.parents.clear();
    }

    // Keeps the guesses that can be verified: up to the first one the grammar refuses (that one is kept
    // aside as the tail guess: its rejection is certain but its q still shapes the residual draw), up to
    // the first one that differs from a forced token (rejected for certain, nothing to draw), and up to
    // an end-of-generation guess (nothing follows it).
    void cut_draft() {
        const size_t n = draft_.tokens.size();
        if (draft_.tree()) {  // greedy and no grammar (tree_allowed): every node can be verified
            n_valid_ = n;
            return;
        }
        std::optional<GrammarMatcher> look;
        if (grammar_) look.emplace(*grammar_);
        for (size_t i = 0; i < n; ++i) {
            const int32_t guess = draft_.tokens[i];
            if (look) {
                const int32_t forced = options_.force_grammar_tokens ? look->forced_token() : -1;
                if (forced >= 0 && forced != guess) break;
                if (forced < 0 && !look->is_allowed(guess)) {
                    tail_guess_ = true;
                    break;
                }
                look->accept_token(guess);
            }
            ++n_valid_;
            if (vocab_.is_eog(guess)) break;
        }
    }

    void verify() {
        // Rows not yet in the KV cache: the last emitted token and any forced ones after it.
        const size_t first = kv_len_;
        const size_t last = history_.size() - 1;
        const size_t final_capacity = std::max(size_t(params_.n_batch), 1 + n_valid_);
        const auto start = Clock::now();
        Batch& batch = batch_;  // kept between passes: no allocation per token
        size_t i = first;
        // Long forced runs are fed in n_batch chunks before the final pass with the guesses.
        while (last + 1 - i + n_valid_ > final_capacity) {
            const size_t end = std::min(last, i + size_t(params_.n_batch));
            batch.clear();
            for (; i < end; ++i) batch.add(params_.seq_id, int32_t(i), history_[i], false);
            context_.decode(batch);
            ++stats_.n_forward_passes;
        }
        batch.clear();
        for (; i <= last; ++i) batch.add(params_.seq_id, int32_t(i), history_[i], i == last);
        if (draft_.tree() && n_valid_ > 0) {
            add_tree_rows(batch, last);
        } else {
            for (size_t j = 0; j < n_valid_; ++j) batch.add(params_.seq_id, int32_t(last + 1 + j), draft_.tokens[j], true);
        }
        logits_ = context_.decode(batch);
        ++stats_.n_forward_passes;
        pass_rows_ = int(batch.size());
        pass_verify_ms_ = ms_since(start);
        stats_.verify_ms += pass_verify_ms_;
        pass_base_ = history_.size();
        kv_len_ = history_.size() + n_valid_;
    }

    // Guess j follows the row of its parent guess, or the last emitted token's row (the last causal one).
    void add_tree_rows(Batch& batch, size_t last) {
        n_causal_rows_ = batch.size();
        depth_.assign(n_valid_, 0);
        for (size_t j = 0; j < n_valid_; ++j) {
            const int32_t parent = draft_.parents[j];
            if (parent >= int32_t(j)) throw Error("draft source '" + std::string(source_->name()) +
                                                  "' proposed a tree whose parents do not come first");
            depth_[j] = parent < 0 ? 0 : depth_[size_t(parent)] + 1;
            const int32_t parent_row = parent < 0 ? int32_t(n_causal_rows_ - 1) : int32_t(n_causal_rows_) + parent;
            batch.add_child(params_.seq_id, int32_t(last + 1 + depth_[j]), draft_.tokens[j], true, parent_row);
        }
        tree_pass_ = true;
    }

    Context& context_;
    const Vocab& vocab_;
    const GenerationParams& params_;
    const SpeculativeOptions& options_;
    GenerationResult& result_;
    SpeculativeStats& stats_;
    const int32_t n_vocab_;
    Sampler sampler_;
    TokenSink sink_;
    TokenVerifier verifier_;
    DraftLengthController controller_;
    DraftSource* source_;
    std::optional<GrammarMatcher> grammar_;

    std::vector<int32_t> history_;       // prompt + every emitted token
    std::span<const float> logits_;      // [rows][n_vocab] of the last pass, valid until the next decode
    std::vector<float> masked_;          // (n_vocab) one row with the grammar's mask applied
    size_t kv_len_ = 0;                  // tokens of history_ (and guesses) in the target's KV sequence
    size_t pass_base_ = 0;               // position predicted by the last pass's first logits row
    Draft draft_;
    std::vector<int32_t> predictions_;   // the target's argmax per row, for sources that learn from it
    size_t n_valid_ = 0;                 // guesses fed to the last pass
    bool tail_guess_ = false;            // draft_.tokens[n_valid_] was refused by the grammar
    int pass_rows_ = 0;
    bool tree_pass_ = false;             // the last pass verified a tree draft
    size_t n_causal_rows_ = 0;           // rows of that pass before the tree's
    std::vector<size_t> depth_;          // (tree guesses) depth of each guess
    std::vector<int32_t> path_rows_;     // batch rows of the accepted path
    Batch batch_;                        // verify()'s rows, reused
    int pass_k_ = 0;                     // guesses asked of the source for the last pass
    double pass_draft_ms_ = 0, pass_verify_ms_ = 0;
    double pass_loop_ms_ = 0;            // the last pass's checks of its draft (more in settle)
};

}  // namespace

SpeculativeResult generate_speculative(Context& context, const Vocab& vocab, std::span<const int32_t> prompt,
                                       const GenerationParams& params, const SpeculativeOptions& options,
                                       const TextCallback& on_text) {
    validate(context, vocab, prompt, params, options);
    SequenceGuard guard{context, params.seq_id};
    SpeculativeResult out;
    SpeculativeLoop loop(context, vocab, prompt, params, options, on_text, out);
    loop.run();
    log_debug("speculative generation: {} tokens, {} guesses, {} kept, {} forced, {} forward passes",
              out.speculative.n_generated, out.speculative.n_drafted, out.speculative.n_accepted,
              out.speculative.n_forced, out.speculative.n_forward_passes);
    return out;
}

}  // namespace peregrine
