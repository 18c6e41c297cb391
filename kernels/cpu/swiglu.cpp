#include "kernels/cpu/swiglu.h"

#include <cmath>

#include "kernels/cpu/ggml_arithmetic.h"

namespace peregrine::kernels::cpu {

void swiglu_row(const float* gate, const float* up, float* out, int64_t n) {
    const int64_t n_simd = n - n % 16;
    for (int64_t i = 0; i < n_simd; ++i) {
        const float g = gate[i];
        const float silu = g / (1.0f + ggml::expf_simd(0.0f - g));
        out[i] = silu * up[i];
    }
    for (int64_t i = n_simd; i < n; ++i) {
        const float g = gate[i];
        const float silu = g / (1.0f + std::exp(-g));
        out[i] = silu * up[i];
    }
}

}  // namespace peregrine::kernels::cpu
