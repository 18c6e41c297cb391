// fp16 / bf16 conversions (kernels/cpu/fp16.h and the branchless versions in quant_blocks.h): exhaustive
// round trips, known roundings, and, where the CPU has F16C, agreement with the hardware converter that
// ggml's x86 build uses for activations.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant_blocks.h"

using namespace peregrine::kernels::cpu;

namespace {

bool is_nan_half(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0; }
bool is_nan_bf16(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0; }

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hardware_fp32_to_fp16(float f) {
    return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
#endif

}  // namespace

class TestFp16 : public QObject {
    Q_OBJECT

private slots:
    // Every half decodes to a float that encodes back to the same half (NaNs stay NaN, sign kept).
    void halfRoundTripIsExhaustivelyExact() {
        for (uint32_t h = 0; h <= 0xffff; ++h) {
            const auto half = static_cast<uint16_t>(h);
            const float f = fp16_to_fp32(half);
            const uint16_t back = fp32_to_fp16(f);
            if (is_nan_half(half)) {
                QVERIFY(std::isnan(f));
                QVERIFY(is_nan_half(back));
                QCOMPARE(back & 0x8000, half & 0x8000);
            } else if (back != half) {
                QFAIL(qPrintable(QString("0x%1 -> %2 -> 0x%3").arg(h, 4, 16).arg(f).arg(back, 4, 16)));
            }
        }
    }

    // The branchless decoder the kernels use must be the same function, bit for bit.
    void fastDecoderMatchesReferenceForAllHalves() {
        for (uint32_t h = 0; h <= 0xffff; ++h) {
            const float a = fp16_to_fp32(static_cast<uint16_t>(h));
            const float b = fp16_to_fp32_fast(static_cast<uint16_t>(h));
            if (fp32_to_bits(a) != fp32_to_bits(b)) {
                QFAIL(qPrintable(QString("0x%1: %2 vs %3").arg(h, 4, 16).arg(a).arg(b)));
            }
        }
    }

    void knownHalfValues_data() {
        QTest::addColumn<float>("value");
        QTest::addColumn<int>("half");
        QTest::newRow("one") << 1.0f << 0x3c00;
        QTest::newRow("minus zero") << -0.0f << 0x8000;
        QTest::newRow("0.1") << 0.1f << 0x2e66;
        QTest::newRow("1/3") << 1.0f / 3.0f << 0x3555;
        QTest::newRow("max") << 65504.0f << 0x7bff;
        QTest::newRow("just below overflow") << 65519.99f << 0x7bff;
        QTest::newRow("overflow tie to inf") << 65520.0f << 0x7c00;
        QTest::newRow("-inf") << -std::numeric_limits<float>::infinity() << 0xfc00;
        QTest::newRow("1 + ulp/2 ties to even (down)") << 1.0f + 1.0f / 2048 << 0x3c00;
        QTest::newRow("1 + 3ulp/2 ties to even (up)") << 1.0f + 3.0f / 2048 << 0x3c02;
        QTest::newRow("just above a tie rounds up") << std::nextafter(1.0f + 1.0f / 2048, 2.0f) << 0x3c01;
        QTest::newRow("smallest normal") << std::ldexp(1.0f, -14) << 0x0400;
        QTest::newRow("smallest subnormal") << std::ldexp(1.0f, -24) << 0x0001;
        QTest::newRow("half the smallest subnormal ties to zero") << std::ldexp(1.0f, -25) << 0x0000;
        QTest::newRow("just above half the smallest subnormal") << std::nextafter(std::ldexp(1.0f, -25), 1.0f) << 0x0001;
        QTest::newRow("1.5 subnormal units ties to 2") << std::ldexp(3.0f, -25) << 0x0002;
        QTest::newRow("largest subnormal") << std::ldexp(1023.0f, -24) << 0x03ff;
        QTest::newRow("subnormal rounding into the normal range") << std::ldexp(2047.0f, -25) << 0x0400;
    }

    void knownHalfValues() {
        QFETCH(float, value);
        QFETCH(int, half);
        QCOMPARE(int(fp32_to_fp16(value)), half);
        if ((half & 0x7c00) != 0x7c00 && value == fp16_to_fp32(static_cast<uint16_t>(half))) {
            QCOMPARE(fp16_to_fp32_fast(static_cast<uint16_t>(half)), value);
        }
    }

    // Independent of any implementation detail: the chosen half is a nearest one, ties to the even
    // mantissa, for random floats across the whole half range.
    void encoderPicksNearestHalfTiesToEven() {
        std::mt19937 rng(12345);
        std::uniform_real_distribution<float> exponent(-26.f, 16.f);
        for (int i = 0; i < 200000; ++i) {
            const float x = std::exp2(exponent(rng)) * (i % 2 ? 1.f : -1.f);
            const uint16_t h = fp32_to_fp16(x);
            if ((h & 0x7c00) == 0x7c00) {
                QVERIFY(std::fabs(x) >= 65520.f);
                continue;
            }
            const double err = std::fabs(double(x) - fp16_to_fp32(h));
            for (int step : {-1, 1}) {
                const uint16_t n = static_cast<uint16_t>(h + step);
                if (((h & 0x7fff) == 0 && step == -1) || (n & 0x7c00) == 0x7c00) continue;
                const double other = std::fabs(double(x) - fp16_to_fp32(n));
                QVERIFY2(err <= other, qPrintable(QString("%1 -> 0x%2").arg(x).arg(h, 4, 16)));
                if (err == other) QVERIFY((h & 1) == 0);
            }
        }
    }

    // ggml's x86 build converts activations with F16C (vcvtps2ph, round to nearest even). Compare on a
    // stride-251 sweep of all 2^32 float bit patterns (about 17 million values, NaNs included).
    void encoderMatchesF16cHardware() {
#if defined(__x86_64__)
        if (!__builtin_cpu_supports("f16c")) QSKIP("this CPU has no F16C");
        int mismatches = 0;
        for (uint64_t u = 0; u <= 0xffffffffull; u += 251) {
            const float f = fp32_from_bits(static_cast<uint32_t>(u));
            const uint16_t ours = fp32_to_fp16(f);
            const uint16_t hw = hardware_fp32_to_fp16(f);
            const bool same = std::isnan(f) ? (is_nan_half(ours) && is_nan_half(hw)) : ours == hw;
            if (fp32_to_fp16_fast(f) != ours && mismatches++ < 5) qWarning("0x%08x: fast encoder differs", unsigned(u));
            if (!same && mismatches++ < 5) {
                qWarning("0x%08x: ours 0x%04x, F16C 0x%04x", static_cast<uint32_t>(u), ours, hw);
            }
        }
        QCOMPARE(mismatches, 0);
#else
        QSKIP("not an x86-64 build");
#endif
    }

    // The branchless encoder (F16 activations) must equal the reference encoder: every float whose
    // exponent is near a boundary (subnormal results, the normal range's ends, overflow), plus a
    // stride-251 sweep over all 2^32 bit patterns.
    void fastEncoderMatchesReference() {
        int mismatches = 0;
        const auto check = [&](uint32_t u) {
            const float f = fp32_from_bits(u);
            const uint16_t a = fp32_to_fp16(f);
            const uint16_t b = fp32_to_fp16_fast(f);
            if (a != b && mismatches++ < 5) qWarning("0x%08x: reference 0x%04x, fast 0x%04x", u, a, b);
        };
        for (uint32_t exponent : {0u, 101u, 102u, 103u, 111u, 112u, 113u, 114u, 141u, 142u, 143u, 255u}) {
            for (uint32_t sign : {0u, 0x80000000u}) {
                for (uint32_t m = 0; m < (1u << 23); ++m) check(sign | (exponent << 23) | m);
            }
        }
        for (uint64_t u = 0; u <= 0xffffffffull; u += 251) check(static_cast<uint32_t>(u));
        QCOMPARE(mismatches, 0);
    }

    void bf16RoundTripIsExhaustivelyExact() {
        for (uint32_t h = 0; h <= 0xffff; ++h) {
            const auto b = static_cast<uint16_t>(h);
            const float f = bf16_to_fp32(b);
            const uint16_t back = fp32_to_bf16(f);
            if (is_nan_bf16(b)) {
                QVERIFY(is_nan_bf16(back));
                QCOMPARE(back & 0x8000, b & 0x8000);
            } else {
                QCOMPARE(int(back), int(b));
            }
        }
    }

    void knownBf16Roundings_data() {
        QTest::addColumn<uint32_t>("fp32_bits");
        QTest::addColumn<int>("bf16");
        QTest::newRow("one") << 0x3f800000u << 0x3f80;
        QTest::newRow("tie to even stays down") << 0x3f808000u << 0x3f80;
        QTest::newRow("tie to even goes up") << 0x3f818000u << 0x3f82;
        QTest::newRow("above tie rounds up") << 0x3f808001u << 0x3f81;
        QTest::newRow("below tie rounds down") << 0x3f807fffu << 0x3f80;
        QTest::newRow("negative tie") << 0xbf818000u << 0xbf82;
        QTest::newRow("max float rounds to inf") << 0x7f7fffffu << 0x7f80;
        QTest::newRow("inf") << 0x7f800000u << 0x7f80;
        QTest::newRow("signalling nan is quieted") << 0x7f800001u << 0x7fc0;
        QTest::newRow("subnormal kept") << 0x00010000u << 0x0001;
    }

    void knownBf16Roundings() {
        QFETCH(uint32_t, fp32_bits);
        QFETCH(int, bf16);
        QCOMPARE(int(fp32_to_bf16(fp32_from_bits(fp32_bits))), bf16);
    }
};

QTEST_GUILESS_MAIN(TestFp16)
#include "tst_fp16.moc"
