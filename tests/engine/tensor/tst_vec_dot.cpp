// vec_dot for every weight type against its activation type: the result must equal, to float rounding,
// the double-precision dot product of the dequantized weight row and the dequantized activation row.
// Any unpacking, scale or min mistake shows up as an O(1) relative error; the tolerance is 1e-6 of
// sum |w_i x_i| (observed float accumulation error: at most 6e-8), far below quantization noise.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/vec_dot.h"
#include "peregrine/tensor_type.h"

using namespace peregrine;
using namespace peregrine::kernels::cpu;

namespace {

constexpr double kRelativeTolerance = 1e-6;

std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale) {
    std::normal_distribution<float> normal(0.f, scale);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng);
    return x;
}

// A weight row of `type`: quantized Gaussian values, with a positive offset so the minimum of the affine
// types matters.
std::vector<uint8_t> random_weight_row(TensorType type, int64_t n, std::mt19937& rng) {
    std::vector<uint8_t> row(tensor_row_size(type, n));
    std::vector<float> w = random_floats(n, rng, 0.05f);
    for (auto& v : w) v += 0.02f;
    quantize_row_reference(type, w.data(), row.data(), n);
    return row;
}

// Reference value in double. For Q8_1 activations the product is defined with the block's stored
// s = fp16(d * sum q) (that is how ggml folds in the weights' minimum), so the minimum's share uses s.
double reference_dot(TensorType wtype, const std::vector<uint8_t>& w, const std::vector<uint8_t>& x, int64_t n,
                     double* magnitude) {
    const TensorType xtype = vec_dot_type(wtype);
    std::vector<float> wf(static_cast<size_t>(n)), xf(static_cast<size_t>(n));
    dequantize_row(wtype, w.data(), wf.data(), n);
    dequantize_row(xtype, x.data(), xf.data(), n);
    double sum = 0, mag = 0;
    if (xtype == TensorType::Q8_1) {
        const auto* xb = reinterpret_cast<const BlockQ8_1*>(x.data());
        for (int64_t b = 0; b < n / 32; ++b) {
            // Q4_1 and Q5_1 both store d then m as the first two fp16 fields.
            fp16_t m_bits;
            std::memcpy(&m_bits, w.data() + b * tensor_type_traits(wtype).type_size + 2, sizeof(m_bits));
            const double m = fp16_to_fp32(m_bits);
            for (int64_t i = 32 * b; i < 32 * b + 32; ++i) {
                sum += (double(wf[i]) - m) * xf[i];
                mag += std::fabs(double(wf[i]) * xf[i]);
            }
            sum += m * fp16_to_fp32(xb[b].s);
            mag += std::fabs(m * fp16_to_fp32(xb[b].s));
        }
    } else {
        for (int64_t i = 0; i < n; ++i) {
            sum += double(wf[i]) * xf[i];
            mag += std::fabs(double(wf[i]) * xf[i]);
        }
    }
    *magnitude = mag;
    return sum;
}

}  // namespace

class TestVecDot : public QObject {
    Q_OBJECT

private slots:
    void matchesDoublePrecisionDot_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<qint64>("n");
        const TensorType floats[] = {TensorType::F32, TensorType::F16, TensorType::BF16};
        const TensorType blocks32[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                       TensorType::Q8_0, TensorType::IQ4_NL};
        const TensorType blocks256[] = {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                                        TensorType::Q6_K, TensorType::IQ4_XS};
        const auto add = [](TensorType t, std::initializer_list<qint64> lengths) {
            for (qint64 n : lengths) {
                const std::string name = std::string(tensor_type_name(t)) + " n=" + std::to_string(n);
                QTest::newRow(name.c_str()) << static_cast<int>(t) << n;
            }
        };
        for (TensorType t : floats) add(t, {1, 3, 17, 64, 4096, 4097});
        for (TensorType t : blocks32) add(t, {32, 96, 512, 4096, 4128});
        for (TensorType t : blocks256) add(t, {256, 512, 4096, 11008});
    }

    void matchesDoublePrecisionDot() {
        QFETCH(int, type);
        QFETCH(qint64, n);
        const auto wtype = static_cast<TensorType>(type);
        const TensorType xtype = vec_dot_type(wtype);
        std::mt19937 rng(static_cast<uint32_t>(type * 7919 + n));
        double worst = 0;
        for (int trial = 0; trial < 4; ++trial) {
            const std::vector<uint8_t> w = random_weight_row(wtype, n, rng);
            const std::vector<float> xf = random_floats(n, rng, trial == 3 ? 30.f : 1.f);
            std::vector<uint8_t> x(tensor_row_size(xtype, n));
            quantize_row(xtype, xf.data(), x.data(), n);

            double magnitude = 0;
            const double want = reference_dot(wtype, w, x, n, &magnitude);
            const float got = vec_dot(wtype, n, w.data(), x.data());
            QVERIFY(magnitude > 0);
            const double rel = std::fabs(double(got) - want) / magnitude;
            worst = std::max(worst, rel);
            QVERIFY2(rel <= kRelativeTolerance,
                     qPrintable(QString("trial %1: got %2, want %3 (error %4 of sum|wx| = %5)")
                                    .arg(trial).arg(got, 0, 'g', 9).arg(want, 0, 'g', 12).arg(rel).arg(magnitude)));
        }
        qInfo("worst relative error %.3g", worst);
    }

    // With real (unquantized) activations the quantized dot product tracks the float dot product of the
    // original rows: the error is the quantization noise of both rows, bounded per type family.
    void tracksFloatDotOfOriginalRows_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<double>("bound");  // |vec_dot - exact| / (|w|_2 |x|_2)
        QTest::newRow("f32") << int(TensorType::F32) << 1e-6;
        QTest::newRow("f16") << int(TensorType::F16) << 1e-3;
        QTest::newRow("bf16") << int(TensorType::BF16) << 8e-3;
        QTest::newRow("q8_0") << int(TensorType::Q8_0) << 1e-2;
        QTest::newRow("q5_1") << int(TensorType::Q5_1) << 4e-2;
        QTest::newRow("q4_0") << int(TensorType::Q4_0) << 8e-2;
        QTest::newRow("q6_K") << int(TensorType::Q6_K) << 2e-2;
        QTest::newRow("q4_K") << int(TensorType::Q4_K) << 6e-2;
        QTest::newRow("q2_K") << int(TensorType::Q2_K) << 2.5e-1;
    }

    void tracksFloatDotOfOriginalRows() {
        QFETCH(int, type);
        QFETCH(double, bound);
        const auto wtype = static_cast<TensorType>(type);
        const TensorType xtype = vec_dot_type(wtype);
        constexpr int64_t n = 4096;
        std::mt19937 rng(99);
        for (int trial = 0; trial < 8; ++trial) {
            const std::vector<float> wf = random_floats(n, rng, 1.f);
            const std::vector<float> xf = random_floats(n, rng, 1.f);
            std::vector<uint8_t> w(tensor_row_size(wtype, n)), x(tensor_row_size(xtype, n));
            quantize_row_reference(wtype, wf.data(), w.data(), n);
            quantize_row(xtype, xf.data(), x.data(), n);
            double exact = 0, ww = 0, xx = 0;
            for (int64_t i = 0; i < n; ++i) {
                exact += double(wf[i]) * xf[i];
                ww += double(wf[i]) * wf[i];
                xx += double(xf[i]) * xf[i];
            }
            const double rel = std::fabs(vec_dot(wtype, n, w.data(), x.data()) - exact) / std::sqrt(ww * xx);
            QVERIFY2(rel < bound, qPrintable(QString("trial %1: relative error %2").arg(trial).arg(rel)));
        }
    }

    void activationTypesAreGgmls() {
        const std::pair<TensorType, TensorType> pairs[] = {
            {TensorType::F32, TensorType::F32},    {TensorType::F16, TensorType::F16},
            {TensorType::BF16, TensorType::BF16},  {TensorType::Q4_0, TensorType::Q8_0},
            {TensorType::Q5_0, TensorType::Q8_0},  {TensorType::Q8_0, TensorType::Q8_0},
            {TensorType::Q4_1, TensorType::Q8_1},  {TensorType::Q5_1, TensorType::Q8_1},
            {TensorType::Q2_K, TensorType::Q8_K},  {TensorType::Q3_K, TensorType::Q8_K},
            {TensorType::Q4_K, TensorType::Q8_K},  {TensorType::Q5_K, TensorType::Q8_K},
            {TensorType::Q6_K, TensorType::Q8_K},  {TensorType::IQ4_NL, TensorType::Q8_0},
            {TensorType::IQ4_XS, TensorType::Q8_K},
        };
        for (const auto& [w, x] : pairs) {
            QCOMPARE(vec_dot_type(w), x);
            QVERIFY(has_vec_dot(w));
        }
        QVERIFY(!has_vec_dot(TensorType::Q8_1));
        QVERIFY(!has_vec_dot(TensorType::Q8_K));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot_type(TensorType::Q8_K));
    }

    // tensor_type.cpp's `supported` flag promises the engine can compute with a weight type: it must be
    // set exactly for the types that have both a decoder and a dot product.
    void supportedFlagMatchesKernels() {
        for (uint32_t id = 0; id < 64; ++id) {
            const auto traits = tensor_type_traits(id);
            if (!traits) continue;
            const auto t = static_cast<TensorType>(id);
            QVERIFY2(traits->supported == (has_vec_dot(t) && can_dequantize(t)), traits->name.data());
        }
    }

    void rejectsBadArguments() {
        std::vector<uint8_t> buf(4096, 0);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot(TensorType::Q8_1, 32, buf.data(), buf.data()));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot(TensorType::Q4_0, 40, buf.data(), buf.data()));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot(TensorType::Q4_K, 128, buf.data(), buf.data()));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 vec_dot(static_cast<TensorType>(5), 32, buf.data(), buf.data()));
        QCOMPARE(vec_dot(TensorType::Q4_0, 0, buf.data(), buf.data()), 0.0f);
    }
};

QTEST_GUILESS_MAIN(TestVecDot)
#include "tst_vec_dot.moc"
