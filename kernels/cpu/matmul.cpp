#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/ggml_arithmetic.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/row_checks.h"
#include "kernels/cpu/vec_dot.h"

namespace peregrine::kernels::cpu {
namespace {

// Activation rows per chunk: enough that a weight row is reused many times while it sits in L1, few
// enough that the chunk's activations stay in L2.
constexpr size_t kActivationChunkBytes = 256 * 1024;

using DotFn = float (*)(int64_t n, const uint8_t* w, const uint8_t* x, TensorType type);

// ---- F32 and F16 weights: tinyBLAS order for batches, ggml_vec_dot order for single rows ----

float dot_f32_batch(int64_t n, const uint8_t* w, const uint8_t* x, TensorType) {
    const float* a = reinterpret_cast<const float*>(w);
    const float* b = reinterpret_cast<const float*>(x);
    return ggml::dot_lanes16<true>(n, [a](int64_t i) { return a[i]; }, [b](int64_t i) { return b[i]; });
}

float dot_f32_single(int64_t n, const uint8_t* w, const uint8_t* x, TensorType) {
    return ggml::dot_vec_f32(n, reinterpret_cast<const float*>(w), reinterpret_cast<const float*>(x));
}

float dot_f16_batch(int64_t n, const uint8_t* w, const uint8_t* x, TensorType) {
    const float* f16 = ggml::f16_table();
    const fp16_t* a = reinterpret_cast<const fp16_t*>(w);
    const fp16_t* b = reinterpret_cast<const fp16_t*>(x);
    return ggml::dot_lanes16<false>(n, [=](int64_t i) { return f16[a[i]]; }, [=](int64_t i) { return f16[b[i]]; });
}

float dot_f16_single(int64_t n, const uint8_t* w, const uint8_t* x, TensorType) {
    const float* f16 = ggml::f16_table();
    const fp16_t* a = reinterpret_cast<const fp16_t*>(w);
    const fp16_t* b = reinterpret_cast<const fp16_t*>(x);
    return ggml::dot_vec_f16(n, [=](int64_t i) { return f16[a[i]]; }, [=](int64_t i) { return f16[b[i]]; });
}

// ---- Q8_0, Q5_0, Q4_0 weights against Q8_0 activations ----
//
// The integer part of a block is exact whatever the order; only the float accumulation needs ggml's
// order. ggml's AVX2 kernels (vec_dot and tinyBLAS alike) keep 8 float lanes, lane k holding the
// products of block elements 4k..4k+3, and add each block as lane = fma(d_w * d_x, lane_isum, lane),
// then fold the lanes (hsum_float_8). Q4_0 weights with a multiple of 8 rows are repacked by llama.cpp
// (8x8 interleave) and use one accumulator per output: acc = fma(isum, d_w * d_x, acc).

// Block values as signed integers, in element order (low nibbles first for the 4/5-bit types).
void block_values(const BlockQ8_0& b, int8_t* v) { std::memcpy(v, b.qs, 32); }

void block_values(const BlockQ4_0& b, int8_t* v) {
    for (int j = 0; j < 16; ++j) {
        v[j] = static_cast<int8_t>((b.qs[j] & 0x0F) - 8);
        v[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
    }
}

void block_values(const BlockQ5_0& b, int8_t* v) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, sizeof(qh));
    for (int j = 0; j < 16; ++j) {
        v[j] = static_cast<int8_t>(((b.qs[j] & 0x0F) | (((qh >> j) & 1u) << 4)) - 16);
        v[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16);
    }
}

// hsum_float_8: upper half + lower half, then (0+2) + (1+3).
float fold_lanes8(const float* lane) {
    float r[4];
    for (int l = 0; l < 4; ++l) r[l] = lane[l + 4] + lane[l];
    return (r[0] + r[2]) + (r[1] + r[3]);
}

template <typename Block>
float dot_q0_lanes8(int64_t n, const uint8_t* w, const uint8_t* x, TensorType) {
    const Block* wb = reinterpret_cast<const Block*>(w);
    const BlockQ8_0* xb = reinterpret_cast<const BlockQ8_0*>(x);
    float lane[8] = {};
    int8_t v[32];
    for (int64_t b = 0; b < n / 32; ++b) {
        block_values(wb[b], v);
        const float d = fp16_to_fp32(wb[b].d) * fp16_to_fp32(xb[b].d);
        for (int k = 0; k < 8; ++k) {
            int32_t isum = 0;
            for (int j = 4 * k; j < 4 * k + 4; ++j) isum += static_cast<int32_t>(v[j]) * xb[b].qs[j];
            lane[k] = std::fma(d, static_cast<float>(isum), lane[k]);
        }
    }
    return fold_lanes8(lane);
}

float dot_q4_0_repacked(int64_t n, const uint8_t* w, const uint8_t* x, TensorType) {
    const BlockQ4_0* wb = reinterpret_cast<const BlockQ4_0*>(w);
    const BlockQ8_0* xb = reinterpret_cast<const BlockQ8_0*>(x);
    float acc = 0.0f;
    int8_t v[32];
    for (int64_t b = 0; b < n / 32; ++b) {
        block_values(wb[b], v);
        int32_t isum = 0;
        for (int j = 0; j < 32; ++j) isum += static_cast<int32_t>(v[j]) * xb[b].qs[j];
        acc = std::fma(static_cast<float>(isum), fp16_to_fp32(wb[b].d) * fp16_to_fp32(xb[b].d), acc);
    }
    return acc;
}

float dot_other(int64_t n, const uint8_t* w, const uint8_t* x, TensorType type) { return vec_dot(type, n, w, x); }

// The dot product llama.cpp's CPU backend (x86, AVX-512 build) would use for this weight matrix and
// pass shape. tinyBLAS needs two or more rows, k % 16 == 0 and n_out % 4 == 0.
DotFn pick_dot(const MatmulWeight& w, bool batched) {
    const bool tiny_blas = batched && w.n_in % 16 == 0 && w.n_out % 4 == 0;
    switch (w.type) {
        case TensorType::F32: return tiny_blas ? dot_f32_batch : dot_f32_single;
        case TensorType::F16: return tiny_blas ? dot_f16_batch : dot_f16_single;
        case TensorType::Q8_0: return dot_q0_lanes8<BlockQ8_0>;
        case TensorType::Q5_0: return dot_q0_lanes8<BlockQ5_0>;
        case TensorType::Q4_0: return w.n_out % 8 == 0 ? dot_q4_0_repacked : dot_q0_lanes8<BlockQ4_0>;
        default: return dot_other;
    }
}

}  // namespace

size_t matmul_activation_row_bytes(TensorType weight_type, int64_t n_in) {
    const TensorType act_type = vec_dot_type(weight_type);
    const int64_t n_blocks = checked_block_count(act_type, n_in, "matmul activations");
    return static_cast<size_t>(n_blocks) * block_shape(act_type).type_size;
}

void matmul_convert_row(TensorType weight_type, const float* x, int64_t n_in, uint8_t* dst) {
    const TensorType act_type = vec_dot_type(weight_type);
    if (act_type == TensorType::F32) {
        std::memcpy(dst, x, static_cast<size_t>(n_in) * sizeof(float));
        return;
    }
    quantize_row(act_type, x, dst, n_in);
}

void matmul_rows(const MatmulWeight& w, const uint8_t* act, size_t act_row_bytes, int64_t n_rows,
                 const uint8_t* row_batched, float* y, int64_t y_stride, int64_t o_begin, int64_t o_end) {
    if (o_begin < 0 || o_end > w.n_out || o_begin > o_end) {
        throw std::invalid_argument("matmul_rows: output range outside the weight's rows");
    }
    checked_block_count(w.type, w.n_in, "matmul weights");
    const DotFn dot_single = pick_dot(w, false);
    const DotFn dot_batched = pick_dot(w, true);
    const int64_t chunk =
        std::max<int64_t>(1, static_cast<int64_t>(kActivationChunkBytes / std::max<size_t>(act_row_bytes, 1)));
    for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
        const int64_t r1 = std::min(n_rows, r0 + chunk);
        for (int64_t o = o_begin; o < o_end; ++o) {
            const uint8_t* w_row = w.data + static_cast<size_t>(o) * w.row_bytes;
            for (int64_t r = r0; r < r1; ++r) {
                const DotFn dot = row_batched[r] != 0 ? dot_batched : dot_single;
                y[r * y_stride + o] = dot(w.n_in, w_row, act + static_cast<size_t>(r) * act_row_bytes, w.type);
            }
        }
    }
}

}  // namespace peregrine::kernels::cpu
