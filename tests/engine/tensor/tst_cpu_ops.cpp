// The CPU ops of the forward pass beyond single dot products, on every path this CPU runs (forced with
// set_cpu_path):
//  * vec_dot_gemm (the prefill GEMM) gives vec_dot's result bit for bit, for odd row and activation counts,
//    odd block counts and more activations than one of its chunks;
//  * attention over a paged KV cache (scattered blocks, block sizes that do not divide the length) agrees
//    with a double-precision reference of the same formula;
//  * swiglu_row, rms_norm_row and store_f16_row agree with the scalar path (f16 stores bit for bit), at
//    lengths that are not a multiple of any register width, and the SIMD exponential behind swiglu stays
//    finite and correct at the extremes.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/swiglu.h"
#include "kernels/cpu/vec_dot.h"
#include "peregrine/tensor_type.h"

using namespace peregrine;
using namespace peregrine::kernels::cpu;

namespace {

const CpuPath kPaths[] = {CpuPath::Scalar, CpuPath::Avx2, CpuPath::Avx512};

struct PathGuard {
    ~PathGuard() { set_cpu_path(best_cpu_path()); }
};

std::vector<float> normal_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
    std::normal_distribution<float> normal(0.f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    return v;
}

uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, sizeof(b));
    return b;
}

void add_path_rows() {
    QTest::addColumn<int>("path");
    for (CpuPath p : kPaths) QTest::newRow(cpu_path_name(p)) << static_cast<int>(p);
}

// Selects the row's path; false (after QSKIP) when the CPU cannot run it.
bool select_path(int path) {
    if (!cpu_supports(static_cast<CpuPath>(path))) return false;
    set_cpu_path(static_cast<CpuPath>(path));
    return true;
}

// A paged cache of n_kv positions for n_kv_heads heads, blocks handed out in a scrambled order.
struct PagedCache {
    int block_size;
    int64_t row_stride;
    std::vector<fp16_t> k, v;
    std::vector<int32_t> table;
    std::vector<float> kf, vf;  // [n_kv][row_stride] the stored values, as floats, by position

    PagedCache(int n_kv, int n_kv_heads, int head_dim, int block_size_, std::mt19937& rng)
        : block_size(block_size_), row_stride(int64_t{n_kv_heads} * head_dim) {
        const int n_blocks = (n_kv + block_size - 1) / block_size + 2;  // two unused blocks in the pool
        table.resize(static_cast<size_t>(n_blocks));
        std::iota(table.begin(), table.end(), 0);
        std::shuffle(table.begin(), table.end(), rng);
        k.assign(static_cast<size_t>(n_blocks * block_size * row_stride), fp32_to_fp16(1000.f));  // poison
        v = k;
        const std::vector<float> kv = normal_floats(static_cast<size_t>(2 * n_kv * row_stride), rng);
        kf.resize(static_cast<size_t>(n_kv * row_stride));
        vf.resize(kf.size());
        for (int j = 0; j < n_kv; ++j) {
            const int64_t slot = (int64_t{table[static_cast<size_t>(j / block_size)]} * block_size + j % block_size) * row_stride;
            for (int64_t d = 0; d < row_stride; ++d) {
                const size_t at = static_cast<size_t>(j * row_stride + d);
                k[static_cast<size_t>(slot + d)] = fp32_to_fp16(kv[at]);
                v[static_cast<size_t>(slot + d)] = fp32_to_fp16(kv[kf.size() + at]);
                kf[at] = fp16_to_fp32(k[static_cast<size_t>(slot + d)]);
                vf[at] = fp16_to_fp32(v[static_cast<size_t>(slot + d)]);
            }
        }
    }
    PagedKv view() const { return {k.data(), v.data(), table.data(), block_size, row_stride}; }
};

}  // namespace

class TestCpuOps : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { set_cpu_path(best_cpu_path()); }

    void gemmMatchesVecDot_data() {
        QTest::addColumn<int>("path");
        QTest::addColumn<int>("type");
        QTest::addColumn<qint64>("n");
        const TensorType types[] = {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K,
                                    TensorType::F16,  TensorType::F32,  TensorType::BF16};
        for (CpuPath p : kPaths) {
            for (TensorType t : types) {
                const int64_t block = tensor_type_traits(t).block_size;
                for (int64_t blocks : {1, 3, 8}) {
                    const int64_t n = block == 1 ? 32 * blocks + 5 : block * blocks;
                    QTest::addRow("%s %s n=%lld", cpu_path_name(p), std::string(tensor_type_name(t)).c_str(),
                                  static_cast<long long>(n))
                        << static_cast<int>(p) << static_cast<int>(t) << qint64(n);
                }
            }
        }
    }

    void gemmMatchesVecDot() {
        QFETCH(int, path);
        QFETCH(int, type);
        QFETCH(qint64, n);
        PathGuard guard;
        if (!select_path(path)) QSKIP("this CPU cannot run the path");
        const auto t = static_cast<TensorType>(type);
        const TensorType xt = vec_dot_type(t);
        std::mt19937 rng(static_cast<uint32_t>(type * 1000 + n + path));
        const size_t w_stride = tensor_row_size(t, n) + 8;   // off the blocks' natural spacing, float-aligned
        const size_t x_stride = tensor_row_size(xt, n) + 4;   // keeps Q8_K's float scale 4-byte aligned
        const size_t scratch_bytes = vec_dot_gemm_scratch_bytes(t, n);
        std::vector<uint8_t> scratch(scratch_bytes + 1);
        for (int64_t rows : {1, 3, 4, 5, 9}) {
            for (int64_t acts : {4, 5, 7, 17}) {
                std::vector<uint8_t> w(w_stride * static_cast<size_t>(rows)), x(x_stride * static_cast<size_t>(acts));
                for (int64_t i = 0; i < rows; ++i) {
                    const auto values = normal_floats(static_cast<size_t>(n), rng, 0.05f);
                    quantize_row_reference(t, values.data(), w.data() + i * w_stride, n);
                }
                for (int64_t j = 0; j < acts; ++j) {
                    const auto values = normal_floats(static_cast<size_t>(n), rng);
                    quantize_row(xt, values.data(), x.data() + j * x_stride, n);
                }
                const size_t out_stride = static_cast<size_t>(rows) + 3;
                std::vector<float> out(out_stride * static_cast<size_t>(acts), -7.f);
                // An odd scratch address: the kernels align it themselves.
                vec_dot_gemm(t, n, w.data(), w_stride, rows, x.data(), x_stride, acts, out.data(), out_stride,
                             scratch.data() + 1, scratch_bytes);
                for (int64_t j = 0; j < acts; ++j) {
                    for (int64_t i = 0; i < rows; ++i) {
                        const float single = vec_dot(t, n, w.data() + i * w_stride, x.data() + j * x_stride);
                        QVERIFY2(bits_of(out[j * out_stride + i]) == bits_of(single),
                                 qPrintable(QString("rows %1 acts %2: (%3, %4)").arg(rows).arg(acts).arg(i).arg(j)));
                    }
                    for (size_t pad = static_cast<size_t>(rows); pad < out_stride; ++pad) QCOMPARE(out[j * out_stride + pad], -7.f);
                }
            }
        }
    }

    // More activation rows than one chunk of the GEMM's scratch, so its chunk loop runs more than once.
    void gemmCrossesChunks_data() { add_path_rows(); }
    void gemmCrossesChunks() {
        QFETCH(int, path);
        PathGuard guard;
        if (!select_path(path)) QSKIP("this CPU cannot run the path");
        const int64_t n = 4096, rows = 6, acts = 203;
        std::mt19937 rng(7);
        const size_t w_stride = tensor_row_size(TensorType::Q4_0, n), x_stride = tensor_row_size(TensorType::Q8_0, n);
        std::vector<uint8_t> w(w_stride * rows), x(x_stride * acts);
        for (int64_t i = 0; i < rows; ++i) {
            const auto values = normal_floats(static_cast<size_t>(n), rng, 0.05f);
            quantize_row_reference(TensorType::Q4_0, values.data(), w.data() + i * w_stride, n);
        }
        for (int64_t j = 0; j < acts; ++j) {
            const auto values = normal_floats(static_cast<size_t>(n), rng);
            quantize_row(TensorType::Q8_0, values.data(), x.data() + j * x_stride, n);
        }
        std::vector<uint8_t> scratch(vec_dot_gemm_scratch_bytes(TensorType::Q4_0, n));
        std::vector<float> out(static_cast<size_t>(rows * acts));
        vec_dot_gemm(TensorType::Q4_0, n, w.data(), w_stride, rows, x.data(), x_stride, acts, out.data(), rows,
                     scratch.data(), scratch.size());
        for (int64_t j = 0; j < acts; ++j) {
            for (int64_t i = 0; i < rows; ++i) {
                const float single = vec_dot(TensorType::Q4_0, n, w.data() + i * w_stride, x.data() + j * x_stride);
                QCOMPARE(bits_of(out[static_cast<size_t>(j * rows + i)]), bits_of(single));
            }
        }
        if (scratch.size() > 0) {
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                     vec_dot_gemm(TensorType::Q4_0, n, w.data(), w_stride, rows, x.data(), x_stride, acts,
                                                  out.data(), rows, scratch.data(), scratch.size() - 1));
        }
    }

    void attentionMatchesReference_data() {
        QTest::addColumn<int>("path");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("n_q");
        QTest::addColumn<int>("block_size");
        for (CpuPath p : kPaths) {
            for (int head_dim : {8, 24, 64, 72, 128}) {
                for (int n_q : {1, 3, 8}) {
                    for (int block_size : {16, 7}) {
                        QTest::addRow("%s d=%d q=%d bs=%d", cpu_path_name(p), head_dim, n_q, block_size)
                            << static_cast<int>(p) << head_dim << n_q << block_size;
                    }
                }
            }
        }
    }

    void attentionMatchesReference() {
        QFETCH(int, path);
        QFETCH(int, head_dim);
        QFETCH(int, n_q);
        QFETCH(int, block_size);
        PathGuard guard;
        if (!select_path(path)) QSKIP("this CPU cannot run the path");
        std::mt19937 rng(static_cast<uint32_t>(head_dim * 100 + n_q * 10 + block_size + path));
        const int n_kv_heads = 2, kv_head = 1;
        for (int n_kv : {1, 5, 17, 100}) {
            const PagedCache cache(n_kv, n_kv_heads, head_dim, block_size, rng);
            const std::vector<float> q = normal_floats(static_cast<size_t>(n_q * head_dim), rng);
            const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
            std::vector<float> scratch(static_cast<size_t>(attention_scratch_floats(n_q, head_dim, n_kv)));
            std::vector<float> out(static_cast<size_t>(n_q * head_dim), 99.f);
            AttentionArgs a;
            a.q = q.data();
            a.n_q = n_q;
            a.head_dim = head_dim;
            a.kv = cache.view();
            a.kv_head = kv_head;
            a.n_kv = n_kv;
            a.scale = scale;
            a.scratch = scratch.data();
            a.out = out.data();
            attention(a);
            // Reference in double: the query rounded to f16 as the kernels do; the softmax weights exact
            // (the kernels round them to f16: a relative error of 2^-11 per weight).
            for (int g = 0; g < n_q; ++g) {
                std::vector<double> s(static_cast<size_t>(n_kv));
                for (int j = 0; j < n_kv; ++j) {
                    double dot = 0;
                    for (int d = 0; d < head_dim; ++d) {
                        const double qd = fp16_to_fp32(fp32_to_fp16(q[static_cast<size_t>(g * head_dim + d)]));
                        dot += qd * cache.kf[static_cast<size_t>(j * cache.row_stride + kv_head * head_dim + d)];
                    }
                    s[static_cast<size_t>(j)] = dot * scale;
                }
                const double max = *std::max_element(s.begin(), s.end());
                double sum = 0;
                for (auto& e : s) sum += e = std::exp(e - max);
                for (int d = 0; d < head_dim; ++d) {
                    double ref = 0, magnitude = 0;
                    for (int j = 0; j < n_kv; ++j) {
                        const double term = s[static_cast<size_t>(j)] / sum *
                                            cache.vf[static_cast<size_t>(j * cache.row_stride + kv_head * head_dim + d)];
                        ref += term;
                        magnitude += std::abs(term);
                    }
                    const double got = out[static_cast<size_t>(g * head_dim + d)];
                    QVERIFY2(std::abs(got - ref) <= 1e-3 * magnitude + 1e-6,
                             qPrintable(QString("n_kv %1 head %2 dim %3: %4 vs %5").arg(n_kv).arg(g).arg(d).arg(got).arg(ref)));
                }
            }
        }
    }

    void attentionRejectsBadShapes() {
        AttentionArgs a;
        a.head_dim = 0;
        a.n_kv = 1;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, attention(a));
        a.head_dim = kMaxAttentionHeadDim + 1;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, attention(a));
        a.head_dim = 64;
        a.n_kv = 0;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, attention(a));
    }

    void rowOpsMatchScalar_data() { add_path_rows(); }
    void rowOpsMatchScalar() {
        QFETCH(int, path);
        PathGuard guard;
        if (!cpu_supports(static_cast<CpuPath>(path))) QSKIP("this CPU cannot run the path");
        std::mt19937 rng(11);
        for (int64_t n : {1, 7, 16, 33, 100, 2048, 5637}) {
            std::vector<float> gate = normal_floats(static_cast<size_t>(n), rng, 3.f);
            const std::vector<float> up = normal_floats(static_cast<size_t>(n), rng);
            const std::vector<float> weight = normal_floats(static_cast<size_t>(n), rng);
            gate[0] = -100.f;  // exp(100) overflows: the result must still be finite and (almost) zero
            if (n > 1) gate[1] = 90.f;

            set_cpu_path(CpuPath::Scalar);
            std::vector<float> swiglu_ref(static_cast<size_t>(n)), norm_ref(swiglu_ref.size());
            std::vector<fp16_t> half_ref(swiglu_ref.size());
            swiglu_row(gate.data(), up.data(), swiglu_ref.data(), n);
            rms_norm_row(up.data(), weight.data(), norm_ref.data(), n, 1e-5f);
            store_f16_row(gate.data(), half_ref.data(), n);

            set_cpu_path(static_cast<CpuPath>(path));
            std::vector<float> swiglu(static_cast<size_t>(n)), norm(swiglu.size());
            std::vector<fp16_t> half(swiglu.size());
            swiglu_row(gate.data(), up.data(), swiglu.data(), n);
            rms_norm_row(up.data(), weight.data(), norm.data(), n, 1e-5f);
            store_f16_row(gate.data(), half.data(), n);
            for (size_t i = 0; i < swiglu.size(); ++i) {
                QVERIFY2(std::isfinite(swiglu[i]), qPrintable(QString("swiglu n %1 [%2]").arg(n).arg(i)));
                QVERIFY2(std::abs(swiglu[i] - swiglu_ref[i]) <= 4e-7f * std::abs(swiglu_ref[i]) + 1e-30f,
                         qPrintable(QString("swiglu n %1 [%2]: %3 vs %4").arg(n).arg(i).arg(swiglu[i]).arg(swiglu_ref[i])));
                QVERIFY2(std::abs(norm[i] - norm_ref[i]) <= 2e-6f * std::abs(norm_ref[i]),
                         qPrintable(QString("rms_norm n %1 [%2]: %3 vs %4").arg(n).arg(i).arg(norm[i]).arg(norm_ref[i])));
                QCOMPARE(half[i], half_ref[i]);
            }
            QVERIFY(std::abs(swiglu[0]) < 1e-30f);  // silu(-100) underflows to (almost) zero
            if (n > 1) QVERIFY(std::abs(swiglu[1] / (90.f * up[1]) - 1.f) < 1e-6f);  // silu(90) = 90
        }
    }
};

QTEST_GUILESS_MAIN(TestCpuOps)
#include "tst_cpu_ops.moc"
