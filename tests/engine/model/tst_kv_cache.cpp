// The paged KV cache, observed through Context: blocks are taken as sequences grow and returned when
// they shrink or go away, forked sequences share blocks (reference counts) and copy a shared block
// before writing into it, a decode that does not fit is refused with nothing changed, and the
// statistics add up.
#include <QtTest>

#include "model_fixtures.h"
#include "peregrine/error.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

const char* kModel = "stories260K-f32.gguf";

// Decodes `token` at the end of `seq` and returns its logits.
std::vector<float> step(Context& ctx, int32_t seq, int32_t token) {
    Batch b;
    b.add(seq, ctx.sequence_length(seq), token, true);
    const auto logits = ctx.decode(b);
    return {logits.begin(), logits.end()};
}

// The first n tokens of a longer stories prompt, BOS first.
std::vector<int32_t> prompt(size_t n) {
    std::vector<int32_t> p = kSaraAndBen;
    while (p.size() < n) p.insert(p.end(), kSaraAndBen.begin() + 1, kSaraAndBen.end());
    p.resize(n);
    return p;
}

}  // namespace

class TestKvCache : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<const Model> model_ = load_model(kModel);

private slots:
    void stats_of_a_fresh_context() {
        Context ctx(model_, small_context(/*n_ctx=*/64, /*n_seq_max=*/2, /*block_size=*/16));
        const KvCacheStats s = ctx.kv_stats();
        QCOMPARE(s.block_size, 16);
        QCOMPARE(s.blocks_total, 2 * 4);
        QCOMPARE(s.blocks_used, 0);
        QCOMPARE(s.bytes_total, 2 * model_->kv_cache_bytes(64));
        QCOMPARE(ctx.n_ctx(), 64);

        ContextParams odd = small_context(/*n_ctx=*/40, /*n_seq_max=*/3, /*block_size=*/16);
        QCOMPARE(Context(model_, odd).kv_stats().blocks_total, 3 * 3);  // ceil(40 / 16) per sequence
        odd.kv_pool_blocks = 5;
        QCOMPARE(Context(model_, odd).kv_stats().blocks_total, 5);
    }

    void blocks_follow_sequence_length() {
        Context ctx(model_, small_context(64, 2, 16));
        prefill(ctx, 0, prompt(5));
        QCOMPARE(ctx.sequence_length(0), 5);
        QCOMPARE(ctx.kv_stats().blocks_used, 1);
        while (ctx.sequence_length(0) < 16) step(ctx, 0, 300);
        QCOMPARE(ctx.kv_stats().blocks_used, 1);  // positions 0..15 fill exactly one block
        step(ctx, 0, 300);
        QCOMPARE(ctx.kv_stats().blocks_used, 2);

        prefill(ctx, 1, prompt(40));
        QCOMPARE(ctx.kv_stats().blocks_used, 2 + 3);

        ctx.truncate_sequence(1, 16);
        QCOMPARE(ctx.sequence_length(1), 16);
        QCOMPARE(ctx.kv_stats().blocks_used, 2 + 1);
        ctx.truncate_sequence(1, 99);  // longer than the sequence: nothing to drop
        QCOMPARE(ctx.sequence_length(1), 16);
        ctx.truncate_sequence(1, 0);
        QCOMPARE(ctx.sequence_length(1), 0);
        QCOMPARE(ctx.kv_stats().blocks_used, 2);

        ctx.remove_sequence(0);
        QCOMPARE(ctx.sequence_length(0), 0);
        QCOMPARE(ctx.kv_stats().blocks_used, 0);
        ctx.remove_sequence(0);  // unknown sequences are ignored
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.truncate_sequence(0, -1));
    }

    void freed_blocks_are_reused() {
        Context ctx(model_, small_context(64, 2, 16));
        for (int round = 0; round < 10; ++round) {
            prefill(ctx, round % 2, prompt(60));
            ctx.remove_sequence(round % 2);
        }
        QCOMPARE(ctx.kv_stats().blocks_used, 0);
        // A reused block holds the previous sequence's K/V until overwritten: results must not depend on it.
        const std::vector<float> reused = prefill(ctx, 0, kOnceUponATime);
        Context fresh(model_, small_context(64, 2, 16));
        QCOMPARE(reused, prefill(fresh, 0, kOnceUponATime));
    }

    void fork_shares_blocks_and_copies_on_write() {
        Context ctx(model_, small_context(64, 2, 16));
        const std::vector<int32_t> p = prompt(20);
        prefill(ctx, 0, p);
        QCOMPARE(ctx.kv_stats().blocks_used, 2);  // one full block, one holding positions 16..19

        ctx.fork_sequence(0, 1);
        QCOMPARE(ctx.sequence_length(1), 20);
        QCOMPARE(ctx.kv_stats().blocks_used, 2);  // both blocks shared (reference count 2)

        // Writing position 20 of the fork copies the shared partial block first.
        const std::vector<float> forked = step(ctx, 1, 350);
        QCOMPARE(ctx.kv_stats().blocks_used, 3);
        // The original now owns its partial block alone: it writes in place.
        const std::vector<float> original = step(ctx, 0, 280);
        QCOMPARE(ctx.kv_stats().blocks_used, 3);

        // Each continuation equals the same passes in a context that never forked.
        Context ref(model_, small_context(64, 2, 16));
        prefill(ref, 0, p);
        QCOMPARE(original, step(ref, 0, 280));
        ref.remove_sequence(0);
        prefill(ref, 0, p);
        QCOMPARE(forked, step(ref, 0, 350));

        // The shared full block stays until its last user is gone.
        ctx.remove_sequence(0);
        QCOMPARE(ctx.kv_stats().blocks_used, 2);
        ctx.remove_sequence(1);
        QCOMPARE(ctx.kv_stats().blocks_used, 0);
    }

    void fork_rules() {
        Context ctx(model_, small_context(64, 2, 16));
        prefill(ctx, 0, kOnceUponATime);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.fork_sequence(0, 0));
        ctx.fork_sequence(0, 1);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.fork_sequence(0, 1));  // target exists
        ctx.remove_sequence(1);
        ctx.fork_sequence(7, 1);  // forking an empty sequence gives an empty one
        QCOMPARE(ctx.sequence_length(1), 0);
    }

    void exhaustion_changes_nothing() {
        ContextParams p = small_context(64, 2, 16);
        p.kv_pool_blocks = 3;  // overcommitted: two sequences of 64 would need 8
        Context ctx(model_, p);
        prefill(ctx, 0, prompt(20));
        QCOMPARE(ctx.kv_stats().blocks_used, 2);

        // Sequence 1 needs 2 blocks, 1 is free. In one batch with a row for sequence 0 that would fit.
        Batch b;
        b.add(0, 20, 300, true);
        for (int32_t i = 0; i < 20; ++i) b.add(1, i, prompt(20)[static_cast<size_t>(i)], i == 19);
        try {
            ctx.decode(b);
            QFAIL("decode should run out of KV blocks");
        } catch (const InvalidRequestError& e) {
            QVERIFY2(QString(e.what()).contains("out of KV cache blocks"), e.what());
        }
        QCOMPARE(ctx.sequence_length(0), 20);
        QCOMPARE(ctx.sequence_length(1), 0);
        QCOMPARE(ctx.kv_stats().blocks_used, 2);

        // The context is still usable and sequence 0 is intact.
        const std::vector<float> after = step(ctx, 0, 300);
        Context ref(model_, small_context(64, 2, 16));
        prefill(ref, 0, prompt(20));
        QCOMPARE(after, step(ref, 0, 300));
        // A sequence that fits in the last free block is accepted.
        prefill(ctx, 1, prompt(10));
        QCOMPARE(ctx.kv_stats().blocks_used, 3);
    }

    void invalid_batches_change_nothing_data() {
        QTest::addColumn<int>("kind");
        QTest::newRow("position past n_ctx") << 0;
        QTest::newRow("gap in positions") << 1;
        QTest::newRow("token id out of range") << 2;
        QTest::newRow("negative sequence id") << 3;
        QTest::newRow("too many sequences") << 4;
        QTest::newRow("empty batch") << 5;
    }
    void invalid_batches_change_nothing() {
        QFETCH(int, kind);
        Context ctx(model_, small_context(/*n_ctx=*/32, /*n_seq_max=*/2, 16));
        prefill(ctx, 0, prompt(30));
        prefill(ctx, 1, kOnceUponATime);
        const KvCacheStats before = ctx.kv_stats();
        Batch b;
        b.add(0, 30, 300, false);  // a valid row first: it must not be applied either
        switch (kind) {
            case 0: b.add(0, 31, 300, false); b.add(0, 32, 300, true); break;
            case 1: b.add(1, 6, 300, true); break;
            case 2: b.add(1, 5, 512, true); break;
            case 3: b.add(-1, 0, 300, true); break;
            case 4: b.add(2, 0, 300, true); break;
            case 5: b.clear(); break;
        }
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, ctx.decode(b));
        QCOMPARE(ctx.sequence_length(0), 30);
        QCOMPARE(ctx.sequence_length(1), 5);
        QCOMPARE(ctx.kv_stats().blocks_used, before.blocks_used);
    }

    void bad_parameters() {
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Context(model_, small_context(64, 0, 16)));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Context(model_, small_context(64, 2, 0)));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Context(model_, small_context(-1, 2, 16)));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Context(nullptr, small_context()));
        QCOMPARE(Context(model_, small_context(0)).n_ctx(), 512);  // 0: the training context
    }
};

QTEST_GUILESS_MAIN(TestKvCache)
#include "tst_kv_cache.moc"
