// Block layouts of GGUF's quantized storage types, byte for byte as ggml writes them to a file.
//
// Every block holds a fixed number of values (32 for the "legacy" and IQ4_NL types, 256 for the
// K-quants' super-blocks) as small integers plus one or more fp16 scales. Fields are listed in file
// order; there is no padding (checked below against tensor_type.h's sizes, which the GGUF reader uses).
//
// Decoded value of element i, per type (q = the stored unsigned integer of element i):
//   Q4_0   d * (q - 8)                 q: 4 bits, element j in low nibble of qs[j], j+16 in high nibble
//   Q4_1   d * q + m
//   Q5_0   d * (q - 16)                q: 4 low bits as Q4_0 + bit 4 from qh (bit j of the u32 qh)
//   Q5_1   d * q + m
//   Q8_0   d * qs[i]                   qs signed
//   Q2_K..Q6_K: see dequantize.cpp; each 256-value super-block has 16 or 8 sub-blocks with 4..8-bit
//          sub-scales (and mins) that multiply the fp16 super-block scale d (and dmin).
//   Q8_K   d (fp32) * qs[i], bsums[k] = sum of qs[16k .. 16k+15]: an activation-only type.
//   IQ4_NL d * kIq4nlValues[q]         a non-linear 16-entry codebook, nibbles packed as Q4_0
//   IQ4_XS IQ4_NL values in 8 sub-blocks of 32 with 6-bit sub-scales (ls - 32) * d
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/fp16.h"

namespace peregrine::kernels::cpu {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;   // super-block size of every K-quant and of IQ4_XS
inline constexpr int kQK4_NL = 32;

struct BlockQ4_0 {
    fp16_t d;
    uint8_t qs[kQK4_0 / 2];
};

struct BlockQ4_1 {
    fp16_t d;  // scale
    fp16_t m;  // minimum (added)
    uint8_t qs[kQK4_1 / 2];
};

struct BlockQ5_0 {
    fp16_t d;
    uint8_t qh[4];  // fifth bit of each value, little-endian u32
    uint8_t qs[kQK5_0 / 2];
};

struct BlockQ5_1 {
    fp16_t d;
    fp16_t m;
    uint8_t qh[4];
    uint8_t qs[kQK5_1 / 2];
};

struct BlockQ8_0 {
    fp16_t d;
    int8_t qs[kQK8_0];
};

// Activation-side partner of Q4_1/Q5_1: s = d * sum(qs) lets the dot product apply the weights' minimum
// without touching the values again.
struct BlockQ8_1 {
    fp16_t d;
    fp16_t s;
    int8_t qs[kQK8_1];
};

// 16 sub-blocks of 16 values: 2-bit quants, 4-bit scale (low nibble) and 4-bit min (high nibble).
struct BlockQ2_K {
    uint8_t scales[kQK_K / 16];
    uint8_t qs[kQK_K / 4];
    fp16_t d;     // multiplies the sub-block scales
    fp16_t dmin;  // multiplies the sub-block mins
};

// 16 sub-blocks of 16 values: 2 low bits in qs, the third bit in hmask (set = no offset, clear = -4),
// 6-bit signed scales (stored +32) packed into 12 bytes.
struct BlockQ3_K {
    uint8_t hmask[kQK_K / 8];
    uint8_t qs[kQK_K / 4];
    uint8_t scales[12];
    fp16_t d;
};

// 8 sub-blocks of 32 values: 4-bit quants, 6-bit scales and mins packed into 12 bytes.
struct BlockQ4_K {
    fp16_t d;
    fp16_t dmin;
    uint8_t scales[12];
    uint8_t qs[kQK_K / 2];
};

// As Q4_K plus a fifth bit per value in qh.
struct BlockQ5_K {
    fp16_t d;
    fp16_t dmin;
    uint8_t scales[12];
    uint8_t qh[kQK_K / 8];
    uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16 values: 6-bit quants (4 low bits in ql, 2 high bits in qh), stored +32;
// 8-bit signed scales.
struct BlockQ6_K {
    uint8_t ql[kQK_K / 2];
    uint8_t qh[kQK_K / 4];
    int8_t scales[kQK_K / 16];
    fp16_t d;
};

struct BlockQ8_K {
    float d;
    int8_t qs[kQK_K];
    int16_t bsums[kQK_K / 16];
};

struct BlockIQ4_NL {
    fp16_t d;
    uint8_t qs[kQK4_NL / 2];
};

struct BlockIQ4_XS {
    fp16_t d;
    uint16_t scales_h;  // 2 high bits of each of the 8 sub-block scales
    uint8_t scales_l[kQK_K / 64];  // 4 low bits of each sub-block scale, two per byte
    uint8_t qs[kQK_K / 2];
};

// Sizes as in tensor_type.cpp (and ggml-common.h).
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);

// The IQ4_NL / IQ4_XS codebook (ggml's kvalues_iq4nl): 16 levels denser near zero.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Q4_K / Q5_K sub-block j (0..7): its 6-bit scale and 6-bit min from the 12 packed bytes. Sub-blocks 0..3
// keep both in the low 6 bits of bytes j and j+4; sub-blocks 4..7 keep 4 bits in byte j+4 and their top 2
// bits in the spare high bits of bytes j-4 and j.
inline void unpack_scale_min_k4(int j, const uint8_t* packed, uint8_t& scale, uint8_t& min) {
    if (j < 4) {
        scale = packed[j] & 63;
        min = packed[j + 4] & 63;
    } else {
        scale = static_cast<uint8_t>((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
        min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
    }
}

// Q5_0 / Q5_1: bit j of the little-endian 32-bit qh is bit 4 of value j. Writes 0x10 or 0 per value.
// SSE2 has no per-lane shift, but it has a per-lane 16-bit multiply: multiplying by 2^(15 - j mod 16)
// moves bit j to the top of a 16-bit lane, so this loop vectorizes.
inline void expand_q5_high_bits(const uint8_t* qh, uint8_t* out) {
    const uint16_t halves[2] = {static_cast<uint16_t>(qh[0] | (qh[1] << 8)), static_cast<uint16_t>(qh[2] | (qh[3] << 8))};
    for (int h = 0; h < 2; ++h) {
        for (int j = 0; j < 16; ++j) {
            const auto moved = static_cast<uint16_t>(halves[h] * static_cast<uint16_t>(1u << (15 - j)));
            out[16 * h + j] = static_cast<uint8_t>((moved >> 15) << 4);
        }
    }
}

// Q3_K: the 16 signed 6-bit sub-block scales (stored +32) from the 12 packed bytes. Bytes 0..7 hold the
// low 4 bits (sub-blocks 0..7 in low nibbles, 8..15 in high nibbles), bytes 8..11 the top 2 bits.
inline void unpack_scales_q3_k(const uint8_t* packed, int8_t out[16]) {
    for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
        const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = static_cast<int8_t>((low | (high << 4)) - 32);
    }
}

// fp16 -> fp32 without branches, so loops over many values vectorize; bit-identical to fp16_to_fp32
// (tst_fp16 checks all 65536 inputs). The exponent is rebiased with an integer add; subnormals are
// renormalised exactly by one float subtraction. Masks instead of ?: because g++ will not if-convert a
// float operation (it might trap), which would keep the loop scalar.
inline float fp16_to_fp32_fast(fp16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t bits = static_cast<uint32_t>(h & 0x7fffu) << 13;  // exponent + mantissa, fp32 places
    const uint32_t exp = bits & 0x0f800000u;
    const uint32_t inf_nan = 0u - static_cast<uint32_t>(exp == 0x0f800000u);  // all ones or zero
    const uint32_t subnormal = 0u - static_cast<uint32_t>(exp == 0u);
    // inf/nan: exponent 31 becomes 255. Zero/subnormal: read as 2^-14 * (1.m), then subtract 2^-14.
    const uint32_t normal = bits + ((127u - 15u) << 23) + (inf_nan & ((128u - 16u) << 23));
    const float sub = fp32_from_bits(bits + (113u << 23)) - fp32_from_bits(113u << 23);
    const uint32_t magnitude = (normal & ~subnormal) | (fp32_to_bits(sub) & subnormal);
    return fp32_from_bits(magnitude | sign);
}

// fp32 -> fp16, round to nearest even, without branches; bit-identical to fp32_to_fp16 (checked in
// tst_fp16 against it and against the F16C instruction). Three candidates are computed and masked:
//   overflow/inf/nan: 0x7c00, or 0x7e00 for a NaN;
//   subnormal or zero result: adding 0.5 (as a float) lines the value up with the 2^-24 grid, and the FPU
//   rounds to nearest even on the way;
//   normal: rebias the exponent, add 0xfff plus the lowest kept mantissa bit (ties to even), shift.
inline fp16_t fp32_to_fp16_fast(float f) {
    const uint32_t x = fp32_to_bits(f);
    const uint32_t sign = x & 0x80000000u;
    const uint32_t a = x ^ sign;
    const uint32_t too_big = 0u - static_cast<uint32_t>(a >= 0x47800000u);     // >= 65536 (and inf/nan)
    const uint32_t tiny = 0u - static_cast<uint32_t>(a < 0x38800000u);         // below 2^-14
    const uint32_t special = a > 0x7f800000u ? 0x7e00u : 0x7c00u;
    const float shifted = fp32_from_bits(a) + 0.5f;                            // ulp of 0.5 is 2^-24
    const uint32_t sub = fp32_to_bits(shifted) - 0x3f000000u;
    const uint32_t odd = (a >> 13) & 1u;
    const uint32_t normal = (a + 0xc8000fffu + odd) >> 13;                    // 0xc8000000 = (15-127) << 23
    const uint32_t normal_masked = normal & ~too_big & ~tiny;
    const uint32_t out = (special & too_big) | (sub & tiny) | normal_masked;
    return static_cast<fp16_t>(out | (sign >> 16));
}

}  // namespace peregrine::kernels::cpu
