// RMSNorm of one row, with ggml's rounding: the sum of squares is accumulated in double, the scale
// 1/sqrt(mean + eps) is computed in float, and x*scale is rounded before the multiplication by the weight
// (ggml runs rms_norm and mul as two ops, so there are two roundings, not one fused product).
#pragma once

#include <cstdint>

namespace peregrine::kernels::cpu {

// y[i] = (x[i] * scale) * weight[i]; weight may be null (plain normalisation). `y` may alias `x`.
void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps);

}  // namespace peregrine::kernels::cpu
