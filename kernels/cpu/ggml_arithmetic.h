// Scalar reproductions of the rounding order of ggml's x86 AVX-512 CPU kernels, which produced the
// reference logits in shared/golden. Results that differ from llama.cpp's by a single ulp are not
// harmless here: activations are then rounded to f16 or quantized to 8 bits, and a value that lands on
// the other side of a rounding boundary moves a logit by up to 0.1. So the dot products, the softmax
// exponentials and SiLU follow ggml's operation order exactly:
//
//  * lanes16: llamafile's tinyBLAS (ggml's matmul for batches of >= 2 rows when k % 16 == 0): one
//    16-lane accumulator per output, fused multiply-add over k, then _mm512_reduce_add_ps.
//  * vec_dot order (ggml_vec_dot_f16 / _f32, single rows and k % 16 != 0): four 16-lane accumulators
//    over the first n & ~63 elements, folded (0+2, 1+3, then 0+1) and reduced like lanes16; the rest
//    is added one by one (f16: in double; f32: in float, partly fused, see dot_vec_f32).
//  * expf_simd: ggml_v_expf, the polynomial exponential ggml uses on 16-value chunks in softmax and SiLU.
//
// f16 * f16 products are exact in float, so for f16 data a fused multiply-add equals a plain add of the
// product; only f32 data needs std::fma.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>

#include "kernels/cpu/fp16.h"

namespace peregrine::kernels::cpu::ggml {

// f16 -> f32 for every half (the decode is in every inner loop; a table beats the branchy conversion).
inline const float* f16_table() {
    static const std::unique_ptr<float[]> table = [] {
        auto t = std::make_unique<float[]>(65536);
        for (uint32_t h = 0; h < 65536; ++h) t[h] = fp16_to_fp32(static_cast<fp16_t>(h));
        return t;
    }();
    return table.get();
}

// _mm512_reduce_add_ps: halves folded 8, 4, then pairs (0+2, 1+3), then the two results.
inline float reduce16(const float* lane) {
    float t8[8];
    for (int l = 0; l < 8; ++l) t8[l] = lane[l + 8] + lane[l];
    float t4[4];
    for (int l = 0; l < 4; ++l) t4[l] = t8[l + 4] + t8[l];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

// lanes16 order over n (a multiple of 16) products product(i); `fused` selects fma for inexact products.
template <bool Fused, typename A, typename B>
float dot_lanes16(int64_t n, A&& a, B&& b) {
    float lane[16] = {};
    for (int64_t i = 0; i < n; i += 16) {
        for (int l = 0; l < 16; ++l) {
            if constexpr (Fused) {
                lane[l] = std::fma(a(i + l), b(i + l), lane[l]);
            } else {
                lane[l] += a(i + l) * b(i + l);
            }
        }
    }
    return reduce16(lane);
}

// The SIMD part of ggml_vec_dot_*: 4 x 16 lanes over the first np = n & ~63 elements, folded to one
// 16-lane vector, then reduce16. Returns the float result; *np_out receives np.
template <bool Fused, typename A, typename B>
float dot_vec_simd_part(int64_t n, A&& a, B&& b, int64_t* np_out) {
    const int64_t np = n & ~int64_t{63};
    float acc[4][16] = {};
    for (int64_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 4; ++j) {
            for (int l = 0; l < 16; ++l) {
                const int64_t k = i + 16 * j + l;
                if constexpr (Fused) {
                    acc[j][l] = std::fma(a(k), b(k), acc[j][l]);
                } else {
                    acc[j][l] += a(k) * b(k);
                }
            }
        }
    }
    for (int l = 0; l < 16; ++l) {
        acc[0][l] += acc[2][l];
        acc[1][l] += acc[3][l];
    }
    for (int l = 0; l < 16; ++l) acc[0][l] += acc[1][l];
    *np_out = np;
    return reduce16(acc[0]);
}

// ggml_vec_dot_f16 on f16 data (given as two decode functors): the tail is summed in double.
template <typename A, typename B>
float dot_vec_f16(int64_t n, A&& a, B&& b) {
    int64_t np = 0;
    double sum = dot_vec_simd_part<false>(n, a, b, &np);
    for (int64_t i = np; i < n; ++i) sum += static_cast<double>(a(i) * b(i));
    return static_cast<float>(sum);
}

// ggml_vec_dot_f32. Its tail loop (`sumf += x[i]*y[i]`) is as g++ 12 -O3 -march=native compiles it:
// vectorised products for 16- and then 8-element pieces, added one by one without fusing, and the last
// n % 8 elements with scalar fused multiply-adds.
inline float dot_vec_f32(int64_t n, const float* x, const float* y) {
    int64_t i = 0;
    float sum = dot_vec_simd_part<true>(n, [x](int64_t k) { return x[k]; }, [y](int64_t k) { return y[k]; }, &i);
    int64_t rest = n - i;
    if (rest >= 16) {
        for (const int64_t end = i + rest / 16 * 16; i < end; ++i) sum += x[i] * y[i];
        rest = n - i;
    }
    if (rest >= 8) {
        for (const int64_t end = i + 8; i < end; ++i) sum += x[i] * y[i];
    }
    for (; i < n; ++i) sum = std::fma(x[i], y[i], sum);
    return sum;
}

// ggml_v_expf (AVX-512 variant): exp(x) as 2^n * p(b) with n = round(x / ln 2) and a degree-5
// polynomial p; |n| > 192 gives 0 or inf. Within 1.5 ulp of expf, but not always equal to it.
inline float expf_simd(float x) {
    if (std::isnan(x)) return x;
    const float shifter = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, shifter);
    const float n = z - shifter;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    if (!(std::fabs(n) <= 192.0f)) return n <= 0.0f ? 0.0f : INFINITY;
    return std::ldexp(j, static_cast<int>(n));
}

}  // namespace peregrine::kernels::cpu::ggml
