// SwiGLU gating of the feed-forward block: silu(gate) * up, one row at a time.
#pragma once

#include <cstdint>

namespace peregrine::kernels::cpu {

// out[i] = silu(gate[i]) * up[i] over one row of n values, silu(g) = g / (1 + exp(-g)). The scalar path
// uses std::exp, the SIMD paths a polynomial exponential within about 1 ulp of it (simd_vec_avx512.h).
// `out` may alias gate or up.
void swiglu_row(const float* gate, const float* up, float* out, int64_t n);

}  // namespace peregrine::kernels::cpu
