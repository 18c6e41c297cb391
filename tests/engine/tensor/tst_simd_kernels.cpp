// The SIMD kernels against the scalar path, on every path this CPU can run (cpu_features.h), forced with
// set_cpu_path(). What must hold (simd_kernels.h states the contract):
//  * K-quant dot products (Q4_K, Q5_K, Q6_K) are bit-identical with the scalar kernels;
//  * the other dot products agree with the scalar path within 1e-5 of sum |w_i x_i| (the size of their
//    rounding error; relative to the result itself it would be meaningless when the terms cancel), and
//    exactly when every partial sum is an exactly representable float (integer-valued data, scales 1);
//  * vec_dot_rows and vec_dot_tile give vec_dot's result bit for bit, for any tile shape;
//  * quantize_row's activation quantizers (Q8_0, Q8_K) write the scalar path's bytes, NaN and inf included.
// Weights come from the storage quantizer (realistic values), from random bytes (every bit pattern a file
// can hold: Q8_0 weights of -128, 6-bit scales of 63, int8 Q6_K scales of -128) and from a real file.
#include <QtTest>
#include <QProcess>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/vec_dot.h"
#include "peregrine/gguf.h"
#include "peregrine/tensor_type.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::kernels::cpu;

namespace {

constexpr double kTolerance = 1e-5;  // of sum |w_i x_i|

const TensorType kSimdTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q5_0,
                                 TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

bool is_k_quant(TensorType t) { return t == TensorType::Q4_K || t == TensorType::Q5_K || t == TensorType::Q6_K; }

std::string type_label(TensorType t) { return std::string(tensor_type_name(t)); }

// Row lengths: float types take any length; block types whole blocks, odd counts and 1 included.
std::vector<int64_t> lengths_for(TensorType t) {
    const int64_t block = tensor_type_traits(t).block_size;
    if (block == 1) return {1, 3, 15, 16, 17, 31, 33, 64, 100, 129, 1000, 4097};
    if (block == 32) return {32, 64, 96, 160, 224, 1056, 4096, 4128};
    return {256, 512, 768, 1280, 2816, 11008};
}

std::vector<float> normal_floats(int64_t n, std::mt19937& rng, float scale) {
    std::normal_distribution<float> normal(0.f, scale);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng);
    return x;
}

// Byte offsets of the fp16 scales in each weight block (d, and dmin for Q4_K/Q5_K).
std::vector<size_t> half_scale_offsets(TensorType t) {
    switch (t) {
        case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: return {0};
        case TensorType::Q4_K: case TensorType::Q5_K: return {0, 2};
        case TensorType::Q6_K: return {offsetof(BlockQ6_K, d)};
        default: return {};
    }
}

enum class WeightKind { Quantized, RawBytes, IntegerExact };

// A weight row of n elements. Quantized: the storage quantizer on Gaussian values. RawBytes: random bytes
// with finite random fp16 scales. IntegerExact: random bytes with scales of 1 (float types: integers in
// [-16, 16]), so every product and partial sum is an exact float.
std::vector<uint8_t> weight_row(TensorType t, int64_t n, WeightKind kind, std::mt19937& rng) {
    std::vector<uint8_t> row(tensor_row_size(t, n));
    const int64_t block = tensor_type_traits(t).block_size;
    if (kind == WeightKind::Quantized || block == 1) {
        std::vector<float> w = normal_floats(n, rng, 0.05f);
        if (kind == WeightKind::IntegerExact) {
            std::uniform_int_distribution<int> small(-16, 16);
            for (auto& v : w) v = static_cast<float>(small(rng));
        }
        for (auto& v : w) v += kind == WeightKind::Quantized ? 0.01f : 0.f;
        quantize_row_reference(t, w.data(), row.data(), n);
        return row;
    }
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
    std::uniform_real_distribution<float> scale(0.001f, 0.1f);
    const size_t block_bytes = tensor_type_traits(t).type_size;
    for (size_t at = 0; at < row.size(); at += block_bytes) {
        for (size_t offset : half_scale_offsets(t)) {
            const fp16_t h = kind == WeightKind::IntegerExact ? fp16_t{0x3C00} : fp32_to_fp16(scale(rng));
            std::memcpy(row.data() + at + offset, &h, sizeof(h));
        }
    }
    return row;
}

// An activation row for weights of type t: quantize_row of Gaussian values; for IntegerExact, scales of 1
// and (Q8_K) values small enough that K-quant sums stay below 2^24.
std::vector<uint8_t> activation_row(TensorType t, int64_t n, WeightKind kind, std::mt19937& rng) {
    const TensorType xt = vec_dot_type(t);
    std::vector<uint8_t> row(tensor_row_size(xt, n));
    std::vector<float> x = normal_floats(n, rng, 1.f);
    if (kind == WeightKind::IntegerExact && xt != TensorType::Q8_K) {
        std::uniform_int_distribution<int> small(xt == TensorType::Q8_0 ? -127 : -16, xt == TensorType::Q8_0 ? 127 : 16);
        for (auto& v : x) v = static_cast<float>(small(rng));
    }
    quantize_row(xt, x.data(), row.data(), n);
    if (kind != WeightKind::IntegerExact) return row;
    if (xt == TensorType::Q8_0) {
        for (auto* b = reinterpret_cast<BlockQ8_0*>(row.data()); b < reinterpret_cast<BlockQ8_0*>(row.data() + row.size()); ++b) {
            b->d = 0x3C00;  // 1.0: the stored values are the integers themselves
        }
    } else if (xt == TensorType::Q8_K) {
        std::uniform_int_distribution<int> small(-7, 7);
        for (auto* b = reinterpret_cast<BlockQ8_K*>(row.data()); b < reinterpret_cast<BlockQ8_K*>(row.data() + row.size()); ++b) {
            b->d = 1.f;
            for (int g = 0; g < 16; ++g) {
                int sum = 0;
                for (int j = 0; j < 16; ++j) sum += b->qs[16 * g + j] = static_cast<int8_t>(small(rng));
                b->bsums[g] = static_cast<int16_t>(sum);
            }
        }
    }
    return row;
}

// sum |w_i x_i| and the exact dot product, in double, from the dequantized rows (Q8_K's d and values are
// what the kernels use; its bsums are consistent with its values by construction).
struct Reference {
    double dot = 0;
    double magnitude = 0;
};
Reference reference(TensorType t, const std::vector<uint8_t>& w, const std::vector<uint8_t>& x, int64_t n) {
    std::vector<float> wf(static_cast<size_t>(n)), xf(static_cast<size_t>(n));
    dequantize_row(t, w.data(), wf.data(), n);
    dequantize_row(vec_dot_type(t), x.data(), xf.data(), n);
    Reference r;
    for (int64_t i = 0; i < n; ++i) {
        r.dot += double(wf[i]) * xf[i];
        r.magnitude += std::fabs(double(wf[i]) * xf[i]);
    }
    return r;
}

uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, sizeof(b));
    return b;
}

// Every SIMD path this CPU runs; the data rows for the others are skipped, not failed.
const CpuPath kSimdPaths[] = {CpuPath::Avx2, CpuPath::Avx512};

// Restores the best path whatever a test did.
struct PathGuard {
    ~PathGuard() { set_cpu_path(best_cpu_path()); }
};

float dot_on(CpuPath path, TensorType t, int64_t n, const std::vector<uint8_t>& w, const std::vector<uint8_t>& x) {
    set_cpu_path(path);
    return vec_dot(t, n, w.data(), x.data());
}

}  // namespace

class TestSimdKernels : public QObject {
    Q_OBJECT

private:
    // Rows (path, type, n): every length of lengths_for() up to max_n, or only its third (an odd count of
    // blocks) when !with_lengths.
    void addPathTypeRows(bool with_lengths, std::initializer_list<TensorType> types, int64_t max_n = INT64_MAX) {
        QTest::addColumn<int>("path");
        QTest::addColumn<int>("type");
        QTest::addColumn<qint64>("n");
        for (CpuPath path : kSimdPaths) {
            for (TensorType t : types) {
                const std::vector<int64_t> lengths = with_lengths ? lengths_for(t) : std::vector<int64_t>{lengths_for(t)[2]};
                for (int64_t n : lengths) {
                    if (n > max_n) continue;
                    const std::string name = std::string(cpu_path_name(path)) + " " + type_label(t) + " n=" + std::to_string(n);
                    QTest::newRow(name.c_str()) << static_cast<int>(path) << static_cast<int>(t) << qint64(n);
                }
            }
        }
    }

private slots:
    void initTestCase() {
        qInfo("CPU: %s; best path %s", cpu_features_description().c_str(), cpu_path_name(best_cpu_path()));
    }

    void cleanup() { set_cpu_path(best_cpu_path()); }

    // Run by itself in a child process (environmentSelectsPath); harmless in the full run.
    void printActivePath() { qInfo("active path: %s", cpu_path_name(cpu_path())); }

    void pathNamesAndSupport() {
        for (int i = 0; i < kCpuPathCount; ++i) {
            const auto path = static_cast<CpuPath>(i);
            QCOMPARE(parse_cpu_path(cpu_path_name(path)), std::optional<CpuPath>(path));
        }
        QCOMPARE(parse_cpu_path("AVX512"), std::optional<CpuPath>(CpuPath::Avx512));
        QCOMPARE(parse_cpu_path("sse4"), std::optional<CpuPath>());
        QCOMPARE(parse_cpu_path(""), std::optional<CpuPath>());
        QVERIFY(cpu_supports(CpuPath::Scalar));
        QVERIFY(cpu_supports(best_cpu_path()));
        if (cpu_supports(CpuPath::Avx512)) QVERIFY(cpu_supports(CpuPath::Avx2));
        const CpuFeatures& f = cpu_features();
        QCOMPARE(cpu_supports(CpuPath::Avx2), f.avx2 && f.fma && f.f16c && f.os_saves_ymm);
        QCOMPARE(cpu_supports(CpuPath::Avx512),
                 cpu_supports(CpuPath::Avx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni &&
                     f.avx512bf16 && f.os_saves_zmm);
        // The CPU this project benchmarks on (and the CI machines) have AVX-512 with VNNI and BF16: there
        // the best path must be avx512, or detection is broken.
        if (f.avx512vnni && f.avx512bf16 && f.os_saves_zmm) QCOMPARE(best_cpu_path(), CpuPath::Avx512);
    }

    void setCpuPathNeverPicksAnUnsupportedPath() {
        PathGuard guard;
        static std::vector<std::string> warnings;
        warnings.clear();
        set_cpu_warning_handler([](const std::string& m) { warnings.push_back(m); });
        for (int i = 0; i < kCpuPathCount; ++i) {
            const auto path = static_cast<CpuPath>(i);
            const CpuPath got = set_cpu_path(path);
            QCOMPARE(cpu_path(), got);
            QCOMPARE(got, cpu_supports(path) ? path : best_cpu_path());
        }
        set_cpu_warning_handler(nullptr);
        int unsupported = 0;
        for (int i = 0; i < kCpuPathCount; ++i) unsupported += cpu_supports(static_cast<CpuPath>(i)) ? 0 : 1;
        QCOMPARE(static_cast<int>(warnings.size()), unsupported);
        for (const auto& w : warnings) QVERIFY2(w.find("cannot run") != std::string::npos, w.c_str());
    }

    // PEREGRINE_CPU_PATH is read at the first kernel call, so each case runs in a fresh process.
    void environmentSelectsPath_data() {
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("expected");  // path name, or "best"
        QTest::addColumn<bool>("warns");
        QTest::newRow("scalar") << "scalar" << "scalar" << false;
        QTest::newRow("AVX2, any case") << "AVX2" << (cpu_supports(CpuPath::Avx2) ? "avx2" : "best") << !cpu_supports(CpuPath::Avx2);
        QTest::newRow("avx512") << "avx512" << (cpu_supports(CpuPath::Avx512) ? "avx512" : "best") << !cpu_supports(CpuPath::Avx512);
        QTest::newRow("unknown name") << "neon" << "best" << true;
        QTest::newRow("unset") << "" << "best" << false;
    }

    void environmentSelectsPath() {
        QFETCH(QString, value);
        QFETCH(QString, expected);
        QFETCH(bool, warns);
        QProcess child;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("PEREGRINE_CPU_PATH");
        if (!value.isEmpty()) env.insert("PEREGRINE_CPU_PATH", value);
        child.setProcessEnvironment(env);
        child.start(QCoreApplication::applicationFilePath(), {"printActivePath"});
        QVERIFY(child.waitForFinished(30000));
        QCOMPARE(child.exitCode(), 0);
        const QString out = QString::fromUtf8(child.readAllStandardOutput());
        const QString err = QString::fromUtf8(child.readAllStandardError());
        const QString want = expected == "best" ? QString(cpu_path_name(best_cpu_path())) : expected;
        QVERIFY2(out.contains("active path: " + want + "\n"), qPrintable(out + err));
        QCOMPARE(err.contains("PEREGRINE_CPU_PATH"), warns);
    }

    void vecDotMatchesScalar_data() {
        addPathTypeRows(true, {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q5_0,
                               TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K});
    }

    void vecDotMatchesScalar() {
        QFETCH(int, path);
        QFETCH(int, type);
        QFETCH(qint64, n);
        if (!cpu_supports(static_cast<CpuPath>(path))) QSKIP("this CPU cannot run the path");
        PathGuard guard;
        const auto t = static_cast<TensorType>(type);
        std::mt19937 rng(static_cast<uint32_t>(type * 1000003 + n * 31 + path));
        double worst = 0;
        for (WeightKind kind : {WeightKind::Quantized, WeightKind::RawBytes}) {
            for (int trial = 0; trial < 3; ++trial) {
                const std::vector<uint8_t> w = weight_row(t, n, kind, rng);
                const std::vector<uint8_t> x = activation_row(t, n, kind, rng);
                const float scalar = dot_on(CpuPath::Scalar, t, n, w, x);
                const float simd = dot_on(static_cast<CpuPath>(path), t, n, w, x);
                QVERIFY(std::isfinite(scalar));
                if (is_k_quant(t)) {
                    QVERIFY2(bits_of(simd) == bits_of(scalar),
                             qPrintable(QString("simd %1, scalar %2").arg(simd, 0, 'g', 9).arg(scalar, 0, 'g', 9)));
                    continue;
                }
                const Reference ref = reference(t, w, x, n);
                QVERIFY(ref.magnitude > 0);
                const double err = std::fabs(double(simd) - scalar) / ref.magnitude;
                worst = std::max(worst, err);
                QVERIFY2(err <= kTolerance, qPrintable(QString("kind %1 trial %2: simd %3, scalar %4, sum|wx| %5")
                                                           .arg(int(kind)).arg(trial).arg(simd, 0, 'g', 9)
                                                           .arg(scalar, 0, 'g', 9).arg(ref.magnitude)));
                // And both are the true dot product to float accuracy.
                QVERIFY(std::fabs(double(simd) - ref.dot) <= kTolerance * ref.magnitude);
            }
        }
        if (worst > 0) qInfo("worst difference %.3g of sum|wx|", worst);
    }

    // With scales of 1 and integer values every float operation is exact, whatever the order: the SIMD
    // result must equal the scalar one and the exact integer dot product. Any lost or saturated integer
    // term (a maddubs overflow, a missed offset) shows up here as an exact mismatch.
    // Lengths up to 2816: longer Q8_0 / Q6_K rows of random integers reach sum |w x| >= 2^24.
    void integerPartsAreExact_data() {
        addPathTypeRows(true, {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q5_0,
                               TensorType::Q8_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}, 2816);
    }

    void integerPartsAreExact() {
        QFETCH(int, path);
        QFETCH(int, type);
        QFETCH(qint64, n);
        if (!cpu_supports(static_cast<CpuPath>(path))) QSKIP("this CPU cannot run the path");
        PathGuard guard;
        const auto t = static_cast<TensorType>(type);
        std::mt19937 rng(static_cast<uint32_t>(type * 7 + n * 13 + path));
        int exact_cases = 0;
        for (int trial = 0; trial < 3; ++trial) {
            const std::vector<uint8_t> w = weight_row(t, n, WeightKind::IntegerExact, rng);
            const std::vector<uint8_t> x = activation_row(t, n, WeightKind::IntegerExact, rng);
            const Reference ref = reference(t, w, x, n);
            if (ref.magnitude >= 16777216.0) continue;  // partial sums might round: not an exactness case
            ++exact_cases;
            const float scalar = dot_on(CpuPath::Scalar, t, n, w, x);
            const float simd = dot_on(static_cast<CpuPath>(path), t, n, w, x);
            QCOMPARE(double(scalar), ref.dot);
            QCOMPARE(double(simd), ref.dot);
        }
        QVERIFY2(exact_cases > 0, "sum |w x| reached 2^24 in every trial: no exact case was checked");
    }

    // vec_dot_rows and vec_dot_tile against vec_dot on the same path: identical bits, for odd row counts,
    // odd activation counts, unaligned row strides and an output stride wider than the tile.
    void rowsAndTileMatchVecDot_data() {
        addPathTypeRows(false, {TensorType::F16, TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K,
                                TensorType::Q5_K, TensorType::Q6_K, TensorType::Q4_1, TensorType::IQ4_XS});
    }

    void rowsAndTileMatchVecDot() {
        QFETCH(int, path);
        QFETCH(int, type);
        QFETCH(qint64, n);
        if (!cpu_supports(static_cast<CpuPath>(path))) QSKIP("this CPU cannot run the path");
        PathGuard guard;
        set_cpu_path(static_cast<CpuPath>(path));
        const auto t = static_cast<TensorType>(type);
        const TensorType xt = vec_dot_type(t);
        std::mt19937 rng(static_cast<uint32_t>(type + n + path));
        for (int64_t rows : {1, 2, 3, 4, 5, 7, 9, 13, 16}) {  // 9, 13, 16: tiles of rows a quarter apart
            for (int64_t acts : {1, 2, 3, 4, 5, 9}) {  // tiles of up to 4 activations, and remainders
                // Padded rows, off the vector alignment but keeping the blocks' own (4 bytes covers Q8_K's float).
                const size_t w_stride = tensor_row_size(t, n) + 4;
                const size_t x_stride = tensor_row_size(xt, n) + 12;
                std::vector<uint8_t> w(w_stride * static_cast<size_t>(rows)), x(x_stride * static_cast<size_t>(acts));
                for (int64_t i = 0; i < rows; ++i) {
                    const auto row = weight_row(t, n, i % 2 == 0 ? WeightKind::Quantized : WeightKind::RawBytes, rng);
                    std::memcpy(w.data() + i * w_stride, row.data(), row.size());
                }
                for (int64_t j = 0; j < acts; ++j) {
                    const auto row = activation_row(t, n, WeightKind::Quantized, rng);
                    std::memcpy(x.data() + j * x_stride, row.data(), row.size());
                }
                const size_t out_stride = static_cast<size_t>(rows) + 2;
                const float sentinel = -12345.f;
                std::vector<float> tile(out_stride * static_cast<size_t>(acts), sentinel);
                vec_dot_tile(t, n, w.data(), w_stride, rows, x.data(), x_stride, acts, tile.data(), out_stride);
                std::vector<float> by_rows(static_cast<size_t>(rows));
                for (int64_t j = 0; j < acts; ++j) {
                    vec_dot_rows(t, n, w.data(), w_stride, rows, x.data() + j * x_stride, by_rows.data());
                    for (int64_t i = 0; i < rows; ++i) {
                        const float single = vec_dot(t, n, w.data() + i * w_stride, x.data() + j * x_stride);
                        const QString where = QString("rows %1 acts %2: (%3, %4)").arg(rows).arg(acts).arg(i).arg(j);
                        QVERIFY2(bits_of(by_rows[i]) == bits_of(single), qPrintable("vec_dot_rows " + where));
                        QVERIFY2(bits_of(tile[j * out_stride + i]) == bits_of(single), qPrintable("vec_dot_tile " + where));
                    }
                    for (size_t pad = static_cast<size_t>(rows); pad < out_stride; ++pad) {
                        QCOMPARE(tile[j * out_stride + pad], sentinel);  // nothing written between rows of out
                    }
                }
            }
        }
    }

    // A real file: ggml-quant-reference.gguf's 4 x 512 tensors, quantized by ggml, against its `source`
    // rows as activations: every weight row x activation row on every path.
    void realTensorsMatchScalar_data() {
        QTest::addColumn<int>("type");
        for (TensorType t : kSimdTypes) QTest::newRow(type_label(t).c_str()) << static_cast<int>(t);
    }

    void realTensorsMatchScalar() {
        QFETCH(int, type);
        PathGuard guard;
        const auto t = static_cast<TensorType>(type);
        const auto file = gguf::GgufFile::open(test::model_path("ggml-quant-reference.gguf"));
        const gguf::TensorInfo* weights = file->find_tensor(type_label(t));
        const gguf::TensorInfo* source = file->find_tensor("source");
        QVERIFY(weights != nullptr && source != nullptr);
        QCOMPARE(weights->type, t);
        const int64_t n = weights->dims[0];
        const int64_t rows = weights->dims[1];
        const size_t row_bytes = tensor_row_size(t, n);
        const TensorType xt = vec_dot_type(t);
        const size_t x_bytes = tensor_row_size(xt, n);
        std::vector<uint8_t> acts(x_bytes * static_cast<size_t>(rows));
        for (int64_t j = 0; j < rows; ++j) {
            quantize_row(xt, reinterpret_cast<const float*>(source->data) + j * n, acts.data() + j * x_bytes, n);
        }
        std::vector<float> scalar(static_cast<size_t>(rows * rows)), simd(scalar.size());
        set_cpu_path(CpuPath::Scalar);
        vec_dot_tile(t, n, weights->data, row_bytes, rows, acts.data(), x_bytes, rows, scalar.data(), static_cast<size_t>(rows));
        int paths_run = 0;
        for (CpuPath path : kSimdPaths) {
            if (!cpu_supports(path)) continue;
            ++paths_run;
            set_cpu_path(path);
            vec_dot_tile(t, n, weights->data, row_bytes, rows, acts.data(), x_bytes, rows, simd.data(), static_cast<size_t>(rows));
            for (int64_t j = 0; j < rows; ++j) {
                for (int64_t i = 0; i < rows; ++i) {
                    std::vector<uint8_t> wi(weights->data + i * row_bytes, weights->data + (i + 1) * row_bytes);
                    std::vector<uint8_t> xj(acts.data() + j * x_bytes, acts.data() + (j + 1) * x_bytes);
                    const size_t k = static_cast<size_t>(j * rows + i);
                    const double magnitude = reference(t, wi, xj, n).magnitude;
                    const QString where = QString("%1 row %2 act %3: simd %4 scalar %5")
                                              .arg(cpu_path_name(path)).arg(i).arg(j).arg(simd[k], 0, 'g', 9).arg(scalar[k], 0, 'g', 9);
                    if (is_k_quant(t)) {
                        QVERIFY2(bits_of(simd[k]) == bits_of(scalar[k]), qPrintable(where));
                    } else {
                        QVERIFY2(std::fabs(double(simd[k]) - scalar[k]) <= kTolerance * magnitude, qPrintable(where));
                    }
                }
            }
        }
        if (paths_run == 0) QSKIP("no SIMD path on this CPU");
    }

    // Types without SIMD kernels run the scalar kernel on every path: identical results.
    void otherTypesUseScalarKernels() {
        PathGuard guard;
        std::mt19937 rng(5);
        for (TensorType t : {TensorType::Q4_1, TensorType::Q5_1, TensorType::IQ4_NL, TensorType::Q2_K, TensorType::Q3_K,
                             TensorType::IQ4_XS}) {
            const int64_t n = tensor_type_traits(t).block_size * 3;
            const auto w = weight_row(t, n, WeightKind::Quantized, rng);
            const auto x = activation_row(t, n, WeightKind::Quantized, rng);
            const float scalar = dot_on(CpuPath::Scalar, t, n, w, x);
            for (int i = 1; i < kCpuPathCount; ++i) {
                QCOMPARE(bits_of(dot_on(static_cast<CpuPath>(i), t, n, w, x)), bits_of(scalar));
            }
        }
    }

    void quantizeRowBytesMatchScalar_data() {
        QTest::addColumn<int>("path");
        QTest::addColumn<int>("type");
        QTest::addColumn<QString>("pattern");
        for (CpuPath path : kSimdPaths) {
            for (TensorType t : {TensorType::Q8_0, TensorType::Q8_K}) {
                for (const char* pattern : {"normal", "tiny", "huge", "subnormal", "ties", "zeros", "inf", "nan"}) {
                    const std::string name = std::string(cpu_path_name(path)) + " " + type_label(t) + " " + pattern;
                    QTest::newRow(name.c_str()) << static_cast<int>(path) << static_cast<int>(t) << QString(pattern);
                }
            }
        }
    }

    void quantizeRowBytesMatchScalar() {
        QFETCH(int, path);
        QFETCH(int, type);
        QFETCH(QString, pattern);
        if (!cpu_supports(static_cast<CpuPath>(path))) QSKIP("this CPU cannot run the path");
        PathGuard guard;
        const auto t = static_cast<TensorType>(type);
        std::mt19937 rng(static_cast<uint32_t>(type + path * 17 + qHash(pattern)));
        for (int64_t blocks : {1, 2, 3, 7, 16}) {
            const int64_t n = blocks * tensor_type_traits(t).block_size;
            std::vector<float> x = normal_floats(n, rng, 1.f);
            for (int64_t i = 0; i < n; i += 37) x[static_cast<size_t>(i)] *= 6.f;  // outliers set the block maxima
            const auto set_every = [&](int64_t step, float value) {
                for (int64_t i = step / 2; i < n; i += step) x[static_cast<size_t>(i)] = value;
            };
            if (pattern == "tiny") for (auto& v : x) v *= 1e-30f;
            if (pattern == "huge") for (auto& v : x) v *= 1e36f;
            if (pattern == "subnormal") for (auto& v : x) v *= 1e-41f;
            if (pattern == "zeros") std::fill(x.begin(), x.begin() + tensor_type_traits(t).block_size, 0.f);
            if (pattern == "inf") set_every(45, -std::numeric_limits<float>::infinity());
            if (pattern == "nan") set_every(29, std::numeric_limits<float>::quiet_NaN());
            if (pattern == "ties") {
                // Equal magnitudes of both signs: the first one decides Q8_K's sign; halves test rounding.
                for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i % 9 - 4) * 0.5f;
                for (int64_t b = 0; b < n; b += 32) x[static_cast<size_t>(b + (b / 32) % 7)] = b % 64 == 0 ? 8.f : -8.f;
            }
            const size_t bytes = tensor_row_size(t, n);
            std::vector<uint8_t> want(bytes, 0xAA), got(bytes, 0x55);
            set_cpu_path(CpuPath::Scalar);
            quantize_row(t, x.data(), want.data(), n);
            set_cpu_path(static_cast<CpuPath>(path));
            quantize_row(t, x.data(), got.data(), n);
            const auto mismatch = std::mismatch(want.begin(), want.end(), got.begin());
            if (mismatch.first != want.end()) {
                QFAIL(qPrintable(QString("%1 blocks: first difference at byte %2 (want %3, got %4)")
                                     .arg(blocks).arg(mismatch.first - want.begin()).arg(*mismatch.first).arg(*mismatch.second)));
            }
        }
    }

    void rejectsBadArguments() {
        std::vector<uint8_t> buf(4096, 0);
        float out[4] = {};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot_rows(TensorType::Q4_0, 40, buf.data(), 18, 1, buf.data(), out));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot_rows(TensorType::Q8_K, 256, buf.data(), 292, 1, buf.data(), out));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot_rows(TensorType::Q4_0, 32, buf.data(), 18, -1, buf.data(), out));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 vec_dot_tile(TensorType::Q4_K, 128, buf.data(), 144, 1, buf.data(), 292, 1, out, 1));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 vec_dot_tile(TensorType::Q8_0, 32, buf.data(), 34, 1, buf.data(), 34, -2, out, 1));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot_kernel(TensorType::Q8_1));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, vec_dot_kernel(static_cast<TensorType>(5)));
        // Empty shapes are fine and write nothing.
        out[0] = 7.f;
        vec_dot_rows(TensorType::Q4_0, 32, buf.data(), 18, 0, buf.data(), out);
        vec_dot_tile(TensorType::Q4_0, 32, buf.data(), 18, 4, buf.data(), 34, 0, out, 4);
        QCOMPARE(out[0], 7.f);
        QCOMPARE(vec_dot_kernel(TensorType::Q4_0)(64, buf.data(), buf.data()), 0.f);
    }
};

QTEST_GUILESS_MAIN(TestSimdKernels)
#include "tst_simd_kernels.moc"
