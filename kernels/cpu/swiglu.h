// SwiGLU gating of the feed-forward block: silu(gate) * up, one row at a time.
#pragma once

#include <cstdint>

namespace peregrine::kernels::cpu {

// out[i] = silu(gate[i]) * up[i] over one row of n values, silu(g) = g / (1 + exp(-g)), rounded like
// ggml's silu and mul ops: the first n - n % 16 values take ggml's vectorised exponential
// (ggml::expf_simd), the rest expf, as ggml_vec_silu_f32 does per row. `out` may alias gate or up.
void swiglu_row(const float* gate, const float* up, float* out, int64_t n);

}  // namespace peregrine::kernels::cpu
