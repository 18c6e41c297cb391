// Element-wise addition (residual connections, projection biases).
#pragma once

#include <cstdint>

namespace peregrine::kernels::cpu {

// out[i] = a[i] + b[i] for i < n. `out` may alias `a` or `b`.
void add(const float* a, const float* b, float* out, int64_t n);

}  // namespace peregrine::kernels::cpu
