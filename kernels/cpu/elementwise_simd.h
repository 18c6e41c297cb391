// Row-wise element operations of the forward pass, written once over the vector interface of
// attention_simd.h and instantiated by elementwise_avx2.cpp and elementwise_avx512.cpp (each with a V
// from its own anonymous namespace; the scalar versions live in swiglu.cpp, rms_norm.cpp, attention.cpp).
// A row's last n % kLanes values go through a zero-padded register, so every value takes the same
// arithmetic.
#pragma once

#include <cstdint>

#include "kernels/cpu/fp16.h"

namespace peregrine::kernels::cpu::elementwise_detail {

template <class V>
struct Elementwise {
    using R = typename V::R;
    static constexpr int L = V::kLanes;

    // silu(g) * u = g / (1 + exp(-g)) * u
    static R swiglu(R g, R u) { return V::mul(V::div(g, V::add(V::set1(1.0f), V::exp(V::mul(g, V::set1(-1.0f))))), u); }

    static void swiglu_row(const float* gate, const float* up, float* out, int64_t n) {
        const int64_t n_vec = n - n % L;
        for (int64_t i = 0; i < n_vec; i += L) V::store(out + i, swiglu(V::load(gate + i), V::load(up + i)));
        if (n_vec == n) return;
        float g[L] = {}, u[L] = {};
        for (int64_t i = n_vec; i < n; ++i) {
            g[i - n_vec] = gate[i];
            u[i - n_vec] = up[i];
        }
        V::store(g, swiglu(V::load(g), V::load(u)));
        for (int64_t i = n_vec; i < n; ++i) out[i] = g[i - n_vec];
    }

    // The sum of squares in L float lanes (each adds n / L terms, far below float's error budget for the
    // row widths of real models), then y = (x * scale) * weight with two roundings, as ggml does.
    static void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps) {
        const int64_t n_vec = n - n % L;
        R acc = V::zero();
        for (int64_t i = 0; i < n_vec; i += L) {
            const R v = V::load(x + i);
            acc = V::fma(v, v, acc);
        }
        float sum = V::reduce_add(acc);
        for (int64_t i = n_vec; i < n; ++i) sum += x[i] * x[i];
        const float scale = 1.0f / __builtin_sqrtf(sum / static_cast<float>(n) + eps);
        const R vscale = V::set1(scale);
        for (int64_t i = 0; i < n_vec; i += L) {
            const R v = V::mul(V::load(x + i), vscale);
            V::store(y + i, weight != nullptr ? V::mul(v, V::load(weight + i)) : v);
        }
        for (int64_t i = n_vec; i < n; ++i) {
            const float v = x[i] * scale;
            y[i] = weight != nullptr ? v * weight[i] : v;
        }
    }

    static void store_f16_row(const float* x, fp16_t* dst, int64_t n) {
        const int64_t n_vec = n - n % L;
        for (int64_t i = 0; i < n_vec; i += L) V::store_f16(dst + i, V::load(x + i));
        if (n_vec == n) return;
        float lane[L] = {};
        fp16_t half[L];
        for (int64_t i = n_vec; i < n; ++i) lane[i - n_vec] = x[i];
        V::store_f16(half, V::load(lane));
        for (int64_t i = n_vec; i < n; ++i) dst[i] = half[i - n_vec];
    }
};

}  // namespace peregrine::kernels::cpu::elementwise_detail
