// Sampling with speculation has the target's distribution. On the trained tiny model, tokens at several
// steps of many seeded generations with a draft model (rejection sampling with a real q) and with prompt
// lookup (one-hot q) are compared with plain generation: a two-sample chi-square test per step at
// significance 0.001 (Bonferroni-corrected over the steps). Seeds are fixed, so the test is
// deterministic. The same test must tell apart two different temperatures (so it has the power to see
// a wrong distribution), and a source that skips the rejection step must fail it.
#include <QtTest>

#include <cmath>

#include "spec_fixtures.h"

using namespace peregrine;
using namespace peregrine::test;

namespace {

constexpr int kDraws = 3000;
constexpr int kSteps = 4;          // tokens recorded per generation: step 0 comes from the prompt, the rest
                                   // from verification passes
constexpr double kAlpha = 0.001;

// Upper alpha-quantile of chi-square(df), Wilson-Hilferty approximation (good to ~1% for df >= 3).
double chi_square_critical(int df, double alpha) {
    // z for the upper tail, by bisection on the normal tail erfc(z / sqrt 2) / 2.
    double lo = 0, hi = 10;
    for (int i = 0; i < 100; ++i) {
        const double mid = (lo + hi) / 2;
        (0.5 * std::erfc(mid / std::sqrt(2.0)) > alpha ? lo : hi) = mid;
    }
    const double z = lo, k = df;
    return k * std::pow(1 - 2 / (9 * k) + z * std::sqrt(2 / (9 * k)), 3);
}

// Two samples of equal size; bins with fewer than 10 draws in both together are pooled into one.
struct ChiSquare {
    double statistic = 0;
    int df = 0;
    double critical = 0;
    bool rejects() const { return statistic > critical; }
};
ChiSquare two_sample(const std::map<int32_t, int>& a, const std::map<int32_t, int>& b, double alpha) {
    std::map<int32_t, std::pair<int, int>> bins;
    for (const auto& [t, n] : a) bins[t].first += n;
    for (const auto& [t, n] : b) bins[t].second += n;
    ChiSquare c;
    std::pair<int, int> pooled{0, 0};
    int used = 0;
    for (const auto& [t, n] : bins) {
        if (n.first + n.second < 10) {
            pooled.first += n.first;
            pooled.second += n.second;
            continue;
        }
        c.statistic += std::pow(n.first - n.second, 2) / (n.first + n.second);
        ++used;
    }
    if (pooled.first + pooled.second > 0) {
        c.statistic += std::pow(pooled.first - pooled.second, 2) / (pooled.first + pooled.second);
        ++used;
    }
    c.df = std::max(1, used - 1);
    c.critical = chi_square_critical(c.df, alpha);
    return c;
}

// A broken draft: it samples at temperature 0.5 and reports a near-zero q for each guess, so the
// verifier keeps nearly every guess and the output follows the draft's sharper distribution.
class NoRejectionSource final : public DraftSource {
public:
    explicit NoRejectionSource(std::unique_ptr<DraftSource> inner) : inner_(std::move(inner)) {}
    std::string_view name() const override { return "no-rejection"; }
    void begin(const DraftRequest& r) override {
        DraftRequest sharper = r;
        sharper.sampling.temperature = 0.5f;
        inner_->begin(sharper);
    }
    void end() override { inner_->end(); }
    void propose(std::span<const int32_t> h, int k, Draft& out) override {
        inner_->propose(h, k, out);
        const size_t n_vocab = out.probs.size() / std::max<size_t>(1, out.tokens.size());
        std::fill(out.probs.begin(), out.probs.end(), 0.0f);
        for (size_t i = 0; i < out.tokens.size(); ++i) out.probs[i * n_vocab + size_t(out.tokens[i])] = 1e-9f;
    }

private:
    std::unique_ptr<DraftSource> inner_;
};

using Counts = std::array<std::map<int32_t, int>, kSteps>;

}  // namespace

class TestSpeculativeDistribution : public QObject {
    Q_OBJECT

private:
    const LoadedModel& target_ = loaded("stories260K-f32.gguf");

    Counts sample(const std::vector<int32_t>& prompt, SamplingParams sp, DraftSource* source, int k, uint64_t seed0) {
        Counts counts;
        Context ctx(target_.model, test_context(128));
        GenerationParams p;
        p.n_predict = kSteps;
        p.stop_at_eog = false;
        SpeculativeOptions opt;
        opt.draft = source;
        opt.draft_k = source ? k : 0;
        for (int i = 0; i < kDraws; ++i) {
            sp.seed = seed0 + uint64_t(i);
            p.sampling = sp;
            const SpeculativeResult r = generate_speculative(ctx, *target_.vocab, prompt, p, opt);
            for (int s = 0; s < kSteps; ++s) ++counts[size_t(s)][r.generation.tokens.at(size_t(s))];
        }
        return counts;
    }

    // Largest statistic / critical ratio over the steps (< 1: no step rejects equality).
    static double worst_ratio(const Counts& a, const Counts& b, const char* what) {
        double worst = 0;
        for (int s = 0; s < kSteps; ++s) {
            const ChiSquare c = two_sample(a[size_t(s)], b[size_t(s)], kAlpha / kSteps);
            qInfo("%s step %d: chi2 %.1f, df %d, critical %.1f", what, s, c.statistic, c.df, c.critical);
            worst = std::max(worst, c.statistic / c.critical);
        }
        return worst;
    }

    static SamplingParams full_distribution(float temperature) {
        SamplingParams sp;
        sp.temperature = temperature;
        sp.top_k = 0;
        sp.top_p = 1.0f;
        sp.min_p = 0.0f;
        return sp;
    }

private slots:
    void draft_model_sampling_matches_target_data() {
        QTest::addColumn<bool>("truncated");
        QTest::newRow("full distribution, T=1") << false;
        QTest::newRow("top-k 40, top-p 0.95, min-p 0.05, T=0.8") << true;
    }
    void draft_model_sampling_matches_target() {
        QFETCH(bool, truncated);
        const SamplingParams sp = truncated ? SamplingParams{} : full_distribution(1.0f);
        const auto prompt = target_.tokenize_prompt("Once upon a time, there was a");
        auto draft = make_draft_model_source(loaded("stories260K-q4_0.gguf").model, {.n_ctx = 128, .n_threads = 1});
        const Counts plain = sample(prompt, sp, nullptr, 0, 1000);
        const Counts spec = sample(prompt, sp, draft.get(), 3, 500000);
        QVERIFY(worst_ratio(plain, spec, "draft") < 1.0);
    }

    void prompt_lookup_sampling_matches_target() {
        // A prompt whose words come back, so lookup proposes at most steps.
        const auto prompt = target_.tokenize_prompt("Lily and Ben went to the park. Lily and Ben went to the");
        auto lookup = make_prompt_lookup_source();
        const Counts plain = sample(prompt, full_distribution(1.0f), nullptr, 0, 2000);
        const Counts spec = sample(prompt, full_distribution(1.0f), lookup.get(), 4, 600000);
        QVERIFY(worst_ratio(plain, spec, "lookup") < 1.0);
    }

    void test_detects_a_different_distribution() {
        const auto prompt = target_.tokenize_prompt("Once upon a time, there was a");
        const Counts t1 = sample(prompt, full_distribution(1.0f), nullptr, 0, 3000);
        const Counts t08 = sample(prompt, full_distribution(0.8f), nullptr, 0, 700000);
        QVERIFY(worst_ratio(t1, t08, "T=1 vs T=0.8") > 1.0);
        // Skipping the rejection step is caught too.
        auto draft = make_draft_model_source(loaded("stories260K-q4_0.gguf").model, {.n_ctx = 128, .n_threads = 1});
        NoRejectionSource broken(std::move(draft));
        const Counts wrong = sample(prompt, full_distribution(1.0f), &broken, 3, 800000);
        QVERIFY(worst_ratio(t1, wrong, "no rejection") > 1.0);
    }
};

QTEST_GUILESS_MAIN(TestSpeculativeDistribution)
#include "tst_speculative_distribution.moc"
