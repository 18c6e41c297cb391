// The attention entry point: the scalar instantiation of attention_simd.h and the dispatch to the
// active path's (attention_avx2.cpp, attention_avx512.cpp), which need head_dim to be a whole number of
// registers.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/attention_simd.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu {
namespace {

struct ScalarVec {
    static constexpr int kLanes = 1;
    using R = float;
    static R zero() { return 0.0f; }
    static R set1(float x) { return x; }
    static R load(const float* p) { return *p; }
    static void store(float* p, R x) { *p = x; }
    static R load_f16(const fp16_t* p) { return fp16_to_fp32(*p); }
    static R round_f16(R x) { return fp16_to_fp32(fp32_to_fp16(x)); }
    static R add(R a, R b) { return a + b; }
    static R mul(R a, R b) { return a * b; }
    static R fma(R a, R b, R c) { return std::fma(a, b, c); }
    static R max(R a, R b) { return a > b ? a : b; }
    static R exp(R x) { return std::exp(x); }
    static float reduce_add(R x) { return x; }
    static float reduce_max(R x) { return x; }
    static R transpose_sum(const R* p) { return p[0]; }
};

}  // namespace

void attention(const AttentionArgs& a) {
    if (a.head_dim <= 0 || a.head_dim > kMaxAttentionHeadDim) {
        throw std::invalid_argument("attention: head_dim " + std::to_string(a.head_dim) + " is not supported");
    }
    if (a.n_q < 1 || a.n_kv < 1) {
        throw std::invalid_argument("attention: needs at least one query head and one position (n_q " +
                                    std::to_string(a.n_q) + ", n_kv " + std::to_string(a.n_kv) + ")");
    }
    if (a.n_tail < 0 || a.n_tail > a.n_kv || (a.n_tail > 0 && a.tail == nullptr)) {
        throw std::invalid_argument("attention: n_tail " + std::to_string(a.n_tail) + " is outside 0.." +
                                    std::to_string(a.n_kv) + " or has no positions");
    }
    const CpuPath path = cpu_path();
    if (path == CpuPath::Avx512 && a.head_dim % 16 == 0) return avx512::attention(a);
    if (path != CpuPath::Scalar && a.head_dim % 8 == 0) return avx2::attention(a);
    attention_detail::AttentionLoop<ScalarVec>::run(a);
}

void store_f16_row(const float* x, fp16_t* dst, int64_t n) {
    switch (cpu_path()) {
        case CpuPath::Avx512: return avx512::store_f16_row(x, dst, n);
        case CpuPath::Avx2: return avx2::store_f16_row(x, dst, n);
        case CpuPath::Scalar: break;
    }
    for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(x[i]);
}

}  // namespace peregrine::kernels::cpu
