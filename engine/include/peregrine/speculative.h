// Speculative decoding and guided generation: a layer above Context::decode, never inside the forward.
//
// Decode reads all weights to produce one token; verifying K guessed tokens in one pass of K+1 rows costs
// about the same, so every accepted guess is a token for free. The loop (generate_speculative) is:
//
//   1. a DraftSource guesses up to K tokens that continue the text so far (prompt lookup: copy what
//      followed an earlier occurrence of the last n-gram; draft model: a smaller model's own tokens);
//   2. the target decodes [the last emitted token, the guesses] in ONE Context::decode, K+1 logit rows;
//   3. each row decides the token of its position exactly as plain generation would: greedy takes the
//      argmax and keeps the guesses up to the first mismatch, plus the target's own next token; sampling
//      accepts guess d with probability min(1, p(d)/q(d)) and otherwise draws from the normalised
//      max(0, p - q), which leaves the output distributed exactly as the target's p;
//   4. the KV rows of rejected guesses are dropped with Context::truncate_sequence (the draft model rolls
//      its own cache back the same way on its next proposal).
//
// A grammar (peregrine/grammar.h) plugs into the same loop: each row's logits are masked to the tokens
// the grammar allows there, and where the grammar leaves exactly one possible text (the fixed parts of a
// JSON object: keys, quotes, braces) the tokens are appended without sampling and fed to the model as one
// multi-token chunk, like accepted guesses.
//
// Numerics: a row verified inside a multi-row pass is summed in llama.cpp's batch order, which can differ
// from the single-row order by about 1e-6 (f32 weights) to 1e-3 (f16 weights). Greedy output equals plain
// generation except where plain generation itself chose between two logits closer than that.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "peregrine/context.h"
#include "peregrine/generation.h"
#include "peregrine/model.h"
#include "peregrine/sampling.h"

namespace peregrine {

class Grammar;
class GrammarVocabulary;
class Vocab;

// Guessed tokens and, for sources that sample them, the distribution each was drawn from.
struct Draft {
    std::vector<int32_t> tokens;
    // Empty: the tokens are deterministic guesses (treated as a one-hot q). Otherwise tokens.size() rows of
    // n_vocab floats: row i is the distribution tokens[i] was drawn from.
    std::vector<float> probs;
    // Tree drafts (staged speculation; empty: the tokens are one chain). parents[i] is the index of the
    // guess that guess i follows, or -1 for a guess at the first position; parents come before their
    // children. The loop verifies a tree in one target pass with a tree attention mask (batch.h) when the
    // request is greedy, has no grammar and the context has a KV cache; otherwise it keeps the chain of
    // first children (guesses 0, 1, ... while parents[i] == i - 1). Tree drafts are deterministic. A
    // tree's first chain holds up to K guesses and up to kMaxTreeLeaves more guesses branch off it.
    std::vector<int32_t> parents;
    static constexpr int kMaxTreeLeaves = 3;

    void clear() {
        tokens.clear();
        probs.clear();
        parents.clear();
    }
    bool sampled() const { return !probs.empty(); }
    bool tree() const { return !parents.empty(); }
};

// What a source needs to know about the request it drafts for.
struct DraftRequest {
    SamplingParams sampling;  // the target's; temperature <= 0 asks for deterministic (greedy) guesses
    uint64_t seed = 0;        // the target sampler's actual seed, so drafts are reproducible too
    int32_t n_vocab = 0;
    // The prompt, while the target processes it: a draft model prefills it here, so that cost lands in
    // the time to first token and not in the first guesses.
    std::span<const int32_t> prompt;
};

class DraftSource {
public:
    virtual ~DraftSource() = default;
    virtual std::string_view name() const = 0;
    // A new request starts (a source may keep per-request state such as a KV sequence).
    virtual void begin(const DraftRequest& request) { (void)request; }
    // Guesses up to max_tokens tokens that follow `history` (prompt + every token emitted so far). May
    // return fewer, or none. `out` is cleared first.
    virtual void propose(std::span<const int32_t> history, int max_tokens, Draft& out) = 0;
    // The request ended (however it ended): free per-request state.
    virtual void end() {}
    // Sources that learn from the target (lookahead) return true; the loop then calls observe() after
    // every pass with the target's argmax of each logits row: predictions[j] is its choice for position
    // first_position + j, given the tokens fed before it (guesses included, right or wrong).
    virtual bool wants_predictions() const { return false; }
    virtual void observe(int64_t first_position, std::span<const int32_t> predictions) {
        (void)first_position;
        (void)predictions;
    }
};

// Prompt lookup: find the most recent earlier occurrence of the last n tokens (n from ngram_max down to
// ngram_min) in prompt + output and propose the tokens that followed it. No model, no cost.
struct PromptLookupParams {
    int ngram_max = 3;
    int ngram_min = 1;
};
std::unique_ptr<DraftSource> make_prompt_lookup_source(const PromptLookupParams& params = {});

// Lookahead (Jacobi) decoding without a model, simplified: the rows of a verification pass after the
// first wrong guess still hold the target's own predictions for the positions after it. Those are the
// next guesses (one Jacobi iteration per pass, the verification rows doubling as the lookahead window),
// extended from an n-gram pool of everything the target predicted, and prompt lookup on the text when
// neither has anything. Unlike full lookahead decoding there is no separate 2-D lookahead branch in the
// pass (the Context has no custom attention masks).
std::unique_ptr<DraftSource> make_lookahead_source(const PromptLookupParams& fallback = {});

// A draft model: a second Context on a smaller or more quantized model with the same vocabulary.
struct DraftModelParams {
    int n_ctx = 0;       // 0: the draft model's training context
    // Threads of the draft's own pool (0: all cores). The target's and the draft's pools take turns, and
    // a pool's idle workers keep polling for a few milliseconds, so two multi-threaded pools on the same
    // cores slow each other down badly (measured on stories260K, 2 cores: 3.7x slower decode with 2
    // draft threads than with 1). One thread is the safe default.
    int n_threads = 1;
    int n_batch = 512;   // catch-up rows per forward pass
    // Threshold drafting: stop drafting as soon as the draft's own probability of its next token falls
    // below this (0: off, always draft the K asked for). With adaptive_threshold the threshold follows the
    // recent acceptance rate: it drops while guesses are accepted (or while it stops every proposal before
    // its first guess) and rises while they are rejected, within [0.02, 0.95].
    float min_probability = 0.0f;
    bool adaptive_threshold = false;
    // Staged speculation, greedy requests only (sampling drafts a plain chain):
    // tree: besides its chain of up to K guesses, the draft proposes its next-best tokens at the first
    //   two positions (up to 2 at the first, 1 at the second, each at least kTreeMinProbability likely
    //   to the draft) as leaves of a tree that the target verifies in the same single pass: up to
    //   Draft::kMaxTreeLeaves rows more than K, for a chance at a longer accepted run where the chain's
    //   first guesses are wrong.
    // lookup_drafts (a draft of the draft): prompt lookup guesses the draft model's next tokens, and the
    //   draft verifies them in one of its own passes, keeping those that equal its argmax, so the draft's
    //   chain is the same but takes fewer draft forwards on repetitive text.
    bool tree = false;
    bool lookup_drafts = false;
    PromptLookupParams lookup{};
    static constexpr float kTreeMinProbability = 0.05f;
};
// Throws InvalidRequestError when the vocabularies differ (size, a token's text, BOS/EOS), naming the id.
void check_draft_vocabulary(const Vocab& target, const Vocab& draft);
std::unique_ptr<DraftSource> make_draft_model_source(std::shared_ptr<const Model> draft_model,
                                                     const DraftModelParams& params = {});

// A draft-model spec from the CLI: "draft:PATH" (chain), "tree:PATH" (tree drafts), "draft-lookup:PATH"
// (prompt lookup drafts for the draft) or "staged:PATH" (both). Sets params.tree / lookup_drafts and
// returns PATH; returns an empty string for a spec that names no draft model.
std::string parse_draft_model_spec(std::string_view spec, DraftModelParams& params);

struct SpeculativeOptions {
    DraftSource* draft = nullptr;    // null: no speculation
    int draft_k = 4;                 // most guesses verified per pass; 0: no speculation
    // Choose K per pass (0..draft_k) from the running acceptance rate and the measured cost of drafting and
    // of verification rows; K = 0 (plain decoding) whenever speculation does not pay. The measured cost
    // per token of recent passes with guesses (loop work included) is checked against plain passes, and
    // K is forced to 0 for a growing back-off when it is not 5% better; a draft model whose prompt
    // prefill cost at least half the target's is never tried (see draft_length_controller.h).
    bool adaptive_k = false;
    std::shared_ptr<const Grammar> grammar;  // null: unconstrained
    // The vocabulary's token texts for the grammar; null: built for this request (costs one pass over the
    // vocabulary, so callers serving many requests keep one).
    std::shared_ptr<const GrammarVocabulary> grammar_vocabulary;
    bool force_grammar_tokens = true;  // append grammar-determined tokens without sampling
    // Sees the target's raw logits of every position before its token is decided (tests use it to check
    // that rolled-back guesses leave nothing behind in the KV cache).
    std::function<void(int32_t position, std::span<const float> logits)> on_logits;
};

struct SpeculativeStats {
    int64_t n_drafted = 0;         // guesses verified by the target
    int64_t n_accepted = 0;        // of those, kept
    int64_t n_verify_passes = 0;   // target passes that verified at least one guess
    int64_t n_forward_passes = 0;  // every target forward (prefill chunks included)
    int64_t n_forced = 0;          // tokens the grammar determined (appended without sampling)
    int64_t n_tree_passes = 0;     // verification passes over a tree draft (n_drafted counts every node)
    int n_generated = 0;
    int last_k = 0;                // K chosen for the last pass (adaptive mode)
    double draft_ms = 0;           // time spent in DraftSource::propose
    double verify_ms = 0;          // time in the target's decode passes after the prompt

    double acceptance_rate() const { return n_drafted > 0 ? double(n_accepted) / double(n_drafted) : 0.0; }
    // Tokens gained per verification pass (accepted guesses + the target's own token).
    double tokens_per_verify_pass() const {
        return n_verify_passes > 0 ? double(n_accepted + n_verify_passes) / double(n_verify_passes) : 0.0;
    }
    double forward_passes_per_token() const {
        return n_generated > 0 ? double(n_forward_passes) / double(n_generated) : 0.0;
    }
};

struct SpeculativeResult {
    GenerationResult generation;
    SpeculativeStats speculative;
};

// generate() with speculation and/or a grammar: same parameters, same streaming, stop strings, EOG,
// cancellation, n_predict and context-full semantics, same sequence handling (params.seq_id must be
// empty, and is removed at the end). Greedy output equals generate()'s (see Numerics above); sampled
// output has the same distribution but, for a given seed, not the same tokens.
// Throws InvalidRequestError for bad options (draft_k out of [0, 64]) and everything generate() throws.
SpeculativeResult generate_speculative(Context& context, const Vocab& vocab, std::span<const int32_t> prompt,
                                       const GenerationParams& params, const SpeculativeOptions& options,
                                       const TextCallback& on_text = {});

}  // namespace peregrine
