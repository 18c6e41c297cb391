// Causal self-attention over a paged F16 KV cache, with llama.cpp's non-flash CPU arithmetic:
//   scores[j] = dot(f16(q), k_j) * scale in f32 (K and V are stored as f16);
//   softmax in f32 with max subtraction; the weights rounded to f16 (ggml converts them for the f16 mul_mat);
//   out = sum_j weight_j * v_j, accumulated in f32.
// The sums run in SIMD lane order (attention_simd.h), so results agree with llama.cpp to float rounding.
//
// One call handles all query heads that share a KV head (grouped-query attention), so each K and V row is
// read and converted once for the whole group.
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

// Largest head_dim attention accepts.
inline constexpr int kMaxAttentionHeadDim = 512;

struct AttentionArgs {
    const float* q = nullptr;   // [n_q][head_dim] query heads that read KV head kv_head
    int n_q = 1;
    int head_dim = 0;
    PagedKv kv;
    int kv_head = 0;
    int32_t n_kv = 0;           // positions attended: 0 .. n_kv-1 (the row's own position is n_kv-1)
    // Tree attention: the last n_tail of the n_kv positions attended are tail[0 .. n_tail) instead
    // (0 .. n_kv-n_tail-1 first, then these, in this order: a drafted row's ancestors and itself).
    const int32_t* tail = nullptr;
    int32_t n_tail = 0;
    float scale = 1.0f;
    float* scratch = nullptr;   // attention_scratch_floats(n_q, head_dim, n_kv) floats
    float* out = nullptr;       // [n_q][head_dim]
};

// Scratch one call needs: the rounded queries, a block of converted K/V rows and the scores.
inline int64_t attention_scratch_floats(int n_q, int head_dim, int32_t n_kv) {
    return int64_t{n_q} * head_dim + int64_t{16} * head_dim + int64_t{n_q} * n_kv + 16;
}

// Throws std::invalid_argument for head_dim outside 1..kMaxAttentionHeadDim, n_q < 1, n_kv < 1 or n_tail
// outside 0..n_kv.
void attention(const AttentionArgs& args);

// Rounds a row of n floats to f16 (how K and V enter the cache).
void store_f16_row(const float* x, fp16_t* dst, int64_t n);

}  // namespace peregrine::kernels::cpu
