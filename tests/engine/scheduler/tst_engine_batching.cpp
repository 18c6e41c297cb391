// Continuous batching on the real trained tiny model (stories260K, f32 weights so that the ~1e-7
// difference between a batched pass and a single-row pass cannot flip a greedy choice): many requests
// through one EngineCore produce, each, exactly the tokens generate() gives for them alone, with or
// without preemption, in continuous and static mode, and every block is back in the pool afterwards.
#include <QtTest>

#include <condition_variable>
#include <map>
#include <mutex>

#include "peregrine/engine.h"
#include "peregrine/error.h"
#include "peregrine/generation.h"
#include "support/test_paths.h"

using namespace peregrine;

namespace {

constexpr int kCtx = 256;

const std::vector<std::string> kPrompts = {
    "Once upon a time",
    "Lily wanted to",
    "Sara and Ben were playing in the park. They saw a big dog",
    "Tom",
    "One day, a little bird flew to the tree and sang a song. The sun was",
    "The cat",
    "Mom said they could go to the beach if they were good, so Tim and Sue cleaned their room",
    "There was a boy named Max who loved to play with his red ball",
};

struct Outcome {
    std::vector<int32_t> tokens;
    std::string text;
    StopReason reason = StopReason::Length;
    int n_cached = 0;
    bool finished = false;
};

EngineParams engine_params(int n_seq, int kv_pool_blocks = 0, int max_batch_tokens = 64,
                           SchedulingMode mode = SchedulingMode::Continuous) {
    EngineParams p;
    p.context.n_ctx = kCtx;
    p.context.n_threads = 1;
    p.context.n_seq_max = n_seq;
    p.context.kv_block_size = 16;
    p.context.kv_pool_blocks = kv_pool_blocks;
    p.max_batch_tokens = max_batch_tokens;
    p.scheduling = mode;
    return p;
}

}  // namespace

class TestEngineBatching : public QObject {
    Q_OBJECT

private:
    LoadedModel loaded_;
    std::vector<std::vector<int32_t>> prompts_;
    std::vector<int> max_tokens_;
    std::vector<GenerationResult> alone_;

    EngineRequest greedy_request(size_t i) const {
        EngineRequest r;
        r.prompt = prompts_[i];
        r.max_tokens = max_tokens_[i];
        r.sampling.temperature = 0;
        return r;
    }

    GenerationResult run_alone(const std::vector<int32_t>& prompt, const GenerationParams& gp) const {
        ContextParams cp;
        cp.n_ctx = kCtx;
        cp.n_threads = 1;
        cp.n_seq_max = 1;
        Context ctx(loaded_.model, cp);
        return generate(ctx, *loaded_.vocab, prompt, gp);
    }

    // Submits every request to the core at once and steps until all are done.
    std::map<uint64_t, Outcome> run_core(EngineCore& core, const std::vector<EngineRequest>& requests,
                                         int* max_sequences_in_a_step = nullptr) {
        std::map<uint64_t, Outcome> out;
        for (size_t i = 0; i < requests.size(); ++i) {
            core.submit(i, requests[i], [&out](const RequestUpdate& u) {
                Outcome& o = out[u.request_id * 100 + static_cast<uint64_t>(u.index)];
                o.tokens.insert(o.tokens.end(), u.tokens.begin(), u.tokens.end());
                o.text += u.text;
                if (u.finished) {
                    o.finished = true;
                    o.reason = u.stop_reason;
                    o.n_cached = u.n_cached_prompt_tokens;
                }
            });
        }
        int widest = 0;
        for (int i = 0; i < 100000 && core.has_work(); ++i) widest = std::max(widest, core.step().n_sequences);
        if (max_sequences_in_a_step) *max_sequences_in_a_step = widest;
        return out;
    }

    void compare_with_alone(const std::map<uint64_t, Outcome>& out) {
        QCOMPARE(out.size(), prompts_.size());
        for (size_t i = 0; i < prompts_.size(); ++i) {
            const Outcome& o = out.at(i * 100);
            QVERIFY(o.finished);
            QCOMPARE(o.tokens, alone_[i].tokens);
            QCOMPARE(o.text, alone_[i].text);
            QCOMPARE(o.reason, alone_[i].stop_reason);
        }
    }

    static void verify_pool_is_whole(const EngineCore& core) {
        const EngineStats s = core.stats();
        QCOMPARE(s.kv.blocks_used, 0);
        QCOMPARE(s.kv.blocks_free, s.kv.blocks_total);
        QCOMPARE(s.n_running, 0);
        QCOMPARE(s.n_waiting, 0);
    }

private slots:
    void initTestCase() {
        loaded_ = LoadedModel::load(test::model_path("stories260K-f32.gguf"));
        for (size_t i = 0; i < kPrompts.size(); ++i) {
            prompts_.push_back(loaded_.tokenize_prompt(kPrompts[i]));
            max_tokens_.push_back(12 + static_cast<int>(i * 13 % 50));  // 12 .. 61: different lengths
            GenerationParams gp;
            gp.n_predict = max_tokens_[i];
            gp.sampling.temperature = 0;
            alone_.push_back(run_alone(prompts_[i], gp));
        }
    }

    void eight_sequences_get_the_tokens_they_get_alone() {
        EngineCore core(loaded_, engine_params(8));
        std::vector<EngineRequest> requests;
        for (size_t i = 0; i < prompts_.size(); ++i) requests.push_back(greedy_request(i));
        int widest = 0;
        const auto out = run_core(core, requests, &widest);
        compare_with_alone(out);
        QCOMPARE(widest, 8);  // they really ran together
        QCOMPARE(core.stats().preemptions, uint64_t(0));
        verify_pool_is_whole(core);
    }

    void preemption_under_a_small_pool_gives_the_same_tokens() {
        // 10 blocks of 16 positions for 8 sequences of up to ~80 positions: they cannot all stay.
        EngineCore core(loaded_, engine_params(8, /*kv_pool_blocks=*/10));
        std::vector<EngineRequest> requests;
        for (size_t i = 0; i < prompts_.size(); ++i) requests.push_back(greedy_request(i));
        const auto out = run_core(core, requests);
        compare_with_alone(out);
        QVERIFY(core.stats().preemptions > 0);
        verify_pool_is_whole(core);
    }

    void static_batching_gives_the_same_tokens_in_more_steps() {
        EngineCore continuous(loaded_, engine_params(4));
        EngineCore fixed(loaded_, engine_params(4, 0, 64, SchedulingMode::Static));
        std::vector<EngineRequest> requests;
        for (size_t i = 0; i < prompts_.size(); ++i) requests.push_back(greedy_request(i));
        compare_with_alone(run_core(continuous, requests));
        compare_with_alone(run_core(fixed, requests));
        // Finished members leave idle slots until the longest ends, so static batching takes more steps.
        QVERIFY(fixed.stats().steps > continuous.stats().steps);
        verify_pool_is_whole(fixed);
    }

    // (End-of-generation tokens are covered by tst_scheduler: this model never samples EOS greedily.)
    void stop_strings_as_generate() {
        GenerationParams gp;
        gp.n_predict = 200;
        gp.sampling.temperature = 0;
        gp.stop_strings = {"Lily"};
        const GenerationResult stop_alone = run_alone(prompts_[0], gp);
        QCOMPARE(stop_alone.stop_reason, StopReason::StopString);
        gp.stop_strings = {"scared"};
        const GenerationResult scared_alone = run_alone(prompts_[2], gp);
        QCOMPARE(scared_alone.stop_reason, StopReason::StopString);

        EngineCore core(loaded_, engine_params(4));
        EngineRequest a = greedy_request(0);
        a.max_tokens = 200;
        a.stop_strings = {"Lily"};
        EngineRequest b = greedy_request(2);
        b.max_tokens = 200;
        b.stop_strings = {"scared"};
        const auto out = run_core(core, {a, b});
        QCOMPARE(out.at(0).reason, StopReason::StopString);
        QCOMPARE(out.at(0).text, stop_alone.text);
        QCOMPARE(out.at(0).tokens, stop_alone.tokens);
        QCOMPARE(out.at(100).reason, StopReason::StopString);
        QCOMPARE(out.at(100).text, scared_alone.text);
        QVERIFY(out.at(100).text.find("scared") == std::string::npos);
        verify_pool_is_whole(core);
    }

    void parallel_samples_share_the_prompt_and_follow_their_seeds() {
        EngineCore core(loaded_, engine_params(4));
        EngineRequest r = greedy_request(6);  // 20+ prompt tokens: at least one full block to share
        r.sampling.temperature = 0.9f;
        r.sampling.seed = 77;
        r.max_tokens = 20;
        r.n = 3;
        const auto out = run_core(core, {r});
        QCOMPARE(out.size(), size_t(3));
        for (int i = 0; i < 3; ++i) {
            GenerationParams gp;
            gp.n_predict = 20;
            gp.sampling = r.sampling;
            gp.sampling.seed = 77 + static_cast<uint64_t>(i);
            const GenerationResult alone = run_alone(r.prompt, gp);
            QCOMPARE(out.at(static_cast<uint64_t>(i)).tokens, alone.tokens);
        }
        QCOMPARE(out.at(0).n_cached, 0);
        const int shared = static_cast<int>((r.prompt.size() - 1) / 16 * 16);
        QVERIFY(shared > 0);
        QCOMPARE(out.at(1).n_cached, shared);  // the later samples found the first one's blocks
        QCOMPARE(out.at(2).n_cached, shared);
        verify_pool_is_whole(core);
    }

    void cancel_frees_blocks_at_once() {
        EngineCore core(loaded_, engine_params(4));
        Outcome cancelled;
        EngineRequest r = greedy_request(1);
        r.max_tokens = 100;
        core.submit(5, r, [&](const RequestUpdate& u) {
            cancelled.tokens.insert(cancelled.tokens.end(), u.tokens.begin(), u.tokens.end());
            if (u.finished) {
                cancelled.finished = u.all_finished;
                cancelled.reason = u.stop_reason;
            }
        });
        for (int i = 0; i < 5; ++i) core.step();
        QVERIFY(core.stats().kv.blocks_used > 0);
        core.cancel(5);
        QVERIFY(cancelled.finished);
        QCOMPARE(cancelled.reason, StopReason::Cancelled);
        QCOMPARE(cancelled.tokens.size(), size_t(5));
        QVERIFY(!core.has_work());
        verify_pool_is_whole(core);
        core.cancel(5);  // unknown now: ignored
    }

    void bad_requests_are_refused_with_a_reason() {
        EngineCore core(loaded_, engine_params(2));
        EngineRequest r = greedy_request(0);
        r.prompt.clear();
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, core.submit(1, r, {}));
        r = greedy_request(0);
        r.prompt.assign(kCtx, 300);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, core.submit(1, r, {}));
        r = greedy_request(0);
        r.prompt[1] = 9999;
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, core.submit(1, r, {}));
        r = greedy_request(0);
        r.n = 0;
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, core.submit(1, r, {}));
        r = greedy_request(0);
        r.sampling.top_p = 0;
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, core.submit(1, r, {}));
        QVERIFY(!core.has_work());
    }

    // The threaded facade: submissions from this thread, callbacks on the engine's, same tokens.
    void threaded_engine_streams_every_request() {
        Engine engine(loaded_, engine_params(8));
        std::mutex mutex;
        std::condition_variable done;
        std::map<uint64_t, Outcome> out;
        std::map<uint64_t, size_t> index_of;
        int finished = 0;
        for (size_t i = 0; i < prompts_.size(); ++i) {
            std::lock_guard lock(mutex);  // held so the callback cannot run before index_of is filled
            const uint64_t id = engine.submit(greedy_request(i), [&](const RequestUpdate& u) {
                std::lock_guard inner(mutex);
                Outcome& o = out[u.request_id];
                o.tokens.insert(o.tokens.end(), u.tokens.begin(), u.tokens.end());
                o.text += u.text;
                if (u.all_finished) {
                    o.finished = true;
                    ++finished;
                    done.notify_all();
                }
            });
            index_of[id] = i;
        }
        std::unique_lock lock(mutex);
        QVERIFY(done.wait_for(lock, std::chrono::seconds(60), [&] { return finished == int(prompts_.size()); }));
        for (const auto& [id, o] : out) {
            QCOMPARE(o.tokens, alone_[index_of.at(id)].tokens);
            QCOMPARE(o.text, alone_[index_of.at(id)].text);
        }
        lock.unlock();
        // The statistics are a snapshot taken after each step, just after the callbacks ran.
        QTRY_COMPARE(engine.stats().requests_finished, uint64_t(prompts_.size()));
        QCOMPARE(engine.stats().kv.blocks_used, 0);
    }

    void destroying_a_busy_engine_cancels_its_requests() {
        std::atomic<int> cancelled{0};
        {
            Engine engine(loaded_, engine_params(2));
            for (int i = 0; i < 6; ++i) {
                EngineRequest r = greedy_request(static_cast<size_t>(i));
                r.max_tokens = -1;
                engine.submit(r, [&](const RequestUpdate& u) {
                    if (u.all_finished && u.stop_reason == StopReason::Cancelled) ++cancelled;
                });
            }
        }
        QVERIFY(cancelled > 0);  // whatever had not finished got a final Cancelled update
    }
};

QTEST_GUILESS_MAIN(TestEngineBatching)
#include "tst_engine_batching.moc"
