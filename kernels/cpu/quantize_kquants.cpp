// Reference quantizers of the K-quants (what llama-quantize writes without an importance matrix).
//
// A K-quant super-block of 256 values is split into sub-blocks (16 values for Q2_K/Q3_K/Q6_K, 32 for
// Q4_K/Q5_K). Each sub-block first gets its own float scale (and min) from a small search, then those
// sub-block scales are themselves quantized to 4/6/8 bits against one fp16 super-block scale, and
// finally every value is re-quantized against the scale it will actually be decoded with.
//
// The sub-block searches follow ggml's algorithms (same candidate scales, same float expression order)
// so that our files match llama-quantize's bytes where the compiler rounds the same way:
//   fit_scale_min   (ggml's make_qkx2_quants) asymmetric: tries nstep+1 scales around nmax/(max-min),
//                   each followed by a weighted least-squares fit of scale and min, keeps the lowest
//                   weighted error.
//   fit_scale       (make_qx_quants, rmse_type 1) symmetric: weights x^2, tries 18 scales around
//                   nmax/max, each with its least-squares scale, keeps the best sum(w*x*l)^2/sum(w*l^2).
//   fit_scale_q3    (make_q3_quants) symmetric with a few rounds of per-value coordinate descent.
#include <cmath>
#include <cstring>

#include "kernels/cpu/quantize_common.h"

namespace peregrine::kernels::cpu {
namespace {

// Values that small count as an all-zero group (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Finds scale s and min m (m <= 0) minimising sum w_i * err(s*L_i + m - x_i), L_i in 0..nmax, where err is
// |.| (use_abs) or squared. Writes the levels to L and returns s; the_min receives -m.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float& the_min,
                    float rmin, float rdelta, int nstep, bool use_abs) {
    uint8_t trial[32];
    float min = x[0];
    float max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::memset(L, 0, static_cast<size_t>(n));
        the_min = -min;
        return 0.f;
    }
    const auto error_of = [&](float diff) { return use_abs ? std::fabs(diff) : diff * diff; };

    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(clamp_int(round_nearest_even(iscale * (x[i] - min)), 0, nmax));
        best_error += w[i] * error_of(scale * L[i] + min - x[i]);
    }
    if (nstep < 1) {
        the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_int(round_nearest_even(iscale * (x[i] - min)), 0, nmax);
            trial[i] = static_cast<uint8_t>(l);
            sum_l += w[i] * static_cast<float>(l);
            sum_l2 += w[i] * static_cast<float>(l) * static_cast<float>(l);
            sum_xl += w[i] * static_cast<float>(l) * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float error = 0;
        for (int i = 0; i < n; ++i) error += w[i] * error_of(this_scale * trial[i] + this_min - x[i]);
        if (error < best_error) {
            std::memcpy(L, trial, static_cast<size_t>(n));
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    the_min = -min;
    return scale;
}

// Symmetric fit with weights x^2 (or the given weights): levels L in 0..2*nmax-1 (stored +nmax).
float fit_scale(int n, int nmax, const float* x, int8_t* L, const float* weights) {
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::memset(L, 0, static_cast<size_t>(n));
        return 0.f;
    }
    const auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
    const auto level = [&](float iscale, int i) {
        return clamp_int(round_nearest_even(iscale * x[i]), -nmax, nmax - 1);
    };
    float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = level(iscale, i);
        L[i] = static_cast<int8_t>(l + nmax);
        const float w = weight(i);
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = level(iscale, i);
            const float w = weight(i);
            sumlx += w * x[i] * static_cast<float>(l);
            suml2 += w * static_cast<float>(l) * static_cast<float>(l);
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + level(iscale, i));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Q3_K's sub-block fit: the symmetric start, then up to 5 passes that move single values to the level
// the current least-squares scale prefers, when that improves sum(w*x*l)^2 / sum(w*l^2).
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::memset(L, 0, static_cast<size_t>(n));
        return 0.f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = clamp_int(round_nearest_even(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * static_cast<float>(L[i]);
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * static_cast<float>(L[i]) * static_cast<float>(L[i]);
            const int new_l = clamp_int(round_nearest_even(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (new_l == L[i]) continue;
            slx += w * x[i] * static_cast<float>(new_l);
            sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<int8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Q2_K / Q3_K pack: byte l of each 32-byte group holds 2-bit fields of values l, l+32, l+64, l+96.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < kQK_K; j += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                                 (L[j + l + 96] << 6));
        }
    }
}

// Q4_K / Q5_K: 6-bit scale and min of sub-block j into the 12-byte layout (see unpack_scale_min_k4).
void pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* packed) {
    if (j < 4) {
        packed[j] = ls;
        packed[j + 4] = lm;
    } else {
        packed[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | ((ls >> 4) << 6));
        packed[j] = static_cast<uint8_t>(packed[j] | ((lm >> 4) << 6));
    }
}

// Q4_K / Q5_K shared part: per 32-value sub-block, weights sqrt(mean x^2) + |x| and fit_scale_min; then
// 6-bit sub-scales/mins against d = max_scale/63 and dmin = max_min/63; then the final levels.
template <typename Block>
void quantize_k4_scales_and_levels(const float* x, Block& y, int nmax, float rmin, float rdelta, int nstep,
                                   uint8_t* L) {
    float weights[32];
    float mins[kQK_K / 32];
    float scales[kQK_K / 32];
    float max_scale = 0;  // sub-block scales are never negative: the min absorbs the offset
    float max_min = 0;
    for (int j = 0; j < kQK_K / 32; ++j) {
        const float* xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
        scales[j] = fit_scale_min(32, nmax, xs, weights, L + 32 * j, mins[j], rmin, rdelta, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    std::memset(y.scales, 0, sizeof(y.scales));
    for (int j = 0; j < kQK_K / 32; ++j) {
        // ggml stores nearest_int into a uint8_t before clamping to 63; values are always 0..63 anyway
        const auto ls = static_cast<uint8_t>(round_nearest_even(inv_scale * scales[j]));
        const auto lm = static_cast<uint8_t>(round_nearest_even(inv_min * mins[j]));
        pack_scale_min_k4(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, y.scales);
    }
    y.d = fp32_to_fp16(max_scale / 63.f);
    y.dmin = fp32_to_fp16(max_min / 63.f);

    const float d_all = fp16_to_fp32(y.d);
    const float dmin_all = fp16_to_fp32(y.dmin);
    for (int j = 0; j < kQK_K / 32; ++j) {
        uint8_t sc, mn;
        unpack_scale_min_k4(j, y.scales, sc, mn);
        const float d = d_all * static_cast<float>(sc);
        if (d == 0) continue;
        const float dm = dmin_all * static_cast<float>(mn);
        for (int i = 0; i < 32; ++i) {
            L[32 * j + i] = static_cast<uint8_t>(clamp_int(round_nearest_even((x[32 * j + i] + dm) / d), 0, nmax));
        }
    }
}

}  // namespace

void quantize_q2_k_reference(const float* x, BlockQ2_K* y, int64_t nb) {
    constexpr float kScaleLevels = 15.f;
    for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
        uint8_t L[kQK_K];
        float weights[16];
        float mins[kQK_K / 16];
        float scales[kQK_K / 16];
        float max_scale = 0;
        float max_min = 0;
        for (int j = 0; j < kQK_K / 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
            scales[j] = fit_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, mins[j], -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            const float iscale = kScaleLevels / max_scale;
            for (int j = 0; j < kQK_K / 16; ++j) {
                y[i].scales[j] = static_cast<uint8_t>(round_nearest_even(iscale * scales[j]));
            }
            y[i].d = fp32_to_fp16(max_scale / kScaleLevels);
        } else {
            std::memset(y[i].scales, 0, sizeof(y[i].scales));
            y[i].d = fp32_to_fp16(0.f);
        }
        if (max_min > 0) {
            const float iscale = kScaleLevels / max_min;
            for (int j = 0; j < kQK_K / 16; ++j) {
                const int l = round_nearest_even(iscale * mins[j]);
                y[i].scales[j] = static_cast<uint8_t>(y[i].scales[j] | (l << 4));
            }
            y[i].dmin = fp32_to_fp16(max_min / kScaleLevels);
        } else {
            y[i].dmin = fp32_to_fp16(0.f);
        }
        const float d_all = fp16_to_fp32(y[i].d);
        const float dmin_all = fp16_to_fp32(y[i].dmin);
        for (int j = 0; j < kQK_K / 16; ++j) {
            const float d = d_all * static_cast<float>(y[i].scales[j] & 0xF);
            if (d == 0) continue;
            const float dm = dmin_all * static_cast<float>(y[i].scales[j] >> 4);
            for (int l = 0; l < 16; ++l) {
                L[16 * j + l] = static_cast<uint8_t>(clamp_int(round_nearest_even((x[16 * j + l] + dm) / d), 0, 3));
            }
        }
        pack_2bit(L, y[i].qs);
    }
}

void quantize_q3_k_reference(const float* x, BlockQ3_K* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
        int8_t L[kQK_K];
        float scales[kQK_K / 16];
        float max_scale = 0;
        float amax = 0;
        for (int j = 0; j < kQK_K / 16; ++j) {
            scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
            const float a = std::fabs(scales[j]);
            if (a > amax) {
                amax = a;
                max_scale = scales[j];
            }
        }
        std::memset(y[i].scales, 0, sizeof(y[i].scales));
        if (max_scale != 0) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < kQK_K / 16; ++j) {
                const int l = clamp_int(round_nearest_even(iscale * scales[j]), -32, 31) + 32;
                if (j < 8) {
                    y[i].scales[j] = static_cast<uint8_t>(l & 0xF);
                } else {
                    y[i].scales[j - 8] = static_cast<uint8_t>(y[i].scales[j - 8] | ((l & 0xF) << 4));
                }
                y[i].scales[8 + j % 4] = static_cast<uint8_t>(y[i].scales[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
            }
            y[i].d = fp32_to_fp16(1 / iscale);
        } else {
            y[i].d = fp32_to_fp16(0.f);
        }
        int8_t sub_scales[16];
        unpack_scales_q3_k(y[i].scales, sub_scales);
        const float d_all = fp16_to_fp32(y[i].d);
        for (int j = 0; j < kQK_K / 16; ++j) {
            const float d = d_all * static_cast<float>(sub_scales[j]);
            if (d == 0) continue;
            for (int l = 0; l < 16; ++l) {
                L[16 * j + l] = static_cast<int8_t>(clamp_int(round_nearest_even(x[16 * j + l] / d), -4, 3) + 4);
            }
        }
        // Third bit of value j goes to bit (j / 32) of hmask[j % 32]; the low two bits stay in L.
        std::memset(y[i].hmask, 0, sizeof(y[i].hmask));
        uint8_t low[kQK_K];
        for (int j = 0; j < kQK_K; ++j) {
            int l = L[j];
            if (l > 3) {
                y[i].hmask[j % 32] = static_cast<uint8_t>(y[i].hmask[j % 32] | (1 << (j / 32)));
                l -= 4;
            }
            low[j] = static_cast<uint8_t>(l);
        }
        pack_2bit(low, y[i].qs);
    }
}

void quantize_q4_k_reference(const float* x, BlockQ4_K* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
        uint8_t L[kQK_K];
        quantize_k4_scales_and_levels(x, y[i], 15, -1.f, 0.1f, 20, L);
        // Each 64-value chunk: 32 bytes, value l in the low nibble, value l+32 in the high nibble.
        uint8_t* q = y[i].qs;
        for (int j = 0; j < kQK_K; j += 64, q += 32) {
            for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
        }
    }
}

void quantize_q5_k_reference(const float* x, BlockQ5_K* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
        uint8_t L[kQK_K];
        quantize_k4_scales_and_levels(x, y[i], 31, -0.5f, 0.1f, 15, L);
        // As Q4_K, with the fifth bits of chunk k's low / high values in bits 2k / 2k+1 of qh[l].
        std::memset(y[i].qh, 0, sizeof(y[i].qh));
        uint8_t* ql = y[i].qs;
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < kQK_K; n += 64, ql += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[n + j];
                if (l1 > 15) {
                    l1 -= 16;
                    y[i].qh[j] = static_cast<uint8_t>(y[i].qh[j] | m1);
                }
                int l2 = L[n + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    y[i].qh[j] = static_cast<uint8_t>(y[i].qh[j] | m2);
                }
                ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
            }
            m1 = static_cast<uint8_t>(m1 << 2);
            m2 = static_cast<uint8_t>(m2 << 2);
        }
    }
}

void quantize_q6_k_reference(const float* x, BlockQ6_K* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
        int8_t L[kQK_K];
        float scales[kQK_K / 16];
        float max_scale = 0;
        float max_abs_scale = 0;
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            scales[ib] = fit_scale(16, 32, x + 16 * ib, L + 16 * ib, nullptr);
            const float a = std::fabs(scales[ib]);
            if (a > max_abs_scale) {
                max_abs_scale = a;
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < kGroupMaxEps) {
            std::memset(&y[i], 0, sizeof(BlockQ6_K));
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[i].d = fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            const int l = round_nearest_even(iscale * scales[ib]);
            y[i].scales[ib] = static_cast<int8_t>(l < 127 ? l : 127);
        }
        const float d_all = fp16_to_fp32(y[i].d);
        for (int j = 0; j < kQK_K / 16; ++j) {
            const float d = d_all * static_cast<float>(y[i].scales[j]);
            if (d == 0) continue;
            for (int l = 0; l < 16; ++l) {
                L[16 * j + l] = static_cast<int8_t>(clamp_int(round_nearest_even(x[16 * j + l] / d), -32, 31) + 32);
            }
        }
        // Per 128-value half: ql byte l = values l | l+64 (nibbles), byte l+32 = values l+32 | l+96;
        // qh byte l = the top 2 bits of l, l+32, l+64, l+96.
        uint8_t* ql = y[i].ql;
        uint8_t* qh = y[i].qh;
        for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

}  // namespace peregrine::kernels::cpu
