// Staged speculation: tree drafts verified in one pass with a tree attention mask.
//   - the mask: every row of a tree pass gets the logits a plain chain pass over its own path gives
//     (siblings share a position and must not see each other), on every test model, with KV blocks so
//     small that the tree's slots spread over several blocks;
//   - compaction: after keep_tree_path the sequence continues exactly like a fresh one that decoded the
//     accepted path (logits of the next token compared), and its published prefix blocks hold the
//     path's K/V (a second sequence that reuses them gets the fresh logits too);
//   - misuse is refused with a clear error and changes nothing;
//   - greedy equality: tree drafts, prompt-lookup drafts for the draft model, and both, K in {1, 4, 8},
//     on every golden prompt of every model, give the tokens of plain greedy generation.
#include <QtTest>

#include "peregrine/error.h"
#include "spec_fixtures.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

struct Target {
    const char* golden;
    const char* file;
    const char* draft;
};
const Target kTargets[] = {
    {"stories260K-f32", "stories260K-f32.gguf", "stories260K-q4_0.gguf"},
    {"stories260K-f16", "stories260K-f16.gguf", "stories260K-q4_0.gguf"},
    {"stories260K-q8_0", "stories260K-q8_0.gguf", "stories260K-q4_0.gguf"},
    {"stories260K-q4_0", "stories260K-q4_0.gguf", "stories260K-q8_0.gguf"},
    {"stories260K-q4_k_m", "stories260K-q4_k_m.gguf", "stories260K-q4_0.gguf"},
    {"llama-2-tiny-random", "llama-2-tiny-random.gguf", "llama-2-tiny-random.gguf"},
};

// A tree over the row of the last prompt token (row 0): three children, the first with a chain of three,
// the second with two children of its own, the third a leaf.
struct Node {
    int parent;  // batch row
    int32_t token;
};
std::vector<Node> test_tree(int32_t n_vocab) {
    const auto t = [&](int32_t x) { return x % n_vocab; };
    return {{0, t(11)}, {0, t(12)}, {0, t(13)}, {1, t(21)}, {4, t(31)}, {5, t(41)},
            {2, t(22)}, {2, t(23)}, {7, t(32)}};
}

// Batch rows from row 0 down to `row` (the row's path), as tokens.
std::vector<int32_t> path_tokens(const std::vector<Node>& tree, int32_t root_token, int row) {
    std::vector<int32_t> out;
    while (row > 0) {
        out.insert(out.begin(), tree[size_t(row - 1)].token);
        row = tree[size_t(row - 1)].parent;
    }
    out.insert(out.begin(), root_token);
    return out;
}
std::vector<int32_t> path_rows(const std::vector<Node>& tree, int row) {
    std::vector<int32_t> out;
    while (row > 0) {
        out.insert(out.begin(), row);
        row = tree[size_t(row - 1)].parent;
    }
    out.insert(out.begin(), 0);
    return out;
}

ContextParams small_blocks() {
    ContextParams p = test_context();
    p.kv_block_size = 4;  // the tree's slots and the compacted path cross block boundaries
    p.n_seq_max = 2;
    return p;
}

// Decodes the prompt but its last token (the cache the tree extends).
void decode_prefix(Context& ctx, int32_t seq, const std::vector<int32_t>& prompt) {
    Batch b;
    for (size_t i = 0; i + 1 < prompt.size(); ++i) b.add(seq, int32_t(i), prompt[i], false);
    ctx.decode(b);
}

// Logits of the last row after decoding prefix (all but the prompt's last token) + `tail` as a chain.
std::vector<float> chain_logits(const std::shared_ptr<const Model>& model, const std::vector<int32_t>& prompt,
                                const std::vector<int32_t>& tail) {
    Context ctx(model, small_blocks());
    decode_prefix(ctx, 0, prompt);
    Batch b;
    const int32_t base = int32_t(prompt.size()) - 1;
    for (size_t i = 0; i < tail.size(); ++i) b.add(0, base + int32_t(i), tail[i], i + 1 == tail.size());
    const auto l = ctx.decode(b);
    return {l.begin(), l.end()};
}

std::vector<int32_t> longest_prompt(const char* golden) {
    std::vector<int32_t> best;
    for (const GoldenCase& c : golden_cases(golden)) {
        if (c.prompt.size() > best.size()) best = c.prompt;
    }
    return best;
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::abs(a[i] - b[i])));
    return d;
}

Batch tree_batch(const std::vector<Node>& tree, const std::vector<int32_t>& prompt) {
    Batch b;
    const int32_t base = int32_t(prompt.size()) - 1;
    b.add(0, base, prompt.back(), true);
    std::vector<int32_t> depth{0};
    for (const Node& n : tree) {
        depth.push_back(depth[size_t(n.parent)] + 1);
        b.add_child(0, base + depth.back(), n.token, true, n.parent);
    }
    return b;
}

}  // namespace

class TestSpeculativeTree : public QObject {
    Q_OBJECT

private slots:
    void tree_rows_equal_their_paths_data() {
        QTest::addColumn<int>("target");
        for (int t = 0; t < int(std::size(kTargets)); ++t) QTest::addRow("%s", kTargets[t].golden) << t;
    }
    void tree_rows_equal_their_paths() {
        QFETCH(int, target);
        const LoadedModel& m = loaded(kTargets[target].file);
        const int32_t n_vocab = m.vocab->n_tokens();
        const std::vector<int32_t> prompt = longest_prompt(kTargets[target].golden);
        const std::vector<Node> tree = test_tree(n_vocab);
        Context ctx(m.model, small_blocks());
        decode_prefix(ctx, 0, prompt);
        const auto logits = ctx.decode(tree_batch(tree, prompt));
        QCOMPARE(ctx.sequence_length(0), int32_t(prompt.size() + tree.size()));  // one slot per row
        double worst = 0, sibling_gap = HUGE_VAL;
        for (int row = 0; row <= int(tree.size()); ++row) {
            const std::vector<float> want = chain_logits(m.model, prompt, path_tokens(tree, prompt.back(), row));
            const auto got = logits.subspan(size_t(row) * size_t(n_vocab), size_t(n_vocab));
            worst = std::max(worst, max_abs_diff(got, want));
        }
        // The size of a wrong attention input for comparison: row 4 (path 0, 1, 4) with row 2 inserted.
        {
            const std::vector<float> leaked =
                chain_logits(m.model, prompt, {prompt.back(), tree[1].token, tree[0].token, tree[3].token});
            sibling_gap = max_abs_diff(logits.subspan(4 * size_t(n_vocab), size_t(n_vocab)), leaked);
        }
        qInfo("%s: max |tree - path| %.3g over %zu rows; a leaked sibling would change a row by %.3g",
              kTargets[target].golden, worst, tree.size() + 1, sibling_gap);
        // Each row's arithmetic is the same as in the chain pass (kernels do not depend on the batch).
        QCOMPARE(worst, 0.0);
        QVERIFY(sibling_gap > 1e-3);
    }

    void compacted_path_continues_like_a_fresh_run_data() {
        QTest::addColumn<int>("target");
        QTest::addColumn<int>("leaf");  // batch row whose path is kept
        for (int t : {0, 1, 5}) {
            for (int leaf : {0, 3, 6, 8, 9}) QTest::addRow("%s/row%d", kTargets[t].golden, leaf) << t << leaf;
        }
    }
    void compacted_path_continues_like_a_fresh_run() {
        QFETCH(int, target);
        QFETCH(int, leaf);
        const LoadedModel& m = loaded(kTargets[target].file);
        const int32_t n_vocab = m.vocab->n_tokens();
        const std::vector<int32_t> prompt = longest_prompt(kTargets[target].golden);
        const std::vector<Node> tree = test_tree(n_vocab);
        Context ctx(m.model, small_blocks());
        decode_prefix(ctx, 0, prompt);
        ctx.decode(tree_batch(tree, prompt));
        const std::vector<int32_t> rows = path_rows(tree, leaf);
        ctx.keep_tree_path(0, rows);
        std::vector<int32_t> path = path_tokens(tree, prompt.back(), leaf);
        const int32_t len = int32_t(prompt.size() - 1 + path.size());
        QCOMPARE(ctx.sequence_length(0), len);

        // Two more tokens after the path, one pass each.
        const int32_t next[] = {7 % n_vocab, 5 % n_vocab};
        for (int step = 0; step < 2; ++step) {
            Batch b;
            b.add(0, len + step, next[step], true);
            const auto got = ctx.decode(b);
            path.push_back(next[step]);
            const std::vector<float> want = chain_logits(m.model, prompt, path);
            QCOMPARE(max_abs_diff(got, want), 0.0);
        }

        // The blocks the compacted path filled were published for prefix reuse: they must hold its K/V.
        std::vector<int32_t> text(prompt.begin(), prompt.end() - 1);
        text.insert(text.end(), path.begin(), path.end());
        text.push_back(3 % n_vocab);
        const int32_t reused = ctx.reuse_prefix(1, text);
        QCOMPARE(reused, (len + 2) / 4 * 4);  // every full block of sequence 0, the compacted ones included
        Batch b;
        for (size_t i = size_t(reused); i < text.size(); ++i) b.add(1, int32_t(i), text[i], i + 1 == text.size());
        const auto got = ctx.decode(b);
        const std::vector<int32_t> tail(text.begin() + std::ptrdiff_t(prompt.size() - 1), text.end());
        QCOMPARE(max_abs_diff(got, chain_logits(m.model, prompt, tail)), 0.0);
    }

    void misuse_is_refused() {
        const LoadedModel& m = loaded("stories260K-f32.gguf");
        const std::vector<int32_t> prompt = m.tokenize_prompt("Once upon a time");
        const std::vector<Node> tree = test_tree(m.vocab->n_tokens());
        Context ctx(m.model, small_blocks());
        decode_prefix(ctx, 0, prompt);
        const int32_t before = ctx.sequence_length(0);

        Batch bad = tree_batch(tree, prompt);
        bad.rows[3].pos += 1;  // not its parent's position + 1
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.decode(bad));
        bad = tree_batch(tree, prompt);
        bad.parent[2] = 5;  // a later row
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.decode(bad));
        QCOMPARE(ctx.sequence_length(0), before);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.keep_tree_path(0, std::vector<int32_t>{0}));

        ctx.decode(tree_batch(tree, prompt));
        Batch next;
        next.add(0, ctx.sequence_length(0), 1, true);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.decode(next));  // the tree is unresolved
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.keep_tree_path(0, std::vector<int32_t>{0, 4}));  // skips row 1
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.keep_tree_path(0, std::vector<int32_t>{0, 1, 5}));
        ctx.truncate_sequence(0, 1000);  // drops the tree, whatever n_keep asks
        QCOMPARE(ctx.sequence_length(0), before);
        next.rows[0].pos = before;
        ctx.decode(next);

        Context no_cache(m.model, [] {
            ContextParams p = test_context();
            p.use_kv_cache = false;
            return p;
        }());
        decode_prefix(no_cache, 0, prompt);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, no_cache.decode(tree_batch(tree, prompt)));
    }

    void greedy_with_tree_drafts_equals_plain_data() {
        QTest::addColumn<int>("target");
        QTest::addColumn<QString>("spec");
        QTest::addColumn<int>("k");
        for (int t = 0; t < int(std::size(kTargets)); ++t) {
            for (const char* spec : {"tree", "draft-lookup", "staged"}) {
                for (int k : {1, 4, 8}) QTest::addRow("%s/%s/k%d", kTargets[t].golden, spec, k) << t << QString(spec) << k;
            }
        }
    }
    void greedy_with_tree_drafts_equals_plain() {
        QFETCH(int, target);
        QFETCH(QString, spec);
        QFETCH(int, k);
        const Target& t = kTargets[target];
        const LoadedModel& m = loaded(t.file);
        DraftModelParams dp{.n_ctx = 512, .n_threads = 1};
        QCOMPARE(parse_draft_model_spec(spec.toStdString() + ":" + t.draft, dp), std::string(t.draft));
        auto draft = make_draft_model_source(loaded(t.draft).model, dp);
        SpeculativeOptions opt;
        opt.draft = draft.get();
        opt.draft_k = k;
        Context ctx(m.model, test_context());
        int64_t tree_passes = 0, drafted = 0, accepted = 0, passes = 0, tokens = 0;
        for (const GoldenCase& c : golden_cases(t.golden)) {
            const GenerationResult plain = generate(ctx, *m.vocab, c.prompt, greedy_params(c.n_predict));
            const SpeculativeResult r = generate_speculative(ctx, *m.vocab, c.prompt, greedy_params(c.n_predict), opt);
            QCOMPARE(ctx.sequence_length(0), 0);
            // Tree rows are computed exactly like chain rows (tree_rows_equal_their_paths), so unlike
            // the chain test no near-tie allowance is needed: the tokens must be equal.
            QCOMPARE(r.generation.tokens, plain.tokens);
            QVERIFY(r.speculative.n_accepted <= r.speculative.n_drafted);
            tree_passes += r.speculative.n_tree_passes;
            drafted += r.speculative.n_drafted;
            accepted += r.speculative.n_accepted;
            passes += r.speculative.n_forward_passes;
            tokens += r.speculative.n_generated;
        }
        qInfo("%s %s k%d: %lld tree passes, acceptance %.2f, %.2f forward passes per token", t.golden,
              qPrintable(spec), k, (long long)tree_passes, drafted ? double(accepted) / double(drafted) : 0.0,
              tokens ? double(passes) / double(tokens) : 0.0);
        QVERIFY(accepted > 0);
        // From K = 2 on, tree drafting adds the draft's runner-up tokens (when it gives them >= 5%): on
        // the trained model that happens on these prompts.
        if (spec != "draft-lookup" && k >= 4 && target < 5) QVERIFY(tree_passes > 0);
        if (spec == "draft-lookup") QCOMPARE(tree_passes, int64_t(0));
    }
};

QTEST_GUILESS_MAIN(TestSpeculativeTree)
#include "tst_speculative_tree.moc"
