// The scheduler on its own, with no model: a fake KV cache that counts blocks and a fake runner that
// "computes" rows by growing the fake sequences and answers every sampling row with a token derived
// from its position. The assertions are about decisions: token counts per step, chunked prefill,
// admission order, preemption, finishing, prefix hits.
#include <QtTest>

#include <algorithm>
#include <map>
#include <set>

#include "peregrine/error.h"
#include "peregrine/scheduler.h"

using namespace peregrine;

namespace {

// Blocks are counted per sequence (ceil(length / block_size)); no sharing. A prefix registered with
// cache_prefix() is "found" by reuse_prefix for any prompt that starts with it (whole blocks only).
class FakeKv : public KvBudget {
public:
    FakeKv(int block_size, int32_t n_blocks) : block_size_(block_size), n_blocks_(n_blocks) {}

    int32_t free_blocks() const override { return n_blocks_ - used_blocks(); }
    int32_t blocks_needed(int32_t seq, int32_t new_len) const override {
        const int32_t len = length(seq);
        return new_len <= len ? 0 : blocks_for(new_len) - blocks_for(len);
    }
    int32_t reuse_prefix(int32_t seq, std::span<const int32_t> tokens) override {
        if (lengths_.count(seq)) throw InvalidRequestError("reuse_prefix on a live sequence");
        size_t common = 0;
        while (common < cached_.size() && common < tokens.size() && cached_[common] == tokens[common]) ++common;
        const int32_t n = static_cast<int32_t>(std::min(common, tokens.size() - 1) / block_size_ * block_size_);
        if (n > 0) lengths_[seq] = n;
        return n;
    }
    void remove(int32_t seq) override { lengths_.erase(seq); }

    // The runner's side: the forward pass writes positions [pos, pos + n) of seq.
    void write(int32_t seq, int32_t pos, int32_t n) {
        QCOMPARE(pos, length(seq));  // chunks continue their sequence exactly
        QVERIFY2(blocks_needed(seq, pos + n) <= free_blocks(), "a step was scheduled beyond the free blocks");
        lengths_[seq] = pos + n;
    }
    void cache_prefix(std::vector<int32_t> tokens) { cached_ = std::move(tokens); }
    int32_t length(int32_t seq) const {
        const auto it = lengths_.find(seq);
        return it == lengths_.end() ? 0 : it->second;
    }
    int32_t used_blocks() const {
        int32_t n = 0;
        for (const auto& [seq, len] : lengths_) n += blocks_for(len);
        return n;
    }
    size_t n_sequences() const { return lengths_.size(); }

private:
    int32_t blocks_for(int32_t len) const { return (len + block_size_ - 1) / block_size_; }

    int block_size_;
    int32_t n_blocks_;
    std::map<int32_t, int32_t> lengths_;
    std::vector<int32_t> cached_;
};

// Token the fake model "samples" after computing position pos of a request: same position, same token.
int32_t fake_token(uint64_t id, int32_t pos) { return static_cast<int32_t>(1000 * id + pos); }

RunnerOutput fake_run(FakeKv& kv, const SchedulerOutput& out) {
    RunnerOutput ran;
    std::set<int32_t> seqs;
    for (const ScheduledChunk& c : out.chunks) {
        if (!seqs.insert(c.seq_id).second) qFatal("sequence %d scheduled twice in one step", c.seq_id);
        kv.write(c.seq_id, c.pos, static_cast<int32_t>(c.tokens.size()));
        if (c.sample) ran.sampled.push_back({c.request_id, fake_token(c.request_id, c.pos + int32_t(c.tokens.size()) - 1)});
    }
    return ran;
}

SchedulerConfig make_config(int max_sequences, int max_batch_tokens, int max_seq_len = 256,
                            SchedulingMode mode = SchedulingMode::Continuous) {
    SchedulerConfig c;
    c.max_sequences = max_sequences;
    c.max_batch_tokens = max_batch_tokens;
    c.max_seq_len = max_seq_len;
    c.mode = mode;
    return c;
}

SequenceRequest make_request(uint64_t id, int prompt_len, int max_new, int32_t first_token = 1) {
    SequenceRequest r;
    r.id = id;
    for (int i = 0; i < prompt_len; ++i) r.prompt.push_back(first_token + i);
    r.max_new_tokens = max_new;
    return r;
}

struct Step {
    SchedulerOutput out;
    std::vector<RequestProgress> progress;
};

Step run_step(Scheduler& s, FakeKv& kv) {
    Step st;
    st.out = s.schedule();
    st.progress = s.update(st.out, fake_run(kv, st.out));
    return st;
}

// Steps until nothing is left; returns every request's generated tokens and finish reason.
struct Finished {
    std::vector<int32_t> tokens;
    StopReason reason = StopReason::Length;
    int preemptions = 0;
    int cached = 0;
};
std::map<uint64_t, Finished> run_to_end(Scheduler& s, FakeKv& kv, int max_steps = 10000,
                                        std::vector<uint64_t>* first_scheduled = nullptr) {
    std::map<uint64_t, Finished> done;
    for (int i = 0; i < max_steps && s.has_work(); ++i) {
        const Step st = run_step(s, kv);
        if (first_scheduled) {
            for (const auto& c : st.out.chunks) {
                if (std::find(first_scheduled->begin(), first_scheduled->end(), c.request_id) == first_scheduled->end()) {
                    first_scheduled->push_back(c.request_id);
                }
            }
        }
        for (const RequestProgress& p : st.progress) {
            Finished& f = done[p.request_id];
            f.tokens.insert(f.tokens.end(), p.new_tokens.begin(), p.new_tokens.end());
            if (p.finished) {
                f.reason = p.stop_reason;
                f.preemptions = p.n_preemptions;
                f.cached = p.n_cached_prompt_tokens;
            }
        }
    }
    if (s.has_work()) qFatal("the scheduler did not finish within %d steps", max_steps);
    return done;
}

// What a request generates when nothing else runs: token after position p is fake_token(id, p).
std::vector<int32_t> expected_tokens(uint64_t id, int prompt_len, int max_new) {
    std::vector<int32_t> t;
    for (int i = 0; i < max_new; ++i) t.push_back(fake_token(id, prompt_len - 1 + i));
    return t;
}

}  // namespace

class TestScheduler : public QObject {
    Q_OBJECT

private slots:
    void prompt_is_chunked_under_the_token_budget() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(4, 8), kv);
        s.add(make_request(1, 20, 3));
        Step st = run_step(s, kv);
        QCOMPARE(st.out.chunks.size(), size_t(1));
        QCOMPARE(st.out.chunks[0].pos, 0);
        QCOMPARE(st.out.chunks[0].tokens.size(), size_t(8));
        QVERIFY(!st.out.chunks[0].sample);
        QVERIFY(st.progress.empty());
        st = run_step(s, kv);
        QCOMPARE(st.out.chunks[0].pos, 8);
        QCOMPARE(st.out.chunks[0].tokens.size(), size_t(8));
        st = run_step(s, kv);
        QCOMPARE(st.out.chunks[0].pos, 16);
        QCOMPARE(st.out.chunks[0].tokens.size(), size_t(4));
        QVERIFY(st.out.chunks[0].sample);  // the last prompt row gives the first token
        QCOMPARE(st.progress.size(), size_t(1));
        QCOMPARE(st.progress[0].new_tokens, std::vector<int32_t>{fake_token(1, 19)});
        // Then one row per step: the token sampled last.
        st = run_step(s, kv);
        QCOMPARE(st.out.chunks[0].pos, 20);
        QCOMPARE(st.out.chunks[0].tokens, std::vector<int32_t>{fake_token(1, 19)});
        QCOMPARE(st.out.n_rows(), 1);
    }

    void decodes_come_before_prompts_and_share_the_step() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(4, 8), kv);
        s.add(make_request(1, 3, 10));
        run_step(s, kv);  // request 1's prompt
        s.add(make_request(2, 30, 2));
        const Step st = run_step(s, kv);
        QCOMPARE(st.out.chunks.size(), size_t(2));
        QCOMPARE(st.out.chunks[0].request_id, uint64_t(1));
        QCOMPARE(st.out.chunks[0].tokens.size(), size_t(1));   // decode row first
        QCOMPARE(st.out.chunks[1].request_id, uint64_t(2));
        QCOMPARE(st.out.chunks[1].tokens.size(), size_t(7));   // the rest of the budget
        QCOMPARE(st.out.n_rows(), 8);
    }

    void finished_sequence_frees_its_blocks_and_its_slot_is_refilled_next_step() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(2, 64), kv);
        s.add(make_request(1, 4, 1));
        s.add(make_request(2, 4, 5));
        s.add(make_request(3, 4, 5));
        Step st = run_step(s, kv);
        QCOMPARE(st.out.chunks.size(), size_t(2));  // two slots
        QCOMPARE(s.n_waiting(), 1);
        // Request 1 wanted one token: it got it from its prompt and is gone, blocks included.
        QCOMPARE(st.progress[0].request_id, uint64_t(1));
        QVERIFY(st.progress[0].finished);
        QCOMPARE(st.progress[0].stop_reason, StopReason::Length);
        QVERIFY(!s.contains(1));
        QCOMPARE(kv.n_sequences(), size_t(1));
        st = run_step(s, kv);
        QCOMPARE(st.out.chunks.size(), size_t(2));
        QCOMPARE(st.out.chunks[1].request_id, uint64_t(3));  // joined at the very next step
        run_to_end(s, kv);
        QCOMPARE(kv.used_blocks(), 0);
    }

    void static_batching_waits_for_the_longest_member() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(2, 64, 256, SchedulingMode::Static), kv);
        s.add(make_request(1, 4, 1));
        s.add(make_request(2, 4, 6));
        s.add(make_request(3, 4, 2));
        run_step(s, kv);
        QVERIFY(!s.contains(1));
        // Request 3 waits although a slot is free, until request 2 is done.
        for (int i = 0; i < 5; ++i) {
            const Step st = run_step(s, kv);
            QCOMPARE(st.out.chunks.size(), size_t(1));
            QCOMPARE(st.out.chunks[0].request_id, uint64_t(2));
        }
        QVERIFY(!s.contains(2));
        const Step st = run_step(s, kv);
        QCOMPARE(st.out.chunks[0].request_id, uint64_t(3));
    }

    void stop_token_finishes_without_keeping_it() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(2, 64), kv);
        SequenceRequest r = make_request(1, 4, 10);
        r.stop_tokens = {fake_token(1, 5)};  // the token after position 5: the third generated
        s.add(r);
        const auto done = run_to_end(s, kv);
        QCOMPARE(done.at(1).reason, StopReason::EndOfGeneration);
        QCOMPARE(done.at(1).tokens, (std::vector<int32_t>{fake_token(1, 3), fake_token(1, 4)}));
        QCOMPARE(kv.used_blocks(), 0);
    }

    void context_end_finishes_the_request() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(2, 64, /*max_seq_len=*/10), kv);
        s.add(make_request(1, 6, -1));
        const auto done = run_to_end(s, kv);
        QCOMPARE(done.at(1).reason, StopReason::ContextFull);
        QCOMPARE(done.at(1).tokens.size(), size_t(4));  // 6 + 4 = 10 tokens: the context is full
    }

    void preemption_frees_the_newest_and_recomputes_it_later() {
        // 12 blocks of 4 positions; three requests of 8 + 12 tokens need 5 blocks each at the end.
        FakeKv kv(4, 12);
        Scheduler s(make_config(3, 64), kv);
        for (uint64_t id = 1; id <= 3; ++id) s.add(make_request(id, 8, 12, 10 * int32_t(id)));
        std::vector<uint64_t> order;
        const auto done = run_to_end(s, kv, 10000, &order);
        QVERIFY(s.n_preemptions() > 0);
        QCOMPARE(done.at(1).preemptions, 0);  // the oldest is never the victim
        QVERIFY(done.at(3).preemptions > 0);  // the newest is
        for (uint64_t id = 1; id <= 3; ++id) {
            QCOMPARE(done.at(id).reason, StopReason::Length);
            QCOMPARE(done.at(id).tokens, expected_tokens(id, 8, 12));  // recomputation changes nothing
        }
        QCOMPARE(order, (std::vector<uint64_t>{1, 2, 3}));
        QCOMPARE(kv.used_blocks(), 0);
    }

    void preempted_request_keeps_its_place_in_the_queue() {
        FakeKv kv(4, 8);
        Scheduler s(make_config(2, 64), kv);
        s.add(make_request(1, 8, 10));
        s.add(make_request(2, 8, 10));
        run_step(s, kv);              // both prompts: 4 blocks
        s.add(make_request(3, 4, 2));  // arrives while both run
        bool preempted_2 = false;
        for (int i = 0; i < 20 && !preempted_2; ++i) {
            const Step st = run_step(s, kv);
            preempted_2 = std::find(st.out.preempted.begin(), st.out.preempted.end(), 2u) != st.out.preempted.end();
        }
        QVERIFY(preempted_2);
        QVERIFY(s.contains(3));
        // Request 2 (older) goes back ahead of request 3: the next admission is 2's recomputation.
        uint64_t next_admitted = 0;
        for (int i = 0; i < 100 && next_admitted == 0 && s.has_work(); ++i) {
            const Step st = run_step(s, kv);
            for (const ScheduledChunk& c : st.out.chunks) {
                if (c.pos == 0 && next_admitted == 0) next_admitted = c.request_id;
            }
        }
        QCOMPARE(next_admitted, uint64_t(2));
        const auto done = run_to_end(s, kv);
        QCOMPARE(done.at(3).reason, StopReason::Length);
        QCOMPARE(kv.used_blocks(), 0);
    }

    void request_that_cannot_fit_alone_finishes_instead_of_looping() {
        FakeKv kv(4, 3);  // 12 positions in the whole pool
        Scheduler s(make_config(2, 64), kv);
        s.add(make_request(1, 8, 20));
        const auto done = run_to_end(s, kv, 100);
        QCOMPARE(done.at(1).reason, StopReason::ContextFull);
        QCOMPARE(done.at(1).tokens.size(), size_t(5));  // positions 8..11 were computed: 4 + 1 sampled
        QCOMPARE(kv.used_blocks(), 0);
    }

    void many_requests_through_a_small_pool_all_finish_in_order() {
        FakeKv kv(4, 10);
        Scheduler s(make_config(4, 16), kv);
        std::map<uint64_t, int> lengths;
        for (uint64_t id = 1; id <= 20; ++id) {
            const int prompt = 2 + int(id * 7 % 11);
            const int max_new = 1 + int(id * 5 % 9);
            lengths[id] = prompt * 100 + max_new;
            s.add(make_request(id, prompt, max_new, int32_t(id)));
        }
        std::vector<uint64_t> order;
        const auto done = run_to_end(s, kv, 10000, &order);
        QCOMPARE(done.size(), size_t(20));
        for (const auto& [id, code] : lengths) {
            QCOMPARE(done.at(id).tokens, expected_tokens(id, code / 100, code % 100));
        }
        std::vector<uint64_t> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        QCOMPARE(order, sorted);  // first admitted in arrival order: first come, first served
        QCOMPARE(kv.used_blocks(), 0);
    }

    void finish_cancels_and_frees_at_once() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(2, 64), kv);
        s.add(make_request(1, 10, 50));
        s.add(make_request(2, 10, 50));
        run_step(s, kv);
        QCOMPARE(kv.n_sequences(), size_t(2));
        const RequestProgress p = s.finish(1, StopReason::Cancelled);
        QVERIFY(p.finished);
        QCOMPARE(p.stop_reason, StopReason::Cancelled);
        QCOMPARE(p.n_generated, 1);
        QCOMPARE(kv.n_sequences(), size_t(1));
        QVERIFY(!s.finish(1, StopReason::Cancelled).finished);  // unknown now
        s.add(make_request(3, 4, 1));
        s.finish(3, StopReason::Cancelled);                     // cancelled while waiting
        QCOMPARE(s.n_waiting(), 0);
    }

    void prefix_hit_skips_the_cached_rows() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(2, 64), kv);
        SequenceRequest r = make_request(1, 18, 2);
        kv.cache_prefix(std::vector<int32_t>(r.prompt.begin(), r.prompt.begin() + 14));
        s.add(r);
        const Step st = run_step(s, kv);
        QCOMPARE(st.out.chunks[0].pos, 12);  // three whole blocks came from the cache
        QCOMPARE(st.out.chunks[0].tokens.size(), size_t(6));
        const auto done = run_to_end(s, kv);
        QCOMPARE(done.at(1).cached, 12);
    }

    void parallel_sample_waits_for_its_source_prompt() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(4, 8), kv);
        s.add(make_request(1, 20, 2));
        SequenceRequest twin = make_request(2, 20, 2);
        twin.prefix_source = 1;
        s.add(twin);
        for (int i = 0; i < 2; ++i) {
            const Step st = run_step(s, kv);
            QCOMPARE(st.out.chunks.size(), size_t(1));  // budget left, but the twin waits
            QCOMPARE(st.out.chunks[0].request_id, uint64_t(1));
        }
        const Step st = run_step(s, kv);  // source's last chunk; the twin may start in the same step
        QCOMPARE(st.out.chunks[0].request_id, uint64_t(1));
        QVERIFY(st.out.chunks[0].sample);
        QVERIFY(s.contains(2));
        run_to_end(s, kv);
    }

    // A runner that appends forced tokens after the sampled one (a grammar's only continuation): they
    // join the request's tokens at once and are computed as extra rows of its next step; each is checked
    // against the stop rules in order, and `end` finishes the request after the last one.
    void forced_tokens_become_rows_of_the_next_step() {
        FakeKv kv(16, 64);
        Scheduler s(make_config(4, 64), kv);
        SequenceRequest a = make_request(1, 5, 100);
        a.stop_tokens = {777};
        s.add(a);
        s.add(make_request(2, 5, 4));  // max_new_tokens 4: cut inside a forced run
        s.add(make_request(3, 5, 100));
        SchedulerOutput out = s.schedule();
        QCOMPARE(out.n_rows(), 15);
        for (const auto& c : out.chunks) kv.write(c.seq_id, c.pos, int32_t(c.tokens.size()));
        RunnerOutput ran;
        ran.sampled.push_back({1, 10, {11, 12}});
        ran.sampled.push_back({2, 20, {21, 22, 23, 24, 25}});
        ran.sampled.push_back({3, 30, {31}, /*end=*/true});
        std::vector<RequestProgress> p = s.update(out, ran);
        QCOMPARE(p.size(), size_t(3));
        QCOMPARE(p[0].new_tokens, std::vector<int32_t>({10, 11, 12}));
        QVERIFY(!p[0].finished);
        QCOMPARE(p[0].n_generated, 3);
        QCOMPARE(p[1].new_tokens, std::vector<int32_t>({20, 21, 22, 23}));
        QVERIFY(p[1].finished);
        QCOMPARE(p[1].stop_reason, StopReason::Length);
        QCOMPARE(p[2].new_tokens, std::vector<int32_t>({30, 31}));
        QVERIFY(p[2].finished);
        QCOMPARE(p[2].stop_reason, StopReason::EndOfGeneration);
        QCOMPARE(kv.n_sequences(), size_t(1));  // 2 and 3 freed their blocks

        out = s.schedule();  // request 1 computes its three new tokens in one chunk
        QCOMPARE(out.chunks.size(), size_t(1));
        QCOMPARE(out.chunks[0].pos, 5);
        QCOMPARE(out.chunks[0].tokens, std::vector<int32_t>({10, 11, 12}));
        QVERIFY(out.chunks[0].sample);
        for (const auto& c : out.chunks) kv.write(c.seq_id, c.pos, int32_t(c.tokens.size()));
        ran.sampled = {{1, 13, {777, 14}}};  // a stop token inside the forced run ends it there
        p = s.update(out, ran);
        QCOMPARE(p[0].new_tokens, std::vector<int32_t>({13}));
        QVERIFY(p[0].finished);
        QCOMPARE(p[0].stop_reason, StopReason::EndOfGeneration);
        QVERIFY(!s.has_work());
        QCOMPARE(kv.n_sequences(), size_t(0));
    }

    void bad_requests_are_refused() {
        FakeKv kv(4, 64);
        Scheduler s(make_config(2, 64, 16), kv);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.add(make_request(1, 0, 4)));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.add(make_request(1, 16, 4)));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.add(make_request(1, 4, 0)));
        SequenceRequest negative = make_request(1, 4, 4);
        negative.prompt[2] = -5;
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.add(negative));
        s.add(make_request(1, 4, 4));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.add(make_request(1, 4, 4)));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Scheduler(make_config(0, 64), kv));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Scheduler(make_config(2, 0), kv));
    }
};

QTEST_GUILESS_MAIN(TestScheduler)
#include "tst_scheduler.moc"
