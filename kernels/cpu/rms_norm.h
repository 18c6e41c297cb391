// RMSNorm of one row: y = (x * scale) * weight with scale = 1 / sqrt(mean(x^2) + eps), rounded twice as
// ggml does (rms_norm and mul are two ops there). The scalar path sums the squares in double, the SIMD
// paths in float lanes (elementwise_simd.h); they agree to float rounding.
#pragma once

#include <cstdint>

namespace peregrine::kernels::cpu {

// y[i] = (x[i] * scale) * weight[i]; weight may be null (plain normalisation). `y` may alias `x`.
void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps);

}  // namespace peregrine::kernels::cpu
