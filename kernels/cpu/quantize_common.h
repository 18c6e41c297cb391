// Rounding helpers shared by the quantizers (quantize.cpp, quantize_kquants.cpp, quantize_iq4.cpp), and
// the K-quant and IQ4 reference quantizers' entry points. Internal to kernels/cpu.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant_blocks.h"

namespace peregrine::kernels::cpu {

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 pushes the fraction out of the
// mantissa under the default rounding mode, and the integer is read back from the low mantissa bits.
// This is what both the SIMD path (_mm256_round_ps) and ggml's K-quant helpers compute. Reading the bits
// keeps it defined for any input (a NaN gives some value, never undefined behaviour).
inline int round_nearest_even(float v) {
    const float shifted = v + 12582912.f;
    uint32_t bits;
    std::memcpy(&bits, &shifted, sizeof(bits));
    return static_cast<int>(bits & 0x007fffffu) - 0x00400000;
}

// Round half away from zero (C's roundf) for |v| < 2^23, without a libm call per element.
inline int round_half_away(float v) {
    if (!(v > -8388608.f && v < 8388608.f)) return 0;  // NaN or out of range: never happens for sane rows
    const int t = static_cast<int>(v);  // truncates toward zero
    const float frac = v - static_cast<float>(t);  // exact
    if (frac >= 0.5f) return t + 1;
    if (frac <= -0.5f) return t - 1;
    return t;
}

// Truncation to a level 0..max, as the reference quantizers' (int8_t)(v) casts followed by MIN(max, .):
// v is >= 0 for every finite input, and NaN maps to 0 instead of undefined behaviour.
inline int truncate_level(float v, int max) {
    if (!(v > 0.f)) return 0;
    if (v >= static_cast<float>(max)) return max;
    return static_cast<int>(v);
}

// Reference K-quant quantizers (quantize_kquants.cpp): n is a multiple of 256, already checked.
void quantize_q2_k_reference(const float* x, BlockQ2_K* y, int64_t nb);
void quantize_q3_k_reference(const float* x, BlockQ3_K* y, int64_t nb);
void quantize_q4_k_reference(const float* x, BlockQ4_K* y, int64_t nb);
void quantize_q5_k_reference(const float* x, BlockQ5_K* y, int64_t nb);
void quantize_q6_k_reference(const float* x, BlockQ6_K* y, int64_t nb);

// Reference IQ4 quantizers (quantize_iq4.cpp).
void quantize_iq4_nl_reference(const float* x, BlockIQ4_NL* y, int64_t nb);
void quantize_iq4_xs_reference(const float* x, BlockIQ4_XS* y, int64_t nb);

}  // namespace peregrine::kernels::cpu
