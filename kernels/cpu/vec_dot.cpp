// Dot products for the float types and the 32-value block types (K-quants are in vec_dot_kquants.cpp),
// and the dispatch to the active CPU path's kernels (SIMD ones in *_avx2.cpp / *_avx512.cpp).
//
// Float rows are summed in kLanes independent partial sums (like a SIMD register of accumulators), which
// lets g++ -O3 vectorize the loop without -ffast-math and keeps rounding error growing with n/kLanes.
// Quantized rows: int32 sum per 32-value block, then one float multiply-add per block.
#include "kernels/cpu/vec_dot.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/row_checks.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/cpu/vec_dot_kernels.h"

namespace peregrine::kernels::cpu {
namespace {

constexpr int kLanes = 16;

// Pairwise reduction of the lane sums, then the tail (n % kLanes elements) in order.
template <typename Load>
float lane_dot(int64_t n, Load&& product) {
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) acc[l] += product(i + l);
    }
    for (int width = kLanes / 2; width > 0; width /= 2) {
        for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
    }
    float sum = acc[0];
    for (; i < n; ++i) sum += product(i);
    return sum;
}

float dot_f32(int64_t n, const float* w, const float* x) {
    return lane_dot(n, [&](int64_t i) { return w[i] * x[i]; });
}

// fp16 * fp16 and bf16 * bf16 products are exact in fp32 (11 + 11 and 8 + 8 significant bits).
float dot_f16(int64_t n, const fp16_t* w, const fp16_t* x) {
    return lane_dot(n, [&](int64_t i) { return fp16_to_fp32_fast(w[i]) * fp16_to_fp32_fast(x[i]); });
}

float dot_bf16(int64_t n, const bf16_t* w, const bf16_t* x) {
    return lane_dot(n, [&](int64_t i) { return bf16_to_fp32(w[i]) * bf16_to_fp32(x[i]); });
}

// Block-wise helpers: unpack one weight block's 32 values to int8 (in element order), then dot.
void unpack_q4_0(const BlockQ4_0& b, int8_t* v) {
    for (int j = 0; j < 16; ++j) {
        v[j] = static_cast<int8_t>((b.qs[j] & 0xF) - 8);
        v[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
    }
}

void unpack_q4_1(const BlockQ4_1& b, int8_t* v) {
    for (int j = 0; j < 16; ++j) {
        v[j] = static_cast<int8_t>(b.qs[j] & 0xF);
        v[j + 16] = static_cast<int8_t>(b.qs[j] >> 4);
    }
}

// 5-bit values: the low nibble plus bit j of qh as bit 4, minus 16 for Q5_0 (Q5_1 adds its minimum instead).
template <typename Block>
void unpack_q5(const Block& b, int8_t* v) {
    constexpr int kOffset = std::is_same_v<Block, BlockQ5_0> ? 16 : 0;
    uint8_t high[32];
    expand_q5_high_bits(b.qh, high);
    for (int j = 0; j < 16; ++j) {
        v[j] = static_cast<int8_t>(((b.qs[j] & 0xF) | high[j]) - kOffset);
        v[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | high[j + 16]) - kOffset);
    }
}

void unpack_iq4_nl(const BlockIQ4_NL& b, int8_t* v) {
    for (int j = 0; j < 16; ++j) {
        v[j] = kIq4nlValues[b.qs[j] & 0xF];
        v[j + 16] = kIq4nlValues[b.qs[j] >> 4];
    }
}

// Symmetric weights against Q8_0: sum over blocks of (d_w * d_x) * isum.
template <typename Block, typename Unpack>
float dot_symmetric_q8_0(int64_t nb, const Block* x, const BlockQ8_0* y, Unpack&& unpack) {
    float sum = 0.f;
    int8_t v[32];
    for (int64_t i = 0; i < nb; ++i) {
        unpack(x[i], v);
        const int32_t isum = dot_i8<32>(v, y[i].qs);
        sum += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * static_cast<float>(isum);
    }
    return sum;
}

// Weights with a minimum against Q8_1: sum of (d_w * d_x) * isum, plus sum of m_w * s_x (s_x = d_x *
// sum of the activation block's values), added once at the end as ggml does.
template <typename Block, typename Unpack>
float dot_affine_q8_1(int64_t nb, const Block* x, const BlockQ8_1* y, Unpack&& unpack) {
    float sum = 0.f;
    float sum_mins = 0.f;
    int8_t v[32];
    for (int64_t i = 0; i < nb; ++i) {
        unpack(x[i], v);
        const int32_t isum = dot_i8<32>(v, y[i].qs);
        sum += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * static_cast<float>(isum);
        sum_mins += fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
    }
    return sum + sum_mins;
}

}  // namespace

TensorType vec_dot_type(TensorType weight) {
    switch (weight) {
        case TensorType::F32: return TensorType::F32;
        case TensorType::F16: return TensorType::F16;
        case TensorType::BF16: return TensorType::BF16;
        case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: case TensorType::IQ4_NL:
            return TensorType::Q8_0;
        case TensorType::Q4_1: case TensorType::Q5_1:
            return TensorType::Q8_1;
        case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
        case TensorType::Q6_K: case TensorType::IQ4_XS:
            return TensorType::Q8_K;
        case TensorType::Q8_1: case TensorType::Q8_K:
            break;
    }
    throw std::invalid_argument("vec_dot_type: no dot product for weights of tensor type " + type_name_for_errors(weight));
}

bool has_vec_dot(TensorType weight) {
    return block_shape(weight).block_size != 0 && weight != TensorType::Q8_1 && weight != TensorType::Q8_K;
}

namespace {

// The scalar kernels behind one switch; n already checked.
float scalar_dot(TensorType weight, int64_t n, int64_t nb, const void* w, const void* x) {
    switch (weight) {
        case TensorType::F32:
            return dot_f32(n, static_cast<const float*>(w), static_cast<const float*>(x));
        case TensorType::F16:
            return dot_f16(n, static_cast<const fp16_t*>(w), static_cast<const fp16_t*>(x));
        case TensorType::BF16:
            return dot_bf16(n, static_cast<const bf16_t*>(w), static_cast<const bf16_t*>(x));
        case TensorType::Q4_0:
            return dot_symmetric_q8_0(nb, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                                      unpack_q4_0);
        case TensorType::Q5_0:
            return dot_symmetric_q8_0(nb, static_cast<const BlockQ5_0*>(w), static_cast<const BlockQ8_0*>(x),
                                      unpack_q5<BlockQ5_0>);
        case TensorType::Q8_0:
            return dot_symmetric_q8_0(nb, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                                      [](const BlockQ8_0& b, int8_t* v) { std::memcpy(v, b.qs, 32); });
        case TensorType::IQ4_NL:
            return dot_symmetric_q8_0(nb, static_cast<const BlockIQ4_NL*>(w), static_cast<const BlockQ8_0*>(x),
                                      unpack_iq4_nl);
        case TensorType::Q4_1:
            return dot_affine_q8_1(nb, static_cast<const BlockQ4_1*>(w), static_cast<const BlockQ8_1*>(x),
                                   unpack_q4_1);
        case TensorType::Q5_1:
            return dot_affine_q8_1(nb, static_cast<const BlockQ5_1*>(w), static_cast<const BlockQ8_1*>(x),
                                   unpack_q5<BlockQ5_1>);
        case TensorType::Q2_K:
            return vec_dot_q2_k_q8_k(nb, static_cast<const BlockQ2_K*>(w), static_cast<const BlockQ8_K*>(x));
        case TensorType::Q3_K:
            return vec_dot_q3_k_q8_k(nb, static_cast<const BlockQ3_K*>(w), static_cast<const BlockQ8_K*>(x));
        case TensorType::Q4_K:
            return vec_dot_q4_k_q8_k(nb, static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(x));
        case TensorType::Q5_K:
            return vec_dot_q5_k_q8_k(nb, static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(x));
        case TensorType::Q6_K:
            return vec_dot_q6_k_q8_k(nb, static_cast<const BlockQ6_K*>(w), static_cast<const BlockQ8_K*>(x));
        case TensorType::IQ4_XS:
            return vec_dot_iq4_xs_q8_k(nb, static_cast<const BlockIQ4_XS*>(w), static_cast<const BlockQ8_K*>(x));
        case TensorType::Q8_1: case TensorType::Q8_K:
            break;
    }
    return 0.f;  // unreachable: the tables only hold types with a kernel
}

// --- dispatch ---------------------------------------------------------------------------------------

template <TensorType Weight>
float scalar_kernel(int64_t n, const void* w, const void* x) {
    return scalar_dot(Weight, n, n / block_shape(Weight).block_size, w, x);
}

// The tile form for kernels that only have a single-row version. Weight rows are the outer loop: a row
// stays in L1 while every activation row passes over it, so a prefill reads the weights once per chunk
// of activations (matmul.cpp sizes the chunks for L2) instead of once per activation.
template <VecDotFn Dot>
void tile_by_rows(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
                  int64_t n_x, float* out, size_t out_stride) {
    for (int64_t i = 0; i < n_rows; ++i) {
        const auto* wi = static_cast<const uint8_t*>(w) + static_cast<size_t>(i) * w_row_stride;
        for (int64_t j = 0; j < n_x; ++j) {
            out[static_cast<size_t>(j) * out_stride + static_cast<size_t>(i)] =
                Dot(n, wi, static_cast<const uint8_t*>(x) + static_cast<size_t>(j) * x_row_stride);
        }
    }
}

using GemmFn = void (*)(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                        size_t x_row_stride, int64_t n_x, float* out, size_t out_stride, void* scratch);

struct Kernels {
    VecDotFn dot = nullptr;
    VecDotTileFn tile = nullptr;
    GemmFn gemm = nullptr;                     // optional; needs gemm_scratch(n) bytes of scratch
    size_t (*gemm_scratch)(int64_t n) = nullptr;
};

template <VecDotFn Dot>
constexpr Kernels single_row_only() {
    return {Dot, tile_by_rows<Dot>};
}

constexpr Kernels scalar_kernels(TensorType t) {
    switch (t) {
        case TensorType::F32: return single_row_only<scalar_kernel<TensorType::F32>>();
        case TensorType::F16: return single_row_only<scalar_kernel<TensorType::F16>>();
        case TensorType::BF16: return single_row_only<scalar_kernel<TensorType::BF16>>();
        case TensorType::Q4_0: return single_row_only<scalar_kernel<TensorType::Q4_0>>();
        case TensorType::Q4_1: return single_row_only<scalar_kernel<TensorType::Q4_1>>();
        case TensorType::Q5_0: return single_row_only<scalar_kernel<TensorType::Q5_0>>();
        case TensorType::Q5_1: return single_row_only<scalar_kernel<TensorType::Q5_1>>();
        case TensorType::Q8_0: return single_row_only<scalar_kernel<TensorType::Q8_0>>();
        case TensorType::Q2_K: return single_row_only<scalar_kernel<TensorType::Q2_K>>();
        case TensorType::Q3_K: return single_row_only<scalar_kernel<TensorType::Q3_K>>();
        case TensorType::Q4_K: return single_row_only<scalar_kernel<TensorType::Q4_K>>();
        case TensorType::Q5_K: return single_row_only<scalar_kernel<TensorType::Q5_K>>();
        case TensorType::Q6_K: return single_row_only<scalar_kernel<TensorType::Q6_K>>();
        case TensorType::IQ4_NL: return single_row_only<scalar_kernel<TensorType::IQ4_NL>>();
        case TensorType::IQ4_XS: return single_row_only<scalar_kernel<TensorType::IQ4_XS>>();
        case TensorType::Q8_1: case TensorType::Q8_K: break;
    }
    return {};
}

constexpr Kernels avx2_kernels(TensorType t) {
    switch (t) {
        case TensorType::F32: return single_row_only<avx2::vec_dot_f32>();
        case TensorType::F16: return single_row_only<avx2::vec_dot_f16>();
        case TensorType::BF16: return single_row_only<avx2::vec_dot_bf16>();
        case TensorType::Q4_0: return {avx2::vec_dot_q4_0, avx2::vec_dot_tile_q4_0};
        case TensorType::Q5_0: return {avx2::vec_dot_q5_0, avx2::vec_dot_tile_q5_0};
        case TensorType::Q8_0: return {avx2::vec_dot_q8_0, avx2::vec_dot_tile_q8_0};
        case TensorType::Q4_K: return single_row_only<avx2::vec_dot_q4_k>();
        case TensorType::Q5_K: return single_row_only<avx2::vec_dot_q5_k>();
        case TensorType::Q6_K: return single_row_only<avx2::vec_dot_q6_k>();
        default: return scalar_kernels(t);
    }
}

constexpr Kernels avx512_kernels(TensorType t) {
    switch (t) {
        case TensorType::F32: return {avx512::vec_dot_f32, avx512::vec_dot_tile_f32};
        case TensorType::F16: return {avx512::vec_dot_f16, avx512::vec_dot_tile_f16};
        case TensorType::BF16: return {avx512::vec_dot_bf16, avx512::vec_dot_tile_bf16};
        case TensorType::Q4_0:
            return {avx512::vec_dot_q4_0, avx512::vec_dot_tile_q4_0, avx512::gemm_q4_0, avx512::gemm_scratch_bytes};
        case TensorType::Q5_0:
            return {avx512::vec_dot_q5_0, avx512::vec_dot_tile_q5_0, avx512::gemm_q5_0, avx512::gemm_scratch_bytes};
        case TensorType::Q8_0:
            return {avx512::vec_dot_q8_0, avx512::vec_dot_tile_q8_0, avx512::gemm_q8_0, avx512::gemm_scratch_bytes};
        case TensorType::Q4_K: return {avx512::vec_dot_q4_k, avx512::vec_dot_tile_q4_k};
        case TensorType::Q5_K: return {avx512::vec_dot_q5_k, avx512::vec_dot_tile_q5_k};
        case TensorType::Q6_K: return {avx512::vec_dot_q6_k, avx512::vec_dot_tile_q6_k};
        default: return scalar_kernels(t);
    }
}

// Indexed by the type's GGUF id (all below 32). Built at compile time: choosing a path runs no code.
constexpr int kTypeIds = 32;
using KernelTable = std::array<Kernels, kTypeIds>;

constexpr KernelTable make_table(Kernels (*kernels_of)(TensorType)) {
    KernelTable table{};
    for (int id = 0; id < kTypeIds; ++id) {
        const auto t = static_cast<TensorType>(id);
        if (block_shape(t).block_size != 0) table[static_cast<size_t>(id)] = kernels_of(t);
    }
    return table;
}

constexpr KernelTable kTables[kCpuPathCount] = {make_table(scalar_kernels), make_table(avx2_kernels),
                                                make_table(avx512_kernels)};

// The active path's kernels for `weight`, after checking n (which also rejects unknown ids).
const Kernels& kernels_for(TensorType weight, int64_t n, const char* caller) {
    checked_block_count(weight, n, caller);
    const Kernels& k = kTables[static_cast<int>(cpu_path())][static_cast<size_t>(weight)];
    if (k.dot == nullptr) {
        throw std::invalid_argument(std::string(caller) + ": no dot product for weights of tensor type " +
                                    type_name_for_errors(weight));
    }
    return k;
}

}  // namespace

float vec_dot(TensorType weight, int64_t n, const void* w, const void* x) {
    return kernels_for(weight, n, "vec_dot").dot(n, w, x);
}

VecDotFn vec_dot_kernel(TensorType weight) {
    return kernels_for(weight, 0, "vec_dot_kernel").dot;
}

void vec_dot_rows(TensorType weight, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                  float* out) {
    const Kernels& k = kernels_for(weight, n, "vec_dot_rows");
    if (n_rows < 0) throw std::invalid_argument("vec_dot_rows: negative row count " + std::to_string(n_rows));
    k.tile(n, w, w_row_stride, n_rows, x, 0, 1, out, 0);
}

void vec_dot_tile(TensorType weight, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                  size_t x_row_stride, int64_t n_x, float* out, size_t out_stride) {
    const Kernels& k = kernels_for(weight, n, "vec_dot_tile");
    if (n_rows < 0 || n_x < 0) {
        throw std::invalid_argument("vec_dot_tile: negative shape " + std::to_string(n_rows) + " x " + std::to_string(n_x));
    }
    k.tile(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
}

size_t vec_dot_gemm_scratch_bytes(TensorType weight, int64_t n) {
    const Kernels& k = kernels_for(weight, n, "vec_dot_gemm_scratch_bytes");
    return k.gemm != nullptr ? k.gemm_scratch(n) : 0;
}

void vec_dot_gemm(TensorType weight, int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                  size_t x_row_stride, int64_t n_x, float* out, size_t out_stride, void* scratch, size_t scratch_bytes) {
    const Kernels& k = kernels_for(weight, n, "vec_dot_gemm");
    if (n_rows < 0 || n_x < 0) {
        throw std::invalid_argument("vec_dot_gemm: negative shape " + std::to_string(n_rows) + " x " + std::to_string(n_x));
    }
    if (k.gemm == nullptr || n_rows == 0 || n_x == 0) {
        k.tile(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride);
        return;
    }
    if (scratch == nullptr || scratch_bytes < k.gemm_scratch(n)) {
        throw std::invalid_argument("vec_dot_gemm: scratch of " + std::to_string(scratch_bytes) + " bytes, " +
                                    std::to_string(k.gemm_scratch(n)) + " needed");
    }
    k.gemm(n, w, w_row_stride, n_rows, x, x_row_stride, n_x, out, out_stride, scratch);
}

}  // namespace peregrine::kernels::cpu
