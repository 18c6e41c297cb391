// Vec256: the vector interface of attention_simd.h and elementwise_simd.h on 8 AVX2 float lanes (with
// FMA and F16C). Only *_avx2.cpp files include this header; its anonymous namespace gives each of them
// its own copy, compiled with that file's flags (simd_kernels.h).
#pragma once

#include <immintrin.h>

#include "kernels/cpu/fp16.h"

namespace peregrine::kernels::cpu {
namespace {

struct Vec256 {
    static constexpr int kLanes = 8;
    using R = __m256;
    static R zero() { return _mm256_setzero_ps(); }
    static R set1(float x) { return _mm256_set1_ps(x); }
    static R load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, R x) { _mm256_storeu_ps(p, x); }
    static R load_f16(const fp16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static void store_f16(fp16_t* p, R x) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    static R round_f16(R x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
    static R add(R a, R b) { return _mm256_add_ps(a, b); }
    static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
    static R div(R a, R b) { return _mm256_div_ps(a, b); }
    static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
    static R max(R a, R b) { return _mm256_max_ps(a, b); }
    static float reduce_add(R x) {
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
        const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
    }
    static float reduce_max(R x) {
        const __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
        const __m128 t = _mm_max_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_max_ss(t, _mm_movehdup_ps(t)));
    }

    // exp(x) as in Vec512::exp (simd_vec_avx512.h).
    static R exp(R x) {
        x = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
        const R n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        R r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
        r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
        R p = _mm256_set1_ps(1.9875691500e-4f);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
        const R y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
        const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
    }

    // Lane i of the result = sum of the 8 lanes of p[i]: two rounds of horizontal adds leave, in each
    // 128-bit half, four partial sums; the halves are then gathered and added.
    static R transpose_sum(const R* p) {
        const R h0 = _mm256_hadd_ps(p[0], p[1]);
        const R h1 = _mm256_hadd_ps(p[2], p[3]);
        const R h2 = _mm256_hadd_ps(p[4], p[5]);
        const R h3 = _mm256_hadd_ps(p[6], p[7]);
        const R g0 = _mm256_hadd_ps(h0, h1);  // halves: p0..p3 over lanes 0-3 | over lanes 4-7
        const R g1 = _mm256_hadd_ps(h2, h3);  // the same for p4..p7
        return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
    }
};

}  // namespace
}  // namespace peregrine::kernels::cpu
