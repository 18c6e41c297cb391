// Rotary position embedding with ggml's arithmetic (rope with ext_factor 0, attn_factor 1).
//
// For pair i (0 <= i < n_rot/2) at position p the angle is freq_scale * (p * theta_scale^i) / ff[i] with
// theta_scale = powf(freq_base, -2/n_rot). Like ggml, theta_scale^i is built by repeated float
// multiplication (theta *= theta_scale), not by powf per pair, so the angles round the same way.
// Normal (GPT-J) style rotates adjacent pairs (2i, 2i+1); NeoX style rotates (i, i + n_rot/2).
// The rotation x0*c - x1*s, x0*s + x1*c is evaluated as g++ contracts ggml's C code (-O3, FMA):
// fma(x0, c, -(x1*s)) and fma(x0, s, x1*c). Dimensions at and beyond n_rot are left unchanged.
#pragma once

#include <cstdint>

namespace peregrine::kernels::cpu {

struct RopeConfig {
    int n_rot = 0;                            // rotated dimensions per head (even, <= head_dim)
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;                  // 1 / linear scaling factor
    bool neox = false;                        // pairs (i, i + n_rot/2) instead of (2i, 2i+1)
    const float* freq_factors = nullptr;      // optional [n_rot/2] divisors of the angle (rope_freqs)
};

// Fills cos_sin[2i] = cos(angle_i), cos_sin[2i+1] = sin(angle_i) for i < n_rot/2 at position `pos`.
void rope_angles(const RopeConfig& config, int32_t pos, float* cos_sin);

// Rotates every head of a row x = [n_heads][head_dim] in place with angles from rope_angles.
void rope_apply(const RopeConfig& config, const float* cos_sin, float* x, int n_heads, int head_dim);

}  // namespace peregrine::kernels::cpu
