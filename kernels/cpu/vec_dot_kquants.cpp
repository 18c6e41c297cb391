// K-quant (and IQ4_XS) weights against Q8_K activations. Each super-block's 256 weight values are first
// unpacked to int8 in element order (the same order as dequantize_row), then every sub-block's integer
// dot product is weighted by its integer sub-scale, all exactly in int32. Only the two super-block
// scales touch floats: sum += (d_w * d_x) * isum - (dmin_w * d_x) * isum_min.
//
// Ranges (why int32 cannot overflow): |q8| <= 127 and, per super-block, |sub-scale * q| <= 63 * 31
// (Q5_K) or 127 * 32 (Q6_K), so |isum| <= 256 * 127 * 4064 < 2^31.
#include "kernels/cpu/vec_dot_kernels.h"

namespace peregrine::kernels::cpu {
namespace {

// Q2_K / Q3_K: 2-bit field `shift/2` of byte l in each 32-byte group holds value 32*(shift/2) + l of that
// 128-value half.
void unpack_2bit(const uint8_t* qs, int8_t* v) {
    for (int half = 0; half < 2; ++half, qs += 32, v += 128) {
        for (int group = 0; group < 4; ++group) {
            for (int l = 0; l < 32; ++l) v[32 * group + l] = static_cast<int8_t>((qs[l] >> (2 * group)) & 3);
        }
    }
}

// Sum of (sub-scale * sub-block dot) over 256 values in sub-blocks of Size values.
template <int Size, typename Scale>
int32_t scaled_isum(const int8_t* v, const int8_t* q8, Scale&& scale_of) {
    int32_t isum = 0;
    for (int j = 0; j < 256 / Size; ++j) isum += scale_of(j) * dot_i8<Size>(v + Size * j, q8 + Size * j);
    return isum;
}

// Q4_K / Q5_K: the low (high) nibble of byte l of 32-byte group k is value 64k + l (64k + 32 + l).
void unpack_nibbles_k(const uint8_t* qs, int8_t* v) {
    for (int k = 0; k < 4; ++k, qs += 32, v += 64) {
        for (int l = 0; l < 32; ++l) {
            v[l] = static_cast<int8_t>(qs[l] & 0xF);
            v[l + 32] = static_cast<int8_t>(qs[l] >> 4);
        }
    }
}

// The mins' contribution: sum_j min_j * (sum of the activations in sub-block j), from the Q8_K bsums.
int32_t min_isum_k4(const uint8_t* mins, const BlockQ8_K& y) {
    int32_t isum = 0;
    for (int j = 0; j < 8; ++j) isum += mins[j] * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
    return isum;
}

}  // namespace

float vec_dot_q2_k_q8_k(int64_t nb, const BlockQ2_K* x, const BlockQ8_K* y) {
    float sum = 0.f;
    int8_t v[256];
    for (int64_t i = 0; i < nb; ++i) {
        unpack_2bit(x[i].qs, v);
        const uint8_t* sc = x[i].scales;
        const int32_t isum = scaled_isum<16>(v, y[i].qs, [&](int j) { return sc[j] & 0xF; });
        int32_t isum_min = 0;
        for (int j = 0; j < 16; ++j) isum_min += y[i].bsums[j] * (sc[j] >> 4);
        const float d = y[i].d * fp16_to_fp32(x[i].d);
        const float dmin = y[i].d * fp16_to_fp32(x[i].dmin);
        sum += d * static_cast<float>(isum) - dmin * static_cast<float>(isum_min);
    }
    return sum;
}

float vec_dot_q3_k_q8_k(int64_t nb, const BlockQ3_K* x, const BlockQ8_K* y) {
    float sum = 0.f;
    int8_t v[256];
    for (int64_t i = 0; i < nb; ++i) {
        unpack_2bit(x[i].qs, v);
        // A clear hmask bit (value 32g + l: bit g of hmask[l]) means the value is 4 lower.
        for (int g = 0; g < 8; ++g) {
            for (int l = 0; l < 32; ++l) {
                v[32 * g + l] = static_cast<int8_t>(v[32 * g + l] - 4 + (((x[i].hmask[l] >> g) & 1) << 2));
            }
        }
        int8_t scales[16];
        unpack_scales_q3_k(x[i].scales, scales);
        const int32_t isum = scaled_isum<16>(v, y[i].qs, [&](int j) { return static_cast<int32_t>(scales[j]); });
        sum += (fp16_to_fp32(x[i].d) * y[i].d) * static_cast<float>(isum);
    }
    return sum;
}

float vec_dot_q4_k_q8_k(int64_t nb, const BlockQ4_K* x, const BlockQ8_K* y) {
    float sum = 0.f;
    int8_t v[256];
    for (int64_t i = 0; i < nb; ++i) {
        unpack_nibbles_k(x[i].qs, v);
        uint8_t scales[8], mins[8];
        for (int j = 0; j < 8; ++j) unpack_scale_min_k4(j, x[i].scales, scales[j], mins[j]);
        const int32_t isum = scaled_isum<32>(v, y[i].qs, [&](int j) { return static_cast<int32_t>(scales[j]); });
        const int32_t isum_min = min_isum_k4(mins, y[i]);
        const float d = fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = fp16_to_fp32(x[i].dmin) * y[i].d;
        sum += d * static_cast<float>(isum) - dmin * static_cast<float>(isum_min);
    }
    return sum;
}

float vec_dot_q5_k_q8_k(int64_t nb, const BlockQ5_K* x, const BlockQ8_K* y) {
    float sum = 0.f;
    int8_t v[256];
    for (int64_t i = 0; i < nb; ++i) {
        unpack_nibbles_k(x[i].qs, v);
        // Fifth bits: bit 2k (2k+1) of qh[l] belongs to value 64k + l (64k + 32 + l).
        for (int k = 0; k < 4; ++k) {
            for (int l = 0; l < 32; ++l) {
                v[64 * k + l] = static_cast<int8_t>(v[64 * k + l] + (((x[i].qh[l] >> (2 * k)) & 1) << 4));
                v[64 * k + 32 + l] = static_cast<int8_t>(v[64 * k + 32 + l] + (((x[i].qh[l] >> (2 * k + 1)) & 1) << 4));
            }
        }
        uint8_t scales[8], mins[8];
        for (int j = 0; j < 8; ++j) unpack_scale_min_k4(j, x[i].scales, scales[j], mins[j]);
        const int32_t isum = scaled_isum<32>(v, y[i].qs, [&](int j) { return static_cast<int32_t>(scales[j]); });
        const int32_t isum_min = min_isum_k4(mins, y[i]);
        const float d = fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = fp16_to_fp32(x[i].dmin) * y[i].d;
        sum += d * static_cast<float>(isum) - dmin * static_cast<float>(isum_min);
    }
    return sum;
}

float vec_dot_q6_k_q8_k(int64_t nb, const BlockQ6_K* x, const BlockQ8_K* y) {
    float sum = 0.f;
    int8_t v[256];
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
            int8_t* out = v + 128 * half;
            for (int l = 0; l < 32; ++l) {
                out[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        const int8_t* sc = x[i].scales;
        const int32_t isum = scaled_isum<16>(v, y[i].qs, [&](int j) { return static_cast<int32_t>(sc[j]); });
        sum += (fp16_to_fp32(x[i].d) * y[i].d) * static_cast<float>(isum);
    }
    return sum;
}

float vec_dot_iq4_xs_q8_k(int64_t nb, const BlockIQ4_XS* x, const BlockQ8_K* y) {
    float sum = 0.f;
    int8_t v[256];
    for (int64_t i = 0; i < nb; ++i) {
        int32_t scales[8];
        for (int ib = 0; ib < 8; ++ib) {
            const uint8_t* qs = x[i].qs + 16 * ib;
            for (int j = 0; j < 16; ++j) {
                v[32 * ib + j] = kIq4nlValues[qs[j] & 0xF];
                v[32 * ib + j + 16] = kIq4nlValues[qs[j] >> 4];
            }
            scales[ib] = (((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((x[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
        }
        const int32_t isum = scaled_isum<32>(v, y[i].qs, [&](int j) { return scales[j]; });
        sum += (fp16_to_fp32(x[i].d) * y[i].d) * static_cast<float>(isum);
    }
    return sum;
}

}  // namespace peregrine::kernels::cpu
