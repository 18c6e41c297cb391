// Per-type dot product kernels behind vec_dot (vec_dot.cpp dispatches). Internal to kernels/cpu.
// n is the row length in elements, already checked to be a whole number of blocks.
#pragma once

#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace peregrine::kernels::cpu {

// vec_dot_kquants.cpp: weights in 256-value super-blocks against Q8_K activations.
float vec_dot_q2_k_q8_k(int64_t nb, const BlockQ2_K* x, const BlockQ8_K* y);
float vec_dot_q3_k_q8_k(int64_t nb, const BlockQ3_K* x, const BlockQ8_K* y);
float vec_dot_q4_k_q8_k(int64_t nb, const BlockQ4_K* x, const BlockQ8_K* y);
float vec_dot_q5_k_q8_k(int64_t nb, const BlockQ5_K* x, const BlockQ8_K* y);
float vec_dot_q6_k_q8_k(int64_t nb, const BlockQ6_K* x, const BlockQ8_K* y);
float vec_dot_iq4_xs_q8_k(int64_t nb, const BlockIQ4_XS* x, const BlockQ8_K* y);

// Exact integer dot product of two int8 runs of length N (N a compile-time constant so the loop unrolls
// and vectorizes).
template <int N>
inline int32_t dot_i8(const int8_t* a, const int8_t* b) {
    int32_t sum = 0;
    for (int i = 0; i < N; ++i) sum += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
    return sum;
}

}  // namespace peregrine::kernels::cpu
