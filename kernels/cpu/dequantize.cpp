// Block decoders. Each reproduces ggml's to_float bit for bit: the arithmetic is done in the same order
// (e.g. Q6_K's (d * scale) * q, where the last product can round), which tst_dequantize checks against
// ggml's own output in ggml-quant-reference.gguf.
#include "kernels/cpu/dequantize.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/row_checks.h"

namespace peregrine::kernels::cpu {
namespace {

void dequantize_f16(const fp16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32_fast(x[i]);
}

void dequantize_bf16(const bf16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(x[i]);
}

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < kQK4_0 / 2; ++j) {
            y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + kQK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK4_1) {
        const float d = fp16_to_fp32(x[i].d);
        const float m = fp16_to_fp32(x[i].m);
        for (int j = 0; j < kQK4_1 / 2; ++j) {
            y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
            y[j + kQK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK5_0) {
        const float d = fp16_to_fp32(x[i].d);
        uint8_t high[32];
        expand_q5_high_bits(x[i].qh, high);
        for (int j = 0; j < kQK5_0 / 2; ++j) {
            y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | high[j]) - 16) * d;
            y[j + kQK5_0 / 2] = static_cast<float>(((x[i].qs[j] >> 4) | high[j + 16]) - 16) * d;
        }
    }
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK5_1) {
        const float d = fp16_to_fp32(x[i].d);
        const float m = fp16_to_fp32(x[i].m);
        uint8_t high[32];
        expand_q5_high_bits(x[i].qh, high);
        for (int j = 0; j < kQK5_1 / 2; ++j) {
            y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | high[j]) * d + m;
            y[j + kQK5_1 / 2] = static_cast<float>((x[i].qs[j] >> 4) | high[j + 16]) * d + m;
        }
    }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < kQK8_0; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

void dequantize_q8_1(const BlockQ8_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK8_1) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < kQK8_1; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

// Q2_K: each 128-value half uses 32 bytes of qs; the four 2-bit fields of byte l belong to values
// l, l+32, l+64, l+96. Sub-blocks of 16 take their scale/min from one byte of `scales`.
void dequantize_q2_k(const BlockQ2_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        int is = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; ++part) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * static_cast<float>(sc & 0xF);
                    const float ml = dmin * static_cast<float>(sc >> 4);
                    const uint8_t* qp = q + 16 * part;
                    for (int l = 0; l < 16; ++l) {
                        *y++ = dl * static_cast<float>((qp[l] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }
}

// Q3_K: as Q2_K's layout for the two low bits; hmask bit (value index mod 32) of byte group
// (value index / 32) is the third bit, and a clear bit means "subtract 4".
void dequantize_q3_k(const BlockQ3_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d_all = fp16_to_fp32(x[i].d);
        int8_t scales[16];
        unpack_scales_q3_k(x[i].scales, scales);
        const uint8_t* q = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
                for (int part = 0; part < 2; ++part) {
                    const float dl = d_all * static_cast<float>(scales[is++]);
                    const uint8_t* qp = q + 16 * part;
                    const uint8_t* hp = hm + 16 * part;
                    for (int l = 0; l < 16; ++l) {
                        const int v = ((qp[l] >> shift) & 3) - ((hp[l] & m) ? 0 : 4);
                        *y++ = dl * static_cast<float>(v);
                    }
                }
            }
        }
    }
}

// Q4_K: each 64-value chunk uses 32 bytes of qs, low nibbles first, then high nibbles.
void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, mn;
            unpack_scale_min_k4(is, x[i].scales, sc, mn);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = dmin * static_cast<float>(mn);
            unpack_scale_min_k4(is + 1, x[i].scales, sc, mn);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = dmin * static_cast<float>(mn);
            for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

// Q5_K: Q4_K plus qh: bit 2k (2k+1) of qh[l] is the fifth bit of the low (high) nibble value of chunk k.
void dequantize_q5_k(const BlockQ5_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* ql = x[i].qs;
        const uint8_t* qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32) {
            uint8_t sc, mn;
            unpack_scale_min_k4(is, x[i].scales, sc, mn);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = dmin * static_cast<float>(mn);
            unpack_scale_min_k4(is + 1, x[i].scales, sc, mn);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = dmin * static_cast<float>(mn);
            for (int l = 0; l < 32; ++l) {
                *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
            }
            for (int l = 0; l < 32; ++l) {
                *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
            }
            u1 = static_cast<uint8_t>(u1 << 2);
            u2 = static_cast<uint8_t>(u2 << 2);
        }
    }
}

// Q6_K: per 128-value half, ql holds 64 bytes (values l and l+64 in byte l, l+32 and l+96 in byte l+32)
// and qh 32 bytes (2 bits for each of l, l+32, l+64, l+96).
void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
            }
        }
    }
}

void dequantize_q8_k(const BlockQ8_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
        for (int j = 0; j < kQK_K; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
    }
}

void dequantize_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQK4_NL) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < kQK4_NL / 2; ++j) {
            y[j] = d * static_cast<float>(kIq4nlValues[x[i].qs[j] & 0xF]);
            y[j + kQK4_NL / 2] = d * static_cast<float>(kIq4nlValues[x[i].qs[j] >> 4]);
        }
    }
}

void dequantize_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const uint8_t* qs = x[i].qs;
        for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32, qs += 16) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                           (((x[i].scales_h >> (2 * ib)) & 3) << 4);
            const float dl = d * static_cast<float>(ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xF]);
                y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
            }
        }
    }
}

}  // namespace

bool can_dequantize(TensorType type) { return block_shape(type).block_size != 0; }

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
    const int64_t nb = checked_block_count(type, n, "dequantize_row");
    switch (type) {
        case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
        case TensorType::F16: dequantize_f16(static_cast<const fp16_t*>(src), dst, n); return;
        case TensorType::BF16: dequantize_bf16(static_cast<const bf16_t*>(src), dst, n); return;
        case TensorType::Q4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb); return;
        case TensorType::Q4_1: dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, nb); return;
        case TensorType::Q5_0: dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, nb); return;
        case TensorType::Q5_1: dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, nb); return;
        case TensorType::Q8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb); return;
        case TensorType::Q2_K: dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, nb); return;
        case TensorType::Q3_K: dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, nb); return;
        case TensorType::Q4_K: dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, nb); return;
        case TensorType::Q5_K: dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, nb); return;
        case TensorType::Q6_K: dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, nb); return;
        case TensorType::Q8_K: dequantize_q8_k(static_cast<const BlockQ8_K*>(src), dst, nb); return;
        case TensorType::IQ4_NL: dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, nb); return;
        case TensorType::IQ4_XS: dequantize_iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, nb); return;
        case TensorType::Q8_1: dequantize_q8_1(static_cast<const BlockQ8_1*>(src), dst, nb); return;
    }
    // Unreachable: checked_block_count rejects ids outside the enum.
    throw std::invalid_argument("dequantize_row: no decoder for tensor type " + type_name_for_errors(type));
}

}  // namespace peregrine::kernels::cpu
