// Greedy speculative decoding yields the tokens of plain greedy generation: every golden prompt of every
// model, with prompt lookup, lookahead and a draft model, K in {1, 4, 8} and adaptive K.
//
// Verified rows are summed in llama.cpp's multi-row order, which differs from the single-row order by
// ~1e-6 (f32) to ~1e-3 (f16, quantized activations). So a divergence is allowed only at a step where
// plain generation itself chose between two logits closer than kNearTie, and only after the golden
// stable prefix (the steps whose llama.cpp margin is at least the recommended threshold). Every such
// case is printed; the summary says how many runs were exactly equal.
#include <QtTest>

#include "spec_fixtures.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

constexpr double kNearTie = 2e-3;

struct Target {
    const char* golden;  // golden/generate/<name>.json
    const char* file;
    const char* draft;   // same vocabulary, used as the draft model
};
const Target kTargets[] = {
    {"stories260K-f32", "stories260K-f32.gguf", "stories260K-q4_0.gguf"},
    {"stories260K-f16", "stories260K-f16.gguf", "stories260K-q4_0.gguf"},
    {"stories260K-q8_0", "stories260K-q8_0.gguf", "stories260K-q4_0.gguf"},
    {"stories260K-q4_0", "stories260K-q4_0.gguf", "stories260K-q8_0.gguf"},
    {"stories260K-q4_k_m", "stories260K-q4_k_m.gguf", "stories260K-q4_0.gguf"},
    // The only model with this vocabulary: it drafts for itself (acceptance near 1, still every path).
    {"llama-2-tiny-random", "llama-2-tiny-random.gguf", "llama-2-tiny-random.gguf"},
};

struct Totals {
    int runs = 0, exact = 0, near_tie = 0;
    int64_t drafted = 0, accepted = 0, passes = 0, tokens = 0;
};

}  // namespace

class TestSpeculativeGreedy : public QObject {
    Q_OBJECT

private:
    std::map<std::string, std::vector<std::vector<int32_t>>> plain_;  // golden name -> per case tokens
    std::map<std::string, std::vector<PlainRun>> margins_;
    std::map<std::string, Totals> totals_;

    void prepare(const Target& t) {
        if (plain_.count(t.golden)) return;
        const LoadedModel& m = loaded(t.file);
        Context ctx(m.model, test_context());
        for (const GoldenCase& c : golden_cases(t.golden)) {
            const GenerationResult r = generate(ctx, *m.vocab, c.prompt, greedy_params(c.n_predict));
            plain_[t.golden].push_back(r.tokens);
            margins_[t.golden].push_back(plain_greedy(ctx, c.prompt, c.n_predict));
        }
    }

private slots:
    void greedy_equals_plain_data() {
        QTest::addColumn<int>("target");
        QTest::addColumn<QString>("source");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("adaptive");
        for (int t = 0; t < int(std::size(kTargets)); ++t) {
            for (const char* source : {"lookup", "lookahead", "draft"}) {
                for (int k : {1, 4, 8}) {
                    QTest::addRow("%s/%s/k%d", kTargets[t].golden, source, k) << t << QString(source) << k << false;
                }
                QTest::addRow("%s/%s/auto", kTargets[t].golden, source) << t << QString(source) << 8 << true;
            }
        }
    }

    void greedy_equals_plain() {
        QFETCH(int, target);
        QFETCH(QString, source);
        QFETCH(int, k);
        QFETCH(bool, adaptive);
        const Target& t = kTargets[target];
        prepare(t);
        const LoadedModel& m = loaded(t.file);
        std::unique_ptr<DraftSource> draft;
        if (source == "lookup") {
            draft = make_prompt_lookup_source();
        } else if (source == "lookahead") {
            draft = make_lookahead_source();
        } else {
            check_draft_vocabulary(*m.vocab, *loaded(t.draft).vocab);
            draft = make_draft_model_source(loaded(t.draft).model, {.n_ctx = 512, .n_threads = 1});
        }
        SpeculativeOptions opt;
        opt.draft = draft.get();
        opt.draft_k = k;
        opt.adaptive_k = adaptive;
        Context ctx(m.model, test_context());
        Totals& tot = totals_[std::string(t.golden) + "/" + source.toStdString()];
        const auto cases = golden_cases(t.golden);
        for (size_t i = 0; i < cases.size(); ++i) {
            const GoldenCase& c = cases[i];
            const SpeculativeResult r = generate_speculative(ctx, *m.vocab, c.prompt, greedy_params(c.n_predict), opt);
            const std::vector<int32_t>& expected = plain_[t.golden][i];
            QCOMPARE(ctx.sequence_length(0), 0);  // the sequence is gone, rejected rows and all
            ++tot.runs;
            tot.drafted += r.speculative.n_drafted;
            tot.accepted += r.speculative.n_accepted;
            tot.passes += r.speculative.n_forward_passes;
            tot.tokens += r.speculative.n_generated;
            QVERIFY(r.speculative.n_accepted <= r.speculative.n_drafted);
            if (r.generation.tokens == expected) {
                ++tot.exact;
                continue;
            }
            size_t at = 0;
            while (at < expected.size() && at < r.generation.tokens.size() && expected[at] == r.generation.tokens[at]) ++at;
            const double margin = margins_[t.golden][i].margins.at(at);
            qInfo("case %zu: diverges at step %zu of %zu; plain margin there %.2e; golden stable prefix %d", i, at,
                  expected.size(), margin, c.stable_len);
            ++tot.near_tie;
            QVERIFY2(margin < kNearTie, "diverged where plain generation had a clear winner");
            QVERIFY2(int(at) >= c.stable_len, "diverged inside the golden stable prefix");
        }
        if (source == "draft" || k == 8) {
            // A draft model that shares the target's weights (or a quantized copy) must be accepted often.
            if (source == "draft") QVERIFY(tot.accepted > 0);
        }
    }

    void cleanupTestCase() {
        for (const auto& [name, t] : totals_) {
            qInfo("%-32s %3d runs: %3d exact, %d diverge at a near-tie; acceptance %.2f; %.2f forward passes per "
                  "token",
                  name.c_str(), t.runs, t.exact, t.near_tie, t.drafted ? double(t.accepted) / double(t.drafted) : 0.0,
                  t.tokens ? double(t.passes) / double(t.tokens) : 0.0);
        }
    }
};

QTEST_GUILESS_MAIN(TestSpeculativeGreedy)
#include "tst_speculative_greedy.moc"
