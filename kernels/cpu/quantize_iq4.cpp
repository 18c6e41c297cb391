// Reference quantizers of IQ4_NL and IQ4_XS (no importance matrix), following ggml's search so files
// match llama-quantize's bytes.
//
// Both store 4-bit indices into the non-linear codebook kIq4nlValues. Per 32-value block the scale is
// searched: start from max / 127 (the codebook's extreme), then try 15 scales (itry - 127) / max and keep
// the least-squares scale with the best sum(w*q*x)^2 / sum(w*q^2), weights w = x^2.
//   IQ4_NL: one block, its fp16 scale stored as is, indices recomputed with that scale.
//   IQ4_XS: 8 blocks per 256-value super-block; the block scales are quantized to 6 bits (l - 32) against
//           d = -max_scale / 32, and every block's indices are recomputed with its stored scale d * l.
#include <cmath>
#include <cstring>

#include "kernels/cpu/quantize_common.h"

namespace peregrine::kernels::cpu {
namespace {

constexpr float kGroupMaxEps = 1e-15f;
constexpr int kTries = 7;

// Index of the codebook entry nearest to x (the codebook is sorted); an exact midpoint picks the upper one.
int nearest_codebook_index(float x) {
    const int8_t* values = kIq4nlValues;
    if (x <= values[0]) return 0;
    if (x >= values[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (x < values[mid]) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return x - values[hi - 1] < values[hi] - x ? hi - 1 : hi;
}

// Best scale of one 32-value block (0 for an all-zero block).
float fit_block_scale(const float* x) {
    float weight[32];
    for (int j = 0; j < 32; ++j) weight[j] = x[j] * x[j];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
        const float ax = std::fabs(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    if (amax < kGroupMaxEps) return 0.f;

    const auto fit = [&](float id, float& sumqx, float& sumq2) {
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; ++j) {
            const auto q = static_cast<float>(kIq4nlValues[nearest_codebook_index(id * x[j])]);
            sumqx += weight[j] * q * x[j];
            sumq2 += weight[j] * q * q;
        }
    };
    float sumqx, sumq2;
    fit(1 / (-max / static_cast<float>(kIq4nlValues[0])), sumqx, sumq2);
    float d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -kTries; itry <= kTries; ++itry) {
        fit(static_cast<float>(itry + kIq4nlValues[0]) / max, sumqx, sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

// Indices of 32 values for the scale they will be decoded with (inverse scale id), packed like Q4_0:
// value j in the low nibble of byte j, value j+16 in the high nibble.
void pack_indices(const float* x, float id, uint8_t* qs) {
    uint8_t L[32];
    for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(nearest_codebook_index(id * x[j]));
    for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

}  // namespace

void quantize_iq4_nl_reference(const float* x, BlockIQ4_NL* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK4_NL) {
        const float scale = fit_block_scale(x);
        y[i].d = fp32_to_fp16(scale);
        pack_indices(x, scale != 0 ? 1 / scale : 0.f, y[i].qs);
    }
}

void quantize_iq4_xs_reference(const float* x, BlockIQ4_XS* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
        float scales[kQK_K / 32];
        float max_scale = 0, amax_scale = 0;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            scales[ib] = fit_block_scale(x + 32 * ib);
            const float a = std::fabs(scales[ib]);
            if (a > amax_scale) {
                amax_scale = a;
                max_scale = scales[ib];
            }
        }
        const float d = -max_scale / 32;  // -0.0 for an all-zero super-block, as ggml stores it
        y[i].d = fp32_to_fp16(d);
        const float id = d != 0 ? 1 / d : 0.f;
        y[i].scales_h = 0;
        std::memset(y[i].scales_l, 0, sizeof(y[i].scales_l));
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            int l = round_nearest_even(id * scales[ib]);
            l = l < -32 ? -32 : (l > 31 ? 31 : l);
            const float dl = d * static_cast<float>(l);
            pack_indices(x + 32 * ib, dl != 0 ? 1 / dl : 0.f, y[i].qs + 16 * ib);
            l += 32;
            y[i].scales_l[ib / 2] = static_cast<uint8_t>(y[i].scales_l[ib / 2] | ((l & 0xF) << (4 * (ib % 2))));
            y[i].scales_h = static_cast<uint16_t>(y[i].scales_h | ((l >> 4) << (2 * ib)));
        }
    }
}

}  // namespace peregrine::kernels::cpu
