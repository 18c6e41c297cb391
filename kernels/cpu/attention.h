// Causal self-attention of one query head over a paged F16 KV cache, with llama.cpp's non-flash CPU
// arithmetic (K and V in f16, the softmax in f32):
//   scores[j] = dot(f16(q), k_j), times `scale` in float;
//   softmax with max subtraction, ggml's exponential, the sum accumulated in double, weights times 1/sum;
//   out = sum_j f16(weight_j) * v_j.
// The dot products and the softmax follow ggml's operation order (see ggml_arithmetic.h), which depends
// on whether the pass holds one row or several (`batched`) and on llama.cpp's padded KV length: its
// KV view spans the first multiple of 32 positions covering the sequence (capped at the cache size).
//
// K and V rows live in fixed-size blocks; a sequence's block table maps position j to
// (block_table[j / block_size], j % block_size).
#pragma once

#include <cstdint>

#include "kernels/cpu/fp16.h"

namespace peregrine::kernels::cpu {

struct PagedKv {
    const fp16_t* k = nullptr;            // slot s of block b: k + (b * block_size + s) * row_stride
    const fp16_t* v = nullptr;            // same layout as k
    const int32_t* block_table = nullptr; // the sequence's blocks, in position order
    int block_size = 0;                   // positions per block
    int64_t row_stride = 0;               // halves per slot (n_head_kv * head_dim)
};

// Largest head_dim attention_head accepts.
inline constexpr int kMaxAttentionHeadDim = 512;

// Caller-owned scratch for one thread.
struct AttentionScratch {
    float* scores = nullptr;    // [n_kv]
    fp16_t* weights = nullptr;  // [n_kv]
    float* lanes = nullptr;     // [attention_lane_floats(head_dim)]
    double* sums = nullptr;     // [head_dim]
};
inline constexpr int64_t attention_lane_floats(int head_dim) { return int64_t{64} * head_dim; }

struct AttentionRow {
    int32_t n_kv;         // positions attended: 0 .. n_kv-1 (the row's own position is n_kv-1)
    int32_t n_kv_padded;  // llama.cpp's KV view length for this sequence (>= n_kv)
    bool batched;         // the forward pass has more than one row
};

// One query head `q` [head_dim] against kv head `kv_head` of a sequence; `out` [head_dim].
void attention_head(const float* q, int head_dim, const PagedKv& kv, int kv_head, const AttentionRow& row,
                    float scale, const AttentionScratch& scratch, float* out);

// Rounds a row of n floats to f16 (how K and V enter the cache).
void store_f16_row(const float* x, fp16_t* dst, int64_t n);

}  // namespace peregrine::kernels::cpu
