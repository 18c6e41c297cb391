// Prefix caching on the real tiny model: full KV blocks stay findable by their tokens after use, so the
// next turn of a chat prefills only what is new and chats with one system prompt share its blocks; the
// reused KV gives the same output as computing it again; unreferenced cached blocks are evicted least
// recently freed first; a block that is rewritten is never found again under its old tokens.
#include <QtTest>

#include <map>

#include "peregrine/context.h"
#include "peregrine/engine.h"
#include "peregrine/error.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

constexpr int kBlock = 16;

ContextParams context_params(int n_seq = 4, int pool_blocks = 0, bool prefix_cache = true) {
    ContextParams p;
    p.n_ctx = 256;
    p.n_threads = 1;
    p.n_seq_max = n_seq;
    p.kv_block_size = kBlock;
    p.kv_pool_blocks = pool_blocks;
    p.prefix_cache = prefix_cache;
    return p;
}

// Decodes tokens [from, end) of `tokens` on seq as one batch and returns the last row's logits.
std::vector<float> decode_rest(Context& ctx, int32_t seq, const std::vector<int32_t>& tokens, size_t from) {
    Batch b;
    for (size_t i = from; i < tokens.size(); ++i) b.add(seq, static_cast<int32_t>(i), tokens[i], i + 1 == tokens.size());
    const auto logits = ctx.decode(b);
    return {logits.begin(), logits.end()};
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
    return d;
}

struct ChatTurn {
    std::vector<int32_t> tokens;
    std::string text;
    int n_cached = 0;
    int n_prompt = 0;
};

}  // namespace

class TestPrefixCache : public QObject {
    Q_OBJECT

private:
    LoadedModel loaded_;
    std::vector<int32_t> story_;  // a 60-token prompt

    // Runs one greedy request to the end on `core` and returns what it produced.
    static ChatTurn run(EngineCore& core, const std::vector<int32_t>& prompt, int max_tokens, uint64_t id) {
        ChatTurn turn;
        EngineRequest r;
        r.prompt = prompt;
        r.max_tokens = max_tokens;
        r.sampling.temperature = 0;
        core.submit(id, r, [&turn](const RequestUpdate& u) {
            turn.tokens.insert(turn.tokens.end(), u.tokens.begin(), u.tokens.end());
            turn.text += u.text;
            if (u.finished) {
                turn.n_cached = u.n_cached_prompt_tokens;
                turn.n_prompt = u.n_prompt_tokens;
            }
        });
        while (core.has_work()) core.step();
        return turn;
    }

    static EngineParams engine_params(bool prefix_cache) {
        EngineParams p;
        p.context = context_params(4, 0, prefix_cache);
        p.max_batch_tokens = 512;
        return p;
    }

private slots:
    void initTestCase() {
        loaded_ = LoadedModel::load(test::model_path("stories260K-f32.gguf"));
        story_ = loaded_.tokenize_prompt(
            "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, "
            "she saw a big red ball under a tree and ran to get it.");
        QVERIFY(story_.size() > 3 * kBlock);
    }

    void reused_blocks_give_the_logits_of_a_fresh_computation() {
        Context ctx(loaded_.model, context_params());
        const std::vector<int32_t> first(story_.begin(), story_.begin() + 40);
        decode_rest(ctx, 0, first, 0);
        ctx.remove_sequence(0);
        QCOMPARE(ctx.kv_stats().blocks_used, 0);
        QCOMPARE(ctx.kv_stats().blocks_cached, 2);  // positions 0..31 filled two blocks; 32..39 did not

        const int32_t reused = ctx.reuse_prefix(1, story_);
        QCOMPARE(reused, 2 * kBlock);
        QCOMPARE(ctx.sequence_length(1), 2 * kBlock);
        QCOMPARE(ctx.kv_stats().blocks_used, 2);
        QCOMPARE(ctx.kv_stats().blocks_cached, 0);
        const std::vector<float> cached = decode_rest(ctx, 1, story_, static_cast<size_t>(reused));

        Context fresh(loaded_.model, context_params(4, 0, false));
        QCOMPARE(fresh.reuse_prefix(1, story_), 0);  // caching off: nothing is ever found
        const std::vector<float> computed = decode_rest(fresh, 1, story_, 0);
        // The cached K/V was computed in a 40-row pass and this one in a 60-row pass: both are batched
        // passes, so the sums run in the same order and the values agree closely.
        QVERIFY2(max_abs_diff(cached, computed) < 1e-4, qPrintable(QString::number(max_abs_diff(cached, computed))));

        const KvCacheStats s = ctx.kv_stats();
        QCOMPARE(s.prefix_query_tokens, uint64_t(story_.size()));
        QCOMPARE(s.prefix_hit_tokens, uint64_t(2 * kBlock));
        QCOMPARE(s.prefix_hit_rate(), double(2 * kBlock) / double(story_.size()));
    }

    void the_last_token_is_always_computed() {
        Context ctx(loaded_.model, context_params());
        const std::vector<int32_t> exact(story_.begin(), story_.begin() + 2 * kBlock);
        decode_rest(ctx, 0, exact, 0);
        ctx.remove_sequence(0);
        // Both blocks are cached, but the logits of position 31 are needed: only one block is reused.
        QCOMPARE(ctx.reuse_prefix(1, exact), kBlock);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.reuse_prefix(1, exact));  // exists now
        QCOMPARE(ctx.reuse_prefix(2, std::vector<int32_t>{exact.front()}), 0);
        QCOMPARE(ctx.sequence_length(2), 0);  // no match: no sequence created
    }

    void different_tokens_do_not_match() {
        Context ctx(loaded_.model, context_params());
        decode_rest(ctx, 0, story_, 0);
        std::vector<int32_t> other = story_;
        other[20] = other[20] == 300 ? 301 : 300;  // in the second block
        QCOMPARE(ctx.reuse_prefix(1, other), kBlock);
        other[3] = other[3] == 300 ? 301 : 300;    // in the first block
        QCOMPARE(ctx.reuse_prefix(2, other), 0);
    }

    void least_recently_freed_blocks_are_evicted_first() {
        // 8 blocks. Three prompts of 2 full blocks + 1 position run one after the other and are freed
        // in the order a, b, c: their 6 full blocks stay cached, the partial ones become plain free
        // blocks. A new sequence needing 4 blocks takes the 2 plain ones, then evicts a (the least
        // recently freed), keeping b and c findable.
        Context ctx(loaded_.model, context_params(4, /*pool_blocks=*/8));
        std::vector<std::vector<int32_t>> prompts;
        for (int k = 0; k < 3; ++k) {
            std::vector<int32_t> p(story_.begin(), story_.begin() + 2 * kBlock + 1);
            p[1] = 300 + k;  // distinct from the first block on
            prompts.push_back(p);
            decode_rest(ctx, k, p, 0);
            ctx.remove_sequence(k);
        }
        QCOMPARE(ctx.kv_stats().blocks_cached, 6);
        QCOMPARE(ctx.kv_stats().blocks_free, 8);
        std::vector<int32_t> fresh(story_.begin(), story_.begin() + 3 * kBlock + 1);
        fresh[1] = 400;
        decode_rest(ctx, 3, fresh, 0);
        QCOMPARE(ctx.kv_stats().blocks_used, 4);
        QCOMPARE(ctx.kv_stats().blocks_cached, 4);
        QCOMPARE(ctx.reuse_prefix(0, prompts[0]), 0);          // evicted
        QCOMPARE(ctx.reuse_prefix(1, prompts[1]), 2 * kBlock); // still there
        QCOMPARE(ctx.reuse_prefix(2, prompts[2]), 2 * kBlock);
    }

    void a_rewritten_block_is_not_found_under_its_old_tokens() {
        Context ctx(loaded_.model, context_params());
        decode_rest(ctx, 0, std::vector<int32_t>(story_.begin(), story_.begin() + 40), 0);
        ctx.truncate_sequence(0, 20);  // back into the second (full, published) block
        std::vector<int32_t> changed(story_.begin(), story_.begin() + 40);
        for (size_t i = 20; i < 40; ++i) changed[i] = 300;
        decode_rest(ctx, 0, changed, 20);
        ctx.remove_sequence(0);
        QCOMPARE(ctx.reuse_prefix(1, story_), kBlock);  // only the untouched first block
        ctx.remove_sequence(1);
        QCOMPARE(ctx.reuse_prefix(2, std::vector<int32_t>(changed.begin(), changed.begin() + 33)), 2 * kBlock);
    }

    // The test: turn 2 of a conversation prefills only the new tokens, and its output equals a
    // run without the cache.
    void second_turn_prefills_only_the_new_tokens() {
        const std::vector<ChatMessage> turn1 = {{"system", "You tell short stories about a girl named Lily."},
                                                {"user", "Tell me about Lily and her red ball."}};
        const std::vector<int32_t> prompt1 = loaded_.tokenize_chat(turn1);
        EngineCore cached(loaded_, engine_params(true));
        const ChatTurn reply1 = run(cached, prompt1, 24, 1);
        QCOMPARE(reply1.n_cached, 0);

        std::vector<ChatMessage> turn2 = turn1;
        turn2.push_back({"assistant", reply1.text});
        turn2.push_back({"user", "What did Lily do next?"});
        const std::vector<int32_t> prompt2 = loaded_.tokenize_chat(turn2);
        // Turn 1's KV holds its prompt and the generated tokens; the reusable part is the whole blocks
        // of what both sequences share.
        std::vector<int32_t> turn1_kv = prompt1;
        turn1_kv.insert(turn1_kv.end(), reply1.tokens.begin(), reply1.tokens.end() - 1);  // last one never decoded
        size_t common = 0;
        while (common < turn1_kv.size() && common < prompt2.size() && turn1_kv[common] == prompt2[common]) ++common;
        const int expected = static_cast<int>(std::min(common, prompt2.size() - 1) / kBlock * kBlock);
        QVERIFY(expected >= static_cast<int>(prompt1.size() / kBlock * kBlock));

        const uint64_t rows_before = cached.stats().prompt_rows;
        const ChatTurn reply2 = run(cached, prompt2, 24, 2);
        qInfo("turn 2: %zu prompt tokens, %d from the cache", prompt2.size(), expected);
        QCOMPARE(reply2.n_cached, expected);
        QCOMPARE(cached.stats().prompt_rows - rows_before, uint64_t(prompt2.size() - size_t(expected)));

        EngineCore uncached(loaded_, engine_params(false));
        const ChatTurn baseline = run(uncached, prompt2, 24, 2);
        QCOMPARE(baseline.n_cached, 0);
        QCOMPARE(uncached.stats().prompt_rows, uint64_t(prompt2.size()));
        QCOMPARE(reply2.tokens, baseline.tokens);
        QCOMPARE(reply2.text, baseline.text);
        QCOMPARE(cached.stats().kv.blocks_used, 0);
    }

    void chats_with_the_same_system_prompt_share_its_blocks() {
        const std::string system =
            "You are a friendly storyteller. Every story has a girl named Lily, her dog Max and a red ball, and "
            "ends happily.";
        const std::vector<int32_t> a = loaded_.tokenize_chat({{"system", system}, {"user", "A story about the sea."}});
        const std::vector<int32_t> b = loaded_.tokenize_chat({{"system", system}, {"user", "One about a tree."}});
        size_t common = 0;
        while (a[common] == b[common]) ++common;
        const int shared_blocks = static_cast<int>(common / kBlock);
        QVERIFY(shared_blocks >= 2);

        EngineCore core(loaded_, engine_params(true));
        EngineRequest ra;
        ra.prompt = a;
        ra.max_tokens = 40;
        ra.sampling.temperature = 0;
        core.submit(1, ra, {});
        core.step();  // a's prompt is computed and its full blocks published
        EngineRequest rb = ra;
        rb.prompt = b;
        int b_cached = -1;
        core.submit(2, rb, [&](const RequestUpdate& u) {
            if (u.finished) b_cached = u.n_cached_prompt_tokens;
        });
        core.step();  // b joins, attaching a's blocks
        // Both run now; without sharing they would hold their own blocks each.
        const int blocks_a = static_cast<int>((a.size() + 1 + kBlock - 1) / kBlock);
        const int blocks_b = static_cast<int>((b.size() + kBlock - 1) / kBlock);
        QCOMPARE(core.stats().n_running, 2);
        QCOMPARE(core.stats().kv.blocks_used, blocks_a + blocks_b - shared_blocks);
        while (core.has_work()) core.step();
        QCOMPARE(b_cached, shared_blocks * kBlock);
        QVERIFY(core.stats().kv.prefix_hit_rate() > 0);
        QCOMPARE(core.stats().kv.blocks_used, 0);
        QVERIFY(core.stats().kv.blocks_cached > 0);
    }
};

QTEST_GUILESS_MAIN(TestPrefixCache)
#include "tst_prefix_cache.moc"
