// Tests for peregrine::Sampler: each stage of the chain is checked on a designed distribution through
// last_distribution(), and the draws themselves against softmax(logits / T) with a chi-square bound.
#include <QElapsedTimer>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "peregrine/error.h"
#include "peregrine/log.h"
#include "peregrine/sampling.h"

using peregrine::InvalidRequestError;
using peregrine::Sampler;
using peregrine::SamplingParams;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Only temperature and what the row sets are active: top-k, top-p, min-p and penalties off.
SamplingParams plain_params(float temperature, uint64_t seed = 42) {
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    return p;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
    double max_logit = -INFINITY;
    for (float l : logits) max_logit = std::max(max_logit, double(l));
    std::vector<double> p(logits.size());
    double sum = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp((double(logits[i]) - max_logit) / temperature);
    for (double& x : p) x /= sum;
    return p;
}

std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> logits;
    for (double p : probs) logits.push_back(float(std::log(p)));
    return logits;
}

std::set<int> support_of(const std::vector<float>& probs) {
    std::set<int> ids;
    for (size_t i = 0; i < probs.size(); ++i)
        if (probs[i] > 0.0f) ids.insert(int(i));
    return ids;
}

std::vector<float> random_logits(std::mt19937_64& rng, int n, float scale) {
    std::normal_distribution<float> normal(0.0f, scale);  // test data only: any library's values will do
    std::vector<float> logits(static_cast<size_t>(n));
    for (float& l : logits) l = normal(rng);
    return logits;
}

// A deterministic, step-dependent logit vector (no RNG), for sequence tests.
std::vector<float> synthetic_logits(int step, int n_vocab) {
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    for (int i = 0; i < n_vocab; ++i) logits[size_t(i)] = 2.0f * std::sin(0.37f * float(i) + 0.11f * float(step)) + 0.01f * float(i % 7);
    return logits;
}

void verify_distribution(const std::vector<float>& actual, const std::vector<double>& expected, double tolerance) {
    QCOMPARE(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
        if (std::abs(double(actual[i]) - expected[i]) > tolerance)
            QFAIL(qPrintable(QString("token %1: probability %2, expected %3").arg(i).arg(actual[i]).arg(expected[i])));
    }
}

void set_param(SamplingParams& p, const QString& name, double value) {
    if (name == "temperature") p.temperature = float(value);
    else if (name == "top_p") p.top_p = float(value);
    else if (name == "min_p") p.min_p = float(value);
    else if (name == "repeat_penalty") p.repeat_penalty = float(value);
    else if (name == "repeat_last_n") p.repeat_last_n = int(value);
    else if (name == "frequency_penalty") p.frequency_penalty = float(value);
    else if (name == "presence_penalty") p.presence_penalty = float(value);
    else if (name == "top_k") p.top_k = int(value);
    else QFAIL(qPrintable("unknown parameter in test table: " + name));
}

}  // namespace

using FloatList = std::vector<float>;
using IntList = std::vector<int>;
Q_DECLARE_METATYPE(FloatList)
Q_DECLARE_METATYPE(IntList)

class TestSampler : public QObject {
    Q_OBJECT

private slots:
    void greedyPicksArgmaxLowestIdOnTies_data();
    void greedyPicksArgmaxLowestIdOnTies();
    void topKOneEqualsGreedy_data();
    void topKOneEqualsGreedy();
    void topKKeepsExactlyKHighest();
    void seededSamplersReproduce();
    void osSeedIsReportedAndVaries();
    void drawsMatchSoftmax_data();
    void drawsMatchSoftmax();
    void topPKeepsMinimalNucleus_data();
    void topPKeepsMinimalNucleus();
    void topPOnLargeVocabSortsInChunks();
    void minPRemovesTokensBelowThreshold_data();
    void minPRemovesTokensBelowThreshold();
    void penaltiesChangeLogits_data();
    void penaltiesChangeLogits();
    void penaltiesAffectGreedyAndResetForgets();
    void nonFiniteLogits();
    void invalidParamsThrow_data();
    void invalidParamsThrow();
    void offValuesAreAccepted();
    void invalidCallsThrow();
    void largeVocabIsFast_data();
    void largeVocabIsFast();
};

void TestSampler::greedyPicksArgmaxLowestIdOnTies_data() {
    QTest::addColumn<FloatList>("logits");
    QTest::addColumn<int>("expected");
    QTest::newRow("single max") << FloatList{0.1f, 3.0f, -1.0f, 2.9f} << 1;
    QTest::newRow("tie picks lowest id") << FloatList{1.0f, 5.0f, 2.0f, 5.0f, 5.0f} << 1;
    QTest::newRow("tie at the end") << FloatList{-3.0f, -2.0f, -1.0f, -1.0f} << 2;
    QTest::newRow("masked max ignored") << FloatList{-kInf, -7.0f, -kInf, -7.5f} << 1;
    QTest::newRow("all negative") << FloatList{-9.0f, -8.0f, -8.5f} << 1;
}

void TestSampler::greedyPicksArgmaxLowestIdOnTies() {
    QFETCH(FloatList, logits);
    QFETCH(int, expected);
    SamplingParams p;  // the defaults for the other stages: greedy must ignore them
    p.temperature = 0.0f;
    Sampler sampler(p, int32_t(logits.size()));
    QCOMPARE(sampler.sample(logits), expected);
    std::vector<float> probs;
    sampler.last_distribution(probs);
    QCOMPARE(support_of(probs), std::set<int>{expected});
    QCOMPARE(probs[size_t(expected)], 1.0f);

    p.temperature = -1.0f;  // any value <= 0 is greedy
    Sampler negative(p, int32_t(logits.size()));
    QCOMPARE(negative.sample(logits), expected);
}

void TestSampler::topKOneEqualsGreedy_data() {
    QTest::addColumn<float>("temperature");
    QTest::newRow("T=0.1") << 0.1f;
    QTest::newRow("T=1") << 1.0f;
    QTest::newRow("T=5") << 5.0f;
    QTest::newRow("T=1000") << 1000.0f;
}

void TestSampler::topKOneEqualsGreedy() {
    QFETCH(float, temperature);
    std::mt19937_64 data_rng(7);
    SamplingParams p = plain_params(temperature, 99);
    p.top_k = 1;
    Sampler top1(p, 512);
    Sampler greedy(plain_params(0.0f), 512);
    for (int step = 0; step < 100; ++step) {
        std::vector<float> logits = random_logits(data_rng, 512, 2.0f);
        // Every other step, plant a tie for the max at two ids so the lowest-id rule is exercised.
        if (step % 2 == 0) {
            const float top = *std::max_element(logits.begin(), logits.end()) + 1.0f;
            logits[300] = top;
            logits[17 + step] = top;
        }
        QCOMPARE(top1.sample(logits), greedy.sample(logits));
    }
}

void TestSampler::topKKeepsExactlyKHighest() {
    // Ids 2 and 5 tie for third place: top-k = 3 keeps the lower id.
    const FloatList logits{0.5f, 4.0f, 2.0f, 3.0f, -1.0f, 2.0f, 1.0f};
    SamplingParams p = plain_params(1.0f);
    p.top_k = 3;
    Sampler sampler(p, int32_t(logits.size()));
    const int token = sampler.sample(logits);
    std::vector<float> probs;
    sampler.last_distribution(probs);
    QCOMPARE(support_of(probs), (std::set<int>{1, 2, 3}));
    QVERIFY(token == 1 || token == 2 || token == 3);
    // The survivors keep the softmax of their own logits.
    const std::vector<double> kept = softmax({4.0f, 2.0f, 3.0f}, 1.0);
    QVERIFY(std::abs(probs[1] - kept[0]) < 1e-6);
    QVERIFY(std::abs(probs[2] - kept[1]) < 1e-6);
    QVERIFY(std::abs(probs[3] - kept[2]) < 1e-6);
}

void TestSampler::seededSamplersReproduce() {
    const int n_vocab = 1000;
    SamplingParams p;  // defaults (top-k, top-p, min-p) plus penalties: the whole chain takes part
    p.repeat_penalty = 1.1f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.1f;
    p.temperature = 1.5f;  // flat enough that many tokens are possible at each step
    const auto run = [&](uint64_t seed, Sampler* reuse = nullptr) {
        p.seed = seed;
        Sampler local(p, n_vocab);
        Sampler& sampler = reuse ? *reuse : local;
        std::vector<int> tokens;
        for (int step = 0; step < 200; ++step) {
            const std::vector<float> logits = synthetic_logits(step, n_vocab);
            const std::vector<float> copy = logits;
            const int token = sampler.sample(logits);
            if (logits != copy) QTest::qFail("sample() modified its input", __FILE__, __LINE__);
            sampler.accept(token);
            tokens.push_back(token);
        }
        return tokens;
    };
    const std::vector<int> a = run(1234);
    const std::vector<int> b = run(1234);
    QCOMPARE(a, b);
    QVERIFY(std::set<int>(a.begin(), a.end()).size() > 20);  // really sampled, not a constant

    const std::vector<int> c = run(1235);
    QVERIFY(a != c);

    // reset() forgets history and replays the same seed.
    p.seed = 1234;
    Sampler sampler(p, n_vocab);
    QCOMPARE(sampler.seed(), uint64_t(1234));
    run(1234, &sampler);
    sampler.reset();
    QCOMPARE(run(1234, &sampler), a);
}

void TestSampler::osSeedIsReportedAndVaries() {
    SamplingParams p = plain_params(1.0f, peregrine::kSeedFromOs);
    Sampler a(p, 10);
    Sampler b(p, 10);
    QVERIFY(a.seed() != peregrine::kSeedFromOs);
    QVERIFY(a.seed() != b.seed());  // 2^-64 chance of a false failure
    // The reported seed reproduces the sampler.
    Sampler replay(plain_params(1.0f, a.seed()), 10);
    const FloatList logits{0.1f, 0.2f, 0.3f, 0.0f, -0.1f, 0.5f, 0.4f, 0.2f, 0.0f, 0.1f};
    for (int i = 0; i < 50; ++i) QCOMPARE(a.sample(logits), replay.sample(logits));
}

void TestSampler::drawsMatchSoftmax_data() {
    QTest::addColumn<float>("temperature");
    QTest::newRow("T=0.5") << 0.5f;
    QTest::newRow("T=1") << 1.0f;
    QTest::newRow("T=2") << 2.0f;
}

void TestSampler::drawsMatchSoftmax() {
    QFETCH(float, temperature);
    const FloatList logits{1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f, 2.2f, -0.5f, 0.8f, 1.2f};
    const std::vector<double> expected = softmax(logits, temperature);
    Sampler sampler(plain_params(temperature, 2024), int32_t(logits.size()));

    const int draws = 20000;
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < draws; ++i) ++counts[size_t(sampler.sample(logits))];

    std::vector<float> probs;
    sampler.last_distribution(probs);
    verify_distribution(probs, expected, 1e-6);

    // Pearson chi-square with 9 degrees of freedom; 27.88 is the 0.999 quantile. The seed is fixed, so
    // this cannot flake; a wrong temperature (e.g. T ignored) gives a statistic in the hundreds.
    double chi2 = 0.0;
    for (size_t i = 0; i < counts.size(); ++i) {
        const double e = expected[i] * draws;
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    QVERIFY2(chi2 < 27.88, qPrintable(QString("chi-square %1 >= 27.88").arg(chi2)));
}

void TestSampler::topPKeepsMinimalNucleus_data() {
    QTest::addColumn<float>("top_p");
    QTest::addColumn<IntList>("kept_ranks");
    // Ranked probabilities 0.4, 0.25, 0.15, 0.1, 0.06, 0.04; cumulative 0.4, 0.65, 0.8, 0.9, 0.96, 1.
    QTest::newRow("0.3 -> top token only") << 0.3f << IntList{0};
    QTest::newRow("0.39 -> top token only") << 0.39f << IntList{0};
    QTest::newRow("0.5 -> two") << 0.5f << IntList{0, 1};
    QTest::newRow("0.7 -> three") << 0.7f << IntList{0, 1, 2};
    QTest::newRow("0.85 -> four") << 0.85f << IntList{0, 1, 2, 3};
    QTest::newRow("0.99 -> all") << 0.99f << IntList{0, 1, 2, 3, 4, 5};
}

void TestSampler::topPKeepsMinimalNucleus() {
    QFETCH(float, top_p);
    QFETCH(IntList, kept_ranks);
    const std::vector<double> ranked{0.4, 0.25, 0.15, 0.1, 0.06, 0.04};
    // Rank r sits at id rank_to_id[r], so id order and rank order disagree.
    const IntList rank_to_id{3, 0, 5, 1, 4, 2};
    std::vector<double> probs_by_id(6);
    for (size_t r = 0; r < 6; ++r) probs_by_id[size_t(rank_to_id[r])] = ranked[r];

    SamplingParams p = plain_params(1.0f);
    p.top_p = top_p;
    Sampler sampler(p, 6);
    std::set<int> drawn;
    for (int i = 0; i < 300; ++i) drawn.insert(sampler.sample(logits_of(probs_by_id)));

    std::set<int> expected_support;
    double kept_mass = 0.0;
    for (int r : kept_ranks) {
        expected_support.insert(rank_to_id[size_t(r)]);
        kept_mass += ranked[size_t(r)];
    }
    std::vector<float> probs;
    sampler.last_distribution(probs);
    QCOMPARE(support_of(probs), expected_support);
    for (int id : expected_support) QVERIFY(std::abs(probs[size_t(id)] - probs_by_id[size_t(id)] / kept_mass) < 1e-6);
    QVERIFY(std::includes(expected_support.begin(), expected_support.end(), drawn.begin(), drawn.end()));
}

void TestSampler::topPOnLargeVocabSortsInChunks() {
    // 300 equally likely tokens scattered over a 150k vocabulary carry all but ~1e-8 of the mass.
    // top_p = 0.501 needs 151 of them (150 give 0.5); ties are ranked by id, so the 151 lowest ids
    // survive. 151 is past the first sorting chunk, so the growing partial sort is exercised.
    const int n_vocab = 150000;
    std::vector<float> logits(size_t(n_vocab), -30.0f);
    std::vector<int> heavy;
    for (int i = 0; i < 300; ++i) heavy.push_back((i * 7919 + 13) % n_vocab);
    for (int id : heavy) logits[size_t(id)] = 0.0f;
    std::sort(heavy.begin(), heavy.end());
    QCOMPARE(std::set<int>(heavy.begin(), heavy.end()).size(), size_t(300));

    SamplingParams p = plain_params(1.0f);
    p.top_p = 0.501f;
    Sampler sampler(p, n_vocab);
    sampler.sample(logits);
    std::vector<float> probs;
    sampler.last_distribution(probs);
    QCOMPARE(support_of(probs), std::set<int>(heavy.begin(), heavy.begin() + 151));
    QVERIFY(std::abs(probs[size_t(heavy[0])] - 1.0f / 151.0f) < 1e-6);
}

void TestSampler::minPRemovesTokensBelowThreshold_data() {
    QTest::addColumn<float>("min_p");
    QTest::addColumn<float>("top_p");
    QTest::addColumn<IntList>("kept");
    // Probabilities by id: 0.06, 0.5, 0.04, 0.1, 0.3 (max 0.5).
    QTest::newRow("0.1 -> >= 0.05") << 0.1f << 1.0f << IntList{0, 1, 3, 4};
    QTest::newRow("0.15 -> >= 0.075") << 0.15f << 1.0f << IntList{1, 3, 4};
    QTest::newRow("0.5 -> >= 0.25") << 0.5f << 1.0f << IntList{1, 4};
    QTest::newRow("1.0 -> max only") << 1.0f << 1.0f << IntList{1};
    QTest::newRow("0.01 -> all") << 0.01f << 1.0f << IntList{0, 1, 2, 3, 4};
    // With top-p too, the shorter of the two ranked prefixes wins.
    QTest::newRow("min-p shorter than top-p") << 0.5f << 0.95f << IntList{1, 4};
    QTest::newRow("top-p shorter than min-p") << 0.1f << 0.85f << IntList{1, 3, 4};
}

void TestSampler::minPRemovesTokensBelowThreshold() {
    QFETCH(float, min_p);
    QFETCH(float, top_p);
    QFETCH(IntList, kept);
    const std::vector<double> probs_by_id{0.06, 0.5, 0.04, 0.1, 0.3};
    SamplingParams p = plain_params(1.0f);
    p.min_p = min_p;
    p.top_p = top_p;
    Sampler sampler(p, 5);
    sampler.sample(logits_of(probs_by_id));
    std::vector<float> probs;
    sampler.last_distribution(probs);
    QCOMPARE(support_of(probs), std::set<int>(kept.begin(), kept.end()));
    double kept_mass = 0.0;
    for (int id : kept) kept_mass += probs_by_id[size_t(id)];
    for (int id : kept) QVERIFY(std::abs(probs[size_t(id)] - probs_by_id[size_t(id)] / kept_mass) < 1e-6);
}

void TestSampler::penaltiesChangeLogits_data() {
    QTest::addColumn<float>("repeat_penalty");
    QTest::addColumn<float>("frequency_penalty");
    QTest::addColumn<float>("presence_penalty");
    QTest::addColumn<int>("repeat_last_n");
    QTest::addColumn<IntList>("history");
    QTest::addColumn<FloatList>("expected_logits");
    // Raw logits 2, -1, 0.5, 3, -2, 1. History counts: id 0 once, id 1 twice, id 3 three times.
    const IntList history{0, 1, 1, 3, 3, 3};
    QTest::newRow("off") << 1.0f << 0.0f << 0.0f << 64 << history << FloatList{2, -1, 0.5f, 3, -2, 1};
    QTest::newRow("repeat: positive divided, negative multiplied")
        << 2.0f << 0.0f << 0.0f << 64 << history << FloatList{1, -2, 0.5f, 1.5f, -2, 1};
    QTest::newRow("repeat below 1 boosts") << 0.5f << 0.0f << 0.0f << 64 << history << FloatList{4, -0.5f, 0.5f, 6, -2, 1};
    QTest::newRow("frequency scales with count")
        << 1.0f << 0.5f << 0.0f << 64 << history << FloatList{1.5f, -2, 0.5f, 1.5f, -2, 1};
    QTest::newRow("presence once per token")
        << 1.0f << 0.0f << 0.25f << 64 << history << FloatList{1.75f, -1.25f, 0.5f, 2.75f, -2, 1};
    QTest::newRow("repeat then frequency and presence")
        << 2.0f << 0.5f << 0.25f << 64 << history << FloatList{0.25f, -3.25f, 0.5f, -0.25f, -2, 1};
    QTest::newRow("window of 3 after wrapping: only id 3 (x3)")
        << 1.0f << 0.5f << 0.0f << 3 << history << FloatList{2, -1, 0.5f, 1.5f, -2, 1};
    QTest::newRow("window of 3: ids 1 (x1) and 3 (x2)")
        << 1.0f << 0.5f << 0.0f << 3 << IntList{0, 1, 1, 3, 3} << FloatList{2, -1.5f, 0.5f, 2, -2, 1};
    QTest::newRow("window 0 turns penalties off") << 2.0f << 0.5f << 0.25f << 0 << history << FloatList{2, -1, 0.5f, 3, -2, 1};
}

void TestSampler::penaltiesChangeLogits() {
    QFETCH(float, repeat_penalty);
    QFETCH(float, frequency_penalty);
    QFETCH(float, presence_penalty);
    QFETCH(int, repeat_last_n);
    QFETCH(IntList, history);
    QFETCH(FloatList, expected_logits);
    const FloatList logits{2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.0f};
    SamplingParams p = plain_params(1.0f);
    p.repeat_penalty = repeat_penalty;
    p.frequency_penalty = frequency_penalty;
    p.presence_penalty = presence_penalty;
    p.repeat_last_n = repeat_last_n;
    Sampler sampler(p, 6);
    for (int token : history) sampler.accept(token);
    // Twice: penalties must not accumulate between calls or disturb the history.
    for (int round = 0; round < 2; ++round) {
        sampler.sample(logits);
        std::vector<float> probs;
        sampler.last_distribution(probs);
        verify_distribution(probs, softmax(expected_logits, 1.0), 1e-6);
    }
}

void TestSampler::penaltiesAffectGreedyAndResetForgets() {
    SamplingParams p = plain_params(0.0f);
    p.presence_penalty = 1.0f;
    Sampler sampler(p, 3);
    const FloatList logits{1.0f, 1.5f, 0.2f};
    QCOMPARE(sampler.sample(logits), 1);
    sampler.accept(1);
    QCOMPARE(sampler.sample(logits), 0);  // 1.5 - 1 = 0.5 < 1.0
    sampler.accept(0);
    QCOMPARE(sampler.sample(logits), 1);  // both penalised: 0.0 vs 0.5
    sampler.reset();
    QCOMPARE(sampler.sample(logits), 1);
    // Out-of-window history is dropped: window of 1 holds only the latest token.
    p.repeat_last_n = 1;
    Sampler short_window(p, 3);
    short_window.accept(1);
    short_window.accept(2);
    QCOMPARE(short_window.sample(logits), 1);
}

void TestSampler::nonFiniteLogits() {
    int nan_warnings = 0;
    peregrine::set_log_callback([&](peregrine::LogLevel level, std::string_view message) {
        if (level == peregrine::LogLevel::Warn && message.find("NaN") != std::string_view::npos) ++nan_warnings;
    });
    SamplingParams p = plain_params(1.0f, 5);
    Sampler sampler(p, 4);
    // NaN is never chosen, -inf never chosen.
    for (int i = 0; i < 200; ++i) {
        const int token = sampler.sample(FloatList{kNaN, 0.0f, -kInf, 0.0f});
        QVERIFY(token == 1 || token == 3);
    }
    peregrine::set_log_callback({});
    QCOMPARE(nan_warnings, 1);  // once per sampler, not once per call
    // +inf takes all the mass; two +inf share it.
    for (int i = 0; i < 50; ++i) QCOMPARE(sampler.sample(FloatList{5.0f, kInf, 1.0f, kNaN}), 1);
    std::vector<float> probs;
    sampler.last_distribution(probs);
    QCOMPARE(support_of(probs), std::set<int>{1});
    sampler.sample(FloatList{kInf, 1.0f, kInf, 0.0f});
    sampler.last_distribution(probs);
    QVERIFY(std::abs(probs[0] - 0.5f) < 1e-6 && std::abs(probs[2] - 0.5f) < 1e-6);
    // Penalties on +inf / huge logits stay finite and ordered.
    SamplingParams penalised = p;
    penalised.repeat_penalty = 1.3f;
    penalised.frequency_penalty = 2.0f;
    Sampler with_penalty(penalised, 3);
    with_penalty.accept(0);
    QCOMPARE(with_penalty.sample(FloatList{kInf, -3e38f, -kInf}), 0);

    // Nothing left: InvalidRequestError, greedy or not.
    for (float temperature : {1.0f, 0.0f}) {
        Sampler s(plain_params(temperature), 3);
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.sample(FloatList{-kInf, -kInf, -kInf}));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.sample(FloatList{kNaN, kNaN, kNaN}));
        QVERIFY_THROWS_EXCEPTION(InvalidRequestError, s.sample(FloatList{kNaN, -kInf, kNaN}));
        QCOMPARE(s.sample(FloatList{kNaN, -kInf, -100.0f}), 2);  // still usable afterwards
    }
}

void TestSampler::invalidParamsThrow_data() {
    QTest::addColumn<QString>("param");
    QTest::addColumn<double>("value");
    QTest::newRow("temperature NaN") << "temperature" << double(kNaN);
    QTest::newRow("temperature inf") << "temperature" << double(kInf);
    QTest::newRow("top_p 0") << "top_p" << 0.0;
    QTest::newRow("top_p negative") << "top_p" << -0.5;
    QTest::newRow("top_p NaN") << "top_p" << double(kNaN);
    QTest::newRow("min_p above 1") << "min_p" << 1.5;
    QTest::newRow("min_p NaN") << "min_p" << double(kNaN);
    QTest::newRow("repeat_penalty 0") << "repeat_penalty" << 0.0;
    QTest::newRow("repeat_penalty negative") << "repeat_penalty" << -1.0;
    QTest::newRow("repeat_penalty NaN") << "repeat_penalty" << double(kNaN);
    QTest::newRow("repeat_last_n negative") << "repeat_last_n" << -1.0;
    QTest::newRow("frequency_penalty NaN") << "frequency_penalty" << double(kNaN);
    QTest::newRow("presence_penalty -inf") << "presence_penalty" << double(-kInf);
}

void TestSampler::invalidParamsThrow() {
    QFETCH(QString, param);
    QFETCH(double, value);
    SamplingParams p;
    set_param(p, param, value);
    try {
        Sampler sampler(p, 10);
        QFAIL("no exception");
    } catch (const InvalidRequestError& e) {
        QVERIFY2(QString(e.what()).contains(param), e.what());
    }
    QVERIFY_THROWS_EXCEPTION(InvalidRequestError, peregrine::validate_sampling_params(p));
}

void TestSampler::offValuesAreAccepted() {
    // Values the API documents as "off" (or greedy) must construct and sample.
    const std::vector<std::pair<QString, double>> rows{
        {"temperature", -2.0}, {"top_k", -5}, {"top_p", 1.0}, {"top_p", 3.0}, {"min_p", 0.0},
        {"min_p", -1.0}, {"repeat_penalty", 1.0}, {"repeat_last_n", 0}};
    for (const auto& [name, value] : rows) {
        SamplingParams p;
        set_param(p, name, value);
        Sampler sampler(p, 4);
        const int token = sampler.sample(FloatList{0.0f, 1.0f, 0.5f, -1.0f});
        QVERIFY2(token >= 0 && token < 4, qPrintable(name));
    }
}

void TestSampler::invalidCallsThrow() {
    QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Sampler(SamplingParams{}, 0));
    QVERIFY_THROWS_EXCEPTION(InvalidRequestError, Sampler(SamplingParams{}, -3));
    Sampler sampler(SamplingParams{}, 4);
    QVERIFY_THROWS_EXCEPTION(InvalidRequestError, sampler.sample(FloatList{1.0f, 2.0f, 3.0f}));
    QVERIFY_THROWS_EXCEPTION(InvalidRequestError, sampler.sample(FloatList{}));
    QVERIFY_THROWS_EXCEPTION(InvalidRequestError, sampler.accept(4));
    QVERIFY_THROWS_EXCEPTION(InvalidRequestError, sampler.accept(-1));
    std::vector<float> probs;
    QVERIFY_THROWS_EXCEPTION(peregrine::Error, sampler.last_distribution(probs));
    sampler.sample(FloatList{1.0f, 2.0f, 3.0f, 4.0f});
    sampler.last_distribution(probs);
    QCOMPARE(probs.size(), size_t(4));
    sampler.reset();
    QVERIFY_THROWS_EXCEPTION(peregrine::Error, sampler.last_distribution(probs));
}

void TestSampler::largeVocabIsFast_data() {
    QTest::addColumn<float>("temperature");
    QTest::addColumn<int>("top_k");
    QTest::addColumn<float>("top_p");
    QTest::addColumn<float>("min_p");
    QTest::newRow("defaults") << 0.8f << 40 << 0.95f << 0.05f;
    QTest::newRow("no top-k: top-p over 150k") << 0.8f << 0 << 0.95f << 0.0f;
    QTest::newRow("no top-k, min-p") << 1.0f << 0 << 0.95f << 0.05f;
    QTest::newRow("full softmax only") << 1.0f << 0 << 1.0f << 0.0f;
    QTest::newRow("greedy") << 0.0f << 40 << 0.95f << 0.05f;
}

void TestSampler::largeVocabIsFast() {
    QFETCH(float, temperature);
    QFETCH(int, top_k);
    QFETCH(float, top_p);
    QFETCH(float, min_p);
    const int n_vocab = 151936;  // Qwen2's vocabulary
    std::mt19937_64 data_rng(3);
    const std::vector<float> logits = random_logits(data_rng, n_vocab, 3.0f);
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = 1.1f;
    p.seed = 11;
    Sampler sampler(p, n_vocab);
    for (int i = 0; i < 64; ++i) sampler.accept((i * 2311) % n_vocab);
    std::vector<qint64> times_ns;
    for (int i = 0; i < 11; ++i) {
        QElapsedTimer timer;
        timer.start();
        const int token = sampler.sample(logits);
        times_ns.push_back(timer.nsecsElapsed());
        QVERIFY(token >= 0 && token < n_vocab);
        sampler.accept(token);
    }
    // The median, so one preemption on a shared CI machine does not fail the test.
    std::sort(times_ns.begin(), times_ns.end());
    const double median_ms = double(times_ns[times_ns.size() / 2]) / 1e6;
    qInfo("sample() median %.2f ms, slowest %.2f ms", median_ms, double(times_ns.back()) / 1e6);
    QVERIFY2(median_ms < 50.0, qPrintable(QString("sample() took %1 ms (median)").arg(median_ms)));
}

QTEST_GUILESS_MAIN(TestSampler)
#include "tst_sampler.moc"
