#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/cpu/ggml_arithmetic.h"

namespace peregrine::kernels::cpu {
namespace {

inline const fp16_t* slot(const fp16_t* base, const PagedKv& kv, int32_t pos) {
    const int64_t block = kv.block_table[pos / kv.block_size];
    const int64_t offset = pos % kv.block_size;
    return base + (block * kv.block_size + offset) * kv.row_stride;
}

// out[d] = sum_j w[j] * v_j[d] over j < n_kv; positions n_kv .. n_padded-1 hold weight 0 in llama.cpp
// and only shape the summation order. Batched: lanes16 over n_padded. Single row: ggml_vec_dot_f16 over
// n_padded (4 x 16 lanes, then the rest in double).
void weighted_values(const PagedKv& kv, int64_t head_offset, int head_dim, const fp16_t* weights,
                     const AttentionRow& row, const AttentionScratch& scratch, float* out) {
    const float* f16 = ggml::f16_table();
    float* lanes = scratch.lanes;  // [4][head_dim][16]
    std::memset(lanes, 0, sizeof(float) * static_cast<size_t>(attention_lane_floats(head_dim)));
    const auto lane_at = [&](int group, int d, int lane) -> float& {
        return lanes[(static_cast<int64_t>(group) * head_dim + d) * 16 + lane];
    };

    const bool tiny_blas = row.batched && row.n_kv_padded % 16 == 0;
    const int32_t n_simd = tiny_blas ? row.n_kv_padded : (row.n_kv_padded & ~int32_t{63});
    const int32_t n_lanes_end = std::min(row.n_kv, n_simd);
    for (int32_t j = 0; j < n_lanes_end; ++j) {
        const float w = f16[weights[j]];
        const fp16_t* v = slot(kv.v, kv, j) + head_offset;
        const int group = tiny_blas ? 0 : (j % 64) / 16;
        const int lane = j % 16;
        for (int d = 0; d < head_dim; ++d) lane_at(group, d, lane) += w * f16[v[d]];
    }
    float folded[16];
    for (int d = 0; d < head_dim; ++d) {
        if (tiny_blas) {
            out[d] = ggml::reduce16(&lane_at(0, d, 0));
            continue;
        }
        for (int l = 0; l < 16; ++l) {
            folded[l] = (lane_at(0, d, l) + lane_at(2, d, l)) + (lane_at(1, d, l) + lane_at(3, d, l));
        }
        scratch.sums[d] = ggml::reduce16(folded);
    }
    if (tiny_blas) return;
    for (int32_t j = n_simd; j < row.n_kv; ++j) {
        const float w = f16[weights[j]];
        const fp16_t* v = slot(kv.v, kv, j) + head_offset;
        for (int d = 0; d < head_dim; ++d) scratch.sums[d] += static_cast<double>(w * f16[v[d]]);
    }
    for (int d = 0; d < head_dim; ++d) out[d] = static_cast<float>(scratch.sums[d]);
}

}  // namespace

void attention_head(const float* q, int head_dim, const PagedKv& kv, int kv_head, const AttentionRow& row,
                    float scale, const AttentionScratch& scratch, float* out) {
    if (head_dim <= 0 || head_dim > kMaxAttentionHeadDim) {
        throw std::invalid_argument("attention_head: head_dim " + std::to_string(head_dim) + " is not supported");
    }
    const float* f16 = ggml::f16_table();
    const int64_t head_offset = static_cast<int64_t>(kv_head) * head_dim;
    float* scores = scratch.scores;

    // q·k: the query is rounded to f16 like ggml's mul_mat(k, q) does.
    float q16[kMaxAttentionHeadDim];
    for (int d = 0; d < head_dim; ++d) q16[d] = f16[fp32_to_fp16(q[d])];
    const auto qa = [&](int64_t d) { return q16[d]; };
    const bool tiny_blas_qk = row.batched && head_dim % 16 == 0;
    float max_score = -std::numeric_limits<float>::infinity();
    for (int32_t j = 0; j < row.n_kv; ++j) {
        const fp16_t* k = slot(kv.k, kv, j) + head_offset;
        const auto kb = [&](int64_t d) { return f16[k[d]]; };
        const float dot = tiny_blas_qk ? ggml::dot_lanes16<false>(head_dim, qa, kb) : ggml::dot_vec_f16(head_dim, qa, kb);
        const float s = dot * scale;
        scores[j] = s;
        if (s > max_score) max_score = s;
    }

    // softmax: ggml_vec_soft_max_f32 takes 16-value chunks with its vector exponential and adds each
    // chunk's reduced sum in double; values past the (padded) view's last full chunk use expf.
    const int32_t n_simd = row.n_kv_padded & ~int32_t{15};
    double sum = 0.0;
    for (int32_t c = 0; c < row.n_kv && c < n_simd; c += 16) {
        float chunk[16] = {};
        for (int l = 0; l < 16 && c + l < row.n_kv; ++l) {
            chunk[l] = ggml::expf_simd(scores[c + l] - max_score);
            scores[c + l] = chunk[l];
        }
        sum += static_cast<double>(ggml::reduce16(chunk));
    }
    for (int32_t j = n_simd; j < row.n_kv; ++j) {
        const float e = std::exp(scores[j] - max_score);
        scores[j] = e;
        sum += static_cast<double>(e);
    }
    const float inv_sum = static_cast<float>(1.0 / sum);
    for (int32_t j = 0; j < row.n_kv; ++j) scratch.weights[j] = fp32_to_fp16(scores[j] * inv_sum);

    weighted_values(kv, head_offset, head_dim, scratch.weights, row, scratch, out);
}

void store_f16_row(const float* x, fp16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(x[i]);
}

}  // namespace peregrine::kernels::cpu
