// Row quantizers for the float types, the 8-bit activation types and the 32-value "legacy" weight
// types, and the dispatch (Q8_0 and Q8_K activations also have SIMD versions: quantize_avx2.cpp,
// quantize_avx512.cpp). K-quants are in quantize_kquants.cpp, IQ4_NL / IQ4_XS in quantize_iq4.cpp. The float arithmetic follows ggml's expression order
// (e.g. Q4_1's (x - min) * id + 0.5 truncated) so files we write match llama-quantize's bytes.
#include "kernels/cpu/quantize.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/quantize_common.h"
#include "kernels/cpu/row_checks.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu {
namespace {

// Largest |x| of a block, as _mm256_max_ps over the absolute values (a NaN is skipped).
float block_abs_max(const float* x, int n) {
    float amax = 0.f;
    for (int j = 0; j < n; ++j) {
        const float a = std::fabs(x[j]);
        amax = a > amax ? a : amax;
    }
    return amax;
}

// The signed value of largest magnitude (first one wins on ties), and that magnitude.
struct SignedMax {
    float value = 0.f;
    float magnitude = 0.f;
};
SignedMax block_signed_max(const float* x, int n) {
    SignedMax m;
    for (int j = 0; j < n; ++j) {
        const float a = std::fabs(x[j]);
        if (a > m.magnitude) {
            m.magnitude = a;
            m.value = x[j];
        }
    }
    return m;
}

void quantize_f16(const float* x, fp16_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16_fast(x[i]);
}

void quantize_bf16(const float* x, bf16_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(x[i]);
}

// --- activations: ggml-cpu's AVX2 path (also taken by AVX-512 builds) --------------------------------

// Values round_half_even(x * 127/amax); returns their sum (used by Q8_1).
int quantize_block_8bit_simd(const float* x, float amax, int8_t* qs) {
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
        const int q = round_nearest_even(x[j] * id);
        qs[j] = static_cast<int8_t>(q);
        sum += q;
    }
    return sum;
}

void quantize_q8_0_activations(const float* x, BlockQ8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
        const float amax = block_abs_max(x, kQK8_0);
        y[i].d = fp32_to_fp16(amax / 127.f);
        quantize_block_8bit_simd(x, amax, y[i].qs);
    }
}

void quantize_q8_1_activations(const float* x, BlockQ8_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK8_1) {
        const float amax = block_abs_max(x, kQK8_1);
        const float d = amax / 127.f;
        y[i].d = fp32_to_fp16(d);
        const int sum = quantize_block_8bit_simd(x, amax, y[i].qs);
        y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
    }
}

// ggml's x86 build has no SIMD Q8_K quantizer: this is its reference, which the dot products rely on
// (max maps to exactly -127, bsums are exact).
void quantize_q8_k(const float* x, BlockQ8_K* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
        const SignedMax m = block_signed_max(x, kQK_K);
        if (m.magnitude == 0.f) {
            std::memset(&y[i], 0, sizeof(BlockQ8_K));
            continue;
        }
        const float iscale = -127.f / m.value;
        for (int j = 0; j < kQK_K; ++j) {
            const int q = round_nearest_even(iscale * x[j]);
            y[i].qs[j] = static_cast<int8_t>(q < 127 ? q : 127);
        }
        for (int g = 0; g < kQK_K / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += y[i].qs[16 * g + j];
            y[i].bsums[g] = static_cast<int16_t>(sum);
        }
        y[i].d = 1.f / iscale;
    }
}

// --- storage (ggml's *_ref quantizers) ----------------------------------------------------------

// Symmetric 4/5-bit: d = max / -(2^(bits-1)) with max the signed extreme, so the extreme maps to level 0.
void quantize_q4_0_reference(const float* x, BlockQ4_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
        const SignedMax m = block_signed_max(x, kQK4_0);
        const float d = m.value / -8.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < kQK4_0 / 2; ++j) {
            const int q0 = truncate_level(x[j] * id + 8.5f, 15);
            const int q1 = truncate_level(x[j + kQK4_0 / 2] * id + 8.5f, 15);
            y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

void quantize_q5_0_reference(const float* x, BlockQ5_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK5_0) {
        const SignedMax m = block_signed_max(x, kQK5_0);
        const float d = m.value / -16.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < kQK5_0 / 2; ++j) {
            const int q0 = truncate_level(x[j] * id + 16.5f, 31);
            const int q1 = truncate_level(x[j + kQK5_0 / 2] * id + 16.5f, 31);
            y[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= static_cast<uint32_t>(q0 >> 4) << j;
            qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK5_0 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

// Asymmetric: d = (max - min) / (2^bits - 1), m = min.
struct MinMax {
    float min = FLT_MAX;
    float max = -FLT_MAX;
};
MinMax block_min_max(const float* x, int n) {
    MinMax r;
    for (int j = 0; j < n; ++j) {
        if (x[j] < r.min) r.min = x[j];
        if (x[j] > r.max) r.max = x[j];
    }
    return r;
}

void quantize_q4_1_reference(const float* x, BlockQ4_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK4_1) {
        const MinMax r = block_min_max(x, kQK4_1);
        const float d = (r.max - r.min) / 15.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(r.min);
        for (int j = 0; j < kQK4_1 / 2; ++j) {
            const int q0 = truncate_level((x[j] - r.min) * id + 0.5f, 15);
            const int q1 = truncate_level((x[j + kQK4_1 / 2] - r.min) * id + 0.5f, 15);
            y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

void quantize_q5_1_reference(const float* x, BlockQ5_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK5_1) {
        const MinMax r = block_min_max(x, kQK5_1);
        const float d = (r.max - r.min) / 31.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(r.min);
        uint32_t qh = 0;
        for (int j = 0; j < kQK5_1 / 2; ++j) {
            const int q0 = truncate_level((x[j] - r.min) * id + 0.5f, 31);
            const int q1 = truncate_level((x[j + kQK5_1 / 2] - r.min) * id + 0.5f, 31);
            y[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= static_cast<uint32_t>(q0 >> 4) << j;
            qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK5_1 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

// The scalar 8-bit reference: x * (1/d), rounded half away from zero.
int quantize_block_8bit_reference(const float* x, float d, int8_t* qs) {
    const float id = d != 0.f ? 1.f / d : 0.f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
        const int q = round_half_away(x[j] * id);
        qs[j] = static_cast<int8_t>(q);
        sum += q;
    }
    return sum;
}

void quantize_q8_0_reference(const float* x, BlockQ8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
        const float d = block_abs_max(x, kQK8_0) / 127.f;
        y[i].d = fp32_to_fp16(d);
        quantize_block_8bit_reference(x, d, y[i].qs);
    }
}

void quantize_q8_1_reference(const float* x, BlockQ8_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK8_1) {
        const float d = block_abs_max(x, kQK8_1) / 127.f;
        y[i].d = fp32_to_fp16(d);
        const int sum = quantize_block_8bit_reference(x, d, y[i].qs);
        y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
    }
}

// Types whose activation and storage quantizers are the same function.
bool quantize_common(TensorType type, const float* src, void* dst, int64_t n, int64_t nb) {
    switch (type) {
        case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return true;
        case TensorType::F16: quantize_f16(src, static_cast<fp16_t*>(dst), n); return true;
        case TensorType::BF16: quantize_bf16(src, static_cast<bf16_t*>(dst), n); return true;
        case TensorType::Q4_0: quantize_q4_0_reference(src, static_cast<BlockQ4_0*>(dst), nb); return true;
        case TensorType::Q4_1: quantize_q4_1_reference(src, static_cast<BlockQ4_1*>(dst), nb); return true;
        case TensorType::Q5_0: quantize_q5_0_reference(src, static_cast<BlockQ5_0*>(dst), nb); return true;
        case TensorType::Q5_1: quantize_q5_1_reference(src, static_cast<BlockQ5_1*>(dst), nb); return true;
        case TensorType::Q2_K: quantize_q2_k_reference(src, static_cast<BlockQ2_K*>(dst), nb); return true;
        case TensorType::Q3_K: quantize_q3_k_reference(src, static_cast<BlockQ3_K*>(dst), nb); return true;
        case TensorType::Q4_K: quantize_q4_k_reference(src, static_cast<BlockQ4_K*>(dst), nb); return true;
        case TensorType::Q5_K: quantize_q5_k_reference(src, static_cast<BlockQ5_K*>(dst), nb); return true;
        case TensorType::Q6_K: quantize_q6_k_reference(src, static_cast<BlockQ6_K*>(dst), nb); return true;
        case TensorType::Q8_K: quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), nb); return true;
        case TensorType::IQ4_NL: quantize_iq4_nl_reference(src, static_cast<BlockIQ4_NL*>(dst), nb); return true;
        case TensorType::IQ4_XS: quantize_iq4_xs_reference(src, static_cast<BlockIQ4_XS*>(dst), nb); return true;
        default: return false;
    }
}

// The active path's activation quantizers for the two types the matmuls quantize most (nullptr: scalar).
// They give the scalar functions' bytes exactly (tst_simd_kernels), so the choice never changes results.
struct ActivationQuantizers {
    QuantizeRowFn q8_0 = nullptr;
    QuantizeRowFn q8_k = nullptr;
};
constexpr ActivationQuantizers kActivationQuantizers[kCpuPathCount] = {
    {},
    {avx2::quantize_row_q8_0, avx2::quantize_row_q8_k},
    {avx512::quantize_row_q8_0, avx512::quantize_row_q8_k},
};

[[noreturn]] void throw_no_quantizer(const char* caller, TensorType type) {
    throw std::invalid_argument(std::string(caller) + ": no quantizer for tensor type " + type_name_for_errors(type));
}

}  // namespace

bool can_quantize(TensorType type) { return block_shape(type).block_size != 0; }

void quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
    const int64_t nb = checked_block_count(type, n, "quantize_row");
    const ActivationQuantizers& simd = kActivationQuantizers[static_cast<int>(cpu_path())];
    switch (type) {
        case TensorType::Q8_0:
            if (simd.q8_0 != nullptr) {
                simd.q8_0(src, dst, n);
            } else {
                quantize_q8_0_activations(src, static_cast<BlockQ8_0*>(dst), nb);
            }
            return;
        case TensorType::Q8_K:
            if (simd.q8_k != nullptr) {
                simd.q8_k(src, dst, n);
            } else {
                quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), nb);
            }
            return;
        case TensorType::Q8_1: quantize_q8_1_activations(src, static_cast<BlockQ8_1*>(dst), nb); return;
        default:
            if (quantize_common(type, src, dst, n, nb)) return;
    }
    throw_no_quantizer("quantize_row", type);
}

void quantize_row_reference(TensorType type, const float* src, void* dst, int64_t n) {
    const int64_t nb = checked_block_count(type, n, "quantize_row_reference");
    switch (type) {
        case TensorType::Q8_0: quantize_q8_0_reference(src, static_cast<BlockQ8_0*>(dst), nb); return;
        case TensorType::Q8_1: quantize_q8_1_reference(src, static_cast<BlockQ8_1*>(dst), nb); return;
        default:
            if (quantize_common(type, src, dst, n, nb)) return;
    }
    throw_no_quantizer("quantize_row_reference", type);
}

}  // namespace peregrine::kernels::cpu
