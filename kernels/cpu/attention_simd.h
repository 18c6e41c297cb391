// The attention loop, written once over a small vector interface V and instantiated by attention.cpp
// (scalar, V of one lane), attention_avx2.cpp (8 lanes) and attention_avx512.cpp (16 lanes). Each file
// passes a V type from its own anonymous namespace, so every instantiation is local to that file and
// compiled with its ISA flags (the rule of simd_kernels.h).
//
// V provides: kLanes; R (a register of kLanes floats); zero, set1, load, store, load_f16 (kLanes halves),
// round_f16 (to the nearest half and back), add, mul, fma(a, b, c) = a * b + c, max, div, exp;
// reduce_add and reduce_max (all lanes to one float); transpose_sum(const R p[kLanes]) (lane i = sum of
// the lanes of p[i]).
//
// One call handles the query heads that share one KV head (GQA), so each K and V row is converted from
// f16 once for all of them:
//   q16     = round_f16(q)                                   the query, as llama.cpp's f16 mul_mat sees it
//   s[g][j] = scale * dot(q16[g], k_j)                       for positions j < n_kv
//   w[g][j] = round_f16(exp(s[g][j] - max_g) / sum_g)        softmax, weights rounded like llama.cpp's
//   out[g]  = sum_j w[g][j] * v_j
// K and V rows are read kLanes positions at a time into a small f32 buffer that stays in L1.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/attention.h"

namespace peregrine::kernels::cpu::attention_detail {

template <class V>
struct AttentionLoop {
    using R = typename V::R;
    static constexpr int L = V::kLanes;

    static int min(int a, int b) { return a < b ? a : b; }
    static void copy(const float* src, int n, float* dst) {
        for (int i = 0; i < n; ++i) dst[i] = src[i];
    }

    // Walks the slots of positions 0, 1, ... of one sequence through its block table without dividing;
    // after n_contig of them, the tree tail's positions (which need a division each).
    struct SlotWalker {
        const fp16_t* base;
        const PagedKv& kv;
        int64_t head_offset;
        int32_t n_contig;
        const int32_t* tail;
        int64_t block_index = 0;
        int offset = 0;
        int32_t index = 0;

        const fp16_t* next() {
            if (index++ >= n_contig) {
                const int32_t pos = tail[index - 1 - n_contig];
                return base +
                       (static_cast<int64_t>(kv.block_table[pos / kv.block_size]) * kv.block_size + pos % kv.block_size) *
                           kv.row_stride +
                       head_offset;
            }
            const fp16_t* p =
                base + (static_cast<int64_t>(kv.block_table[block_index]) * kv.block_size + offset) * kv.row_stride +
                head_offset;
            if (++offset == kv.block_size) {
                offset = 0;
                ++block_index;
            }
            return p;
        }
    };

    // Converts up to L rows (m of them; the rest are zeros) of head_dim halves into buf [L][head_dim].
    static void load_rows(SlotWalker& walk, int m, int head_dim, float* buf) {
        for (int r = 0; r < L; ++r) {
            float* dst = buf + static_cast<int64_t>(r) * head_dim;
            if (r < m) {
                const fp16_t* src = walk.next();
                for (int d = 0; d < head_dim; d += L) V::store(dst + d, V::load_f16(src + d));
            } else {
                for (int d = 0; d < head_dim; d += L) V::store(dst + d, V::zero());
            }
        }
    }

    static void scores(const PagedKv& kv, int64_t head_offset, int32_t n_kv, int32_t n_contig, const int32_t* tail,
                       const float* q, int n_q, int head_dim, float scale, float* buf, float* s, int64_t s_stride) {
        SlotWalker walk{kv.k, kv, head_offset, n_contig, tail};
        const R vscale = V::set1(scale);
        for (int32_t j0 = 0; j0 < n_kv; j0 += L) {
            const int m = min(L, n_kv - j0);
            load_rows(walk, m, head_dim, buf);
            for (int g = 0; g < n_q; ++g) {
                const float* qg = q + static_cast<int64_t>(g) * head_dim;
                R p[L];
                for (int r = 0; r < L; ++r) {
                    const float* k = buf + static_cast<int64_t>(r) * head_dim;
                    R acc = V::mul(V::load(qg), V::load(k));
                    for (int d = L; d < head_dim; d += L) acc = V::fma(V::load(qg + d), V::load(k + d), acc);
                    p[r] = acc;
                }
                float lane[L];
                V::store(lane, V::mul(V::transpose_sum(p), vscale));
                copy(lane, m, s + g * s_stride + j0);
            }
        }
    }

    // out [n_q][head_dim] = sum_j w[g][j] * v_j; 4 heads x up to 4 registers of head_dim stay in registers
    // while a block of L value rows passes.
    static void values(const PagedKv& kv, int64_t head_offset, int32_t n_kv, int32_t n_contig, const int32_t* tail,
                       const float* w, int64_t w_stride, int n_q, int head_dim, float* buf, float* out) {
        for (int64_t i = 0; i < static_cast<int64_t>(n_q) * head_dim; i += L) V::store(out + i, V::zero());
        SlotWalker walk{kv.v, kv, head_offset, n_contig, tail};
        for (int32_t j0 = 0; j0 < n_kv; j0 += L) {
            const int m = min(L, n_kv - j0);
            load_rows(walk, m, head_dim, buf);
            for (int g0 = 0; g0 < n_q; g0 += 4) {
                const int heads = min(4, n_q - g0);
                for (int d0 = 0; d0 < head_dim; d0 += 4 * L) {
                    const int regs = min(4, (head_dim - d0) / L);
                    if (heads == 4 && regs == 4) {
                        accumulate<4, 4>(w + g0 * w_stride + j0, w_stride, m, buf + d0, head_dim, out + g0 * head_dim + d0, head_dim);
                    } else {
                        for (int g = 0; g < heads; ++g) {
                            for (int c = 0; c < regs; ++c) {
                                accumulate<1, 1>(w + (g0 + g) * w_stride + j0, w_stride, m, buf + d0 + c * L, head_dim,
                                                 out + (g0 + g) * head_dim + d0 + c * L, head_dim);
                            }
                        }
                    }
                }
            }
        }
    }

    template <int G, int C>
    static void accumulate(const float* w, int64_t w_stride, int m, const float* v, int head_dim, float* out,
                           int out_stride) {
        R acc[G][C];
        for (int g = 0; g < G; ++g) {
            for (int c = 0; c < C; ++c) acc[g][c] = V::load(out + g * out_stride + c * L);
        }
        for (int r = 0; r < m; ++r) {
            const float* vr = v + static_cast<int64_t>(r) * head_dim;
            for (int g = 0; g < G; ++g) {
                const R wg = V::set1(w[g * w_stride + r]);
                for (int c = 0; c < C; ++c) acc[g][c] = V::fma(wg, V::load(vr + c * L), acc[g][c]);
            }
        }
        for (int g = 0; g < G; ++g) {
            for (int c = 0; c < C; ++c) V::store(out + g * out_stride + c * L, acc[g][c]);
        }
    }

    // x[i] = round_f16(exp(x[i] - max) / sum) over n values.
    static void softmax(float* x, int32_t n) {
        const int32_t n_vec = n - n % L;
        R vmax = V::set1(x[0]);
        for (int32_t i = 0; i < n_vec; i += L) vmax = V::max(vmax, V::load(x + i));
        float max = V::reduce_max(vmax);
        for (int32_t i = n_vec; i < n; ++i) max = x[i] > max ? x[i] : max;
        const auto exp_tail = [&](int32_t i) {  // the last n % L values through a zero-padded register
            float lane[L] = {};
            copy(x + i, n - i, lane);
            V::store(lane, V::exp(V::add(V::load(lane), V::set1(-max))));
            copy(lane, n - i, x + i);
            float sum = 0;
            for (int32_t k = 0; k < n - i; ++k) sum += lane[k];
            return sum;
        };
        R vsum = V::zero();
        const R neg_max = V::set1(-max);
        for (int32_t i = 0; i < n_vec; i += L) {
            const R e = V::exp(V::add(V::load(x + i), neg_max));
            V::store(x + i, e);
            vsum = V::add(vsum, e);
        }
        float sum = V::reduce_add(vsum);
        if (n_vec < n) sum += exp_tail(n_vec);
        const R inv = V::set1(1.0f / sum);
        for (int32_t i = 0; i < n_vec; i += L) V::store(x + i, V::round_f16(V::mul(V::load(x + i), inv)));
        if (n_vec < n) {
            float lane[L] = {};
            copy(x + n_vec, n - n_vec, lane);
            V::store(lane, V::round_f16(V::mul(V::load(lane), inv)));
            copy(lane, n - n_vec, x + n_vec);
        }
    }

    static void run(const AttentionArgs& a) {
        const int head_dim = a.head_dim;
        const int64_t head_offset = static_cast<int64_t>(a.kv_head) * head_dim;
        float* q16 = a.scratch;                                       // [n_q][head_dim]
        float* buf = q16 + static_cast<int64_t>(a.n_q) * head_dim;    // [L][head_dim]
        float* s = buf + static_cast<int64_t>(L) * head_dim;          // [n_q][n_kv]
        for (int64_t i = 0; i < static_cast<int64_t>(a.n_q) * head_dim; i += L) {
            V::store(q16 + i, V::round_f16(V::load(a.q + i)));
        }
        const int32_t n_contig = a.n_kv - a.n_tail;
        scores(a.kv, head_offset, a.n_kv, n_contig, a.tail, q16, a.n_q, head_dim, a.scale, buf, s, a.n_kv);
        for (int g = 0; g < a.n_q; ++g) softmax(s + static_cast<int64_t>(g) * a.n_kv, a.n_kv);
        values(a.kv, head_offset, a.n_kv, n_contig, a.tail, s, a.n_kv, a.n_q, head_dim, buf, a.out);
    }
};

}  // namespace peregrine::kernels::cpu::attention_detail
