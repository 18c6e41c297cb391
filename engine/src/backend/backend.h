// The compute interface the forward pass is written against: one virtual call per op the Llama-family
// forward needs. Buffers are row-major f32 activations ([n_rows][width]) in memory the backend can
// address; weights are views into the model file; K/V live in the paged KvCache.
// The CPU backend is the reference implementation; an accelerator backend implements the same ops
// and is tested against it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/cpu/rope.h"
#include "kv_cache/kv_cache.h"
#include "model/model_weights.h"

namespace peregrine::backend {

// One projection of a shared input: y [n_rows][w.n_rows] = x · wᵀ.
struct MatmulJob {
    const WeightView* weight;
    float* y;
};

// Where the rows of a batch read and write the cache.
struct KvRows {
    std::span<const int32_t> seq;  // [n_rows] sequence of each row
    std::span<const int32_t> pos;  // [n_rows] position (KV slot) of each row in its sequence
    // Tree batches only (empty otherwise: row r attends to slots 0..pos[r]). Row r attends to slots
    // 0..prefix[r]-1, then to the slots tail[tail_begin[r] .. tail_begin[r + 1]) (its ancestors among
    // the batch's rows, then itself), in that order.
    std::span<const int32_t> prefix;      // [n_rows]
    std::span<const int32_t> tail_begin;  // [n_rows + 1]
    std::span<const int32_t> tail;

    bool tree() const { return !prefix.empty(); }
    // Slots row r attends to.
    int32_t n_kv(size_t r) const { return tree() ? prefix[r] + tail_begin[r + 1] - tail_begin[r] : pos[r] + 1; }
};

// The attention layout of a tree batch, as KvRows reads it (the Context builds it from Batch::parent).
struct KvTree {
    std::vector<int32_t> slot, prefix, tail_begin, tail;

    KvRows rows(std::span<const int32_t> seq) const { return {seq, slot, prefix, tail_begin, tail}; }
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual std::string_view name() const = 0;
    virtual int n_threads() const = 0;

    // out [n_rows][table.n_cols] = rows `ids` of `table`, decoded to f32.
    virtual void get_rows(const WeightView& table, std::span<const int32_t> ids, float* out) = 0;

    // y [n_rows][n] = rms_norm(x) * weight, row by row. y may alias x.
    virtual void rms_norm(const float* x, const WeightView& weight, int64_t n_rows, int64_t n, float eps,
                          float* y) = 0;

    // Every job's y = x · Wᵀ for x [n_rows][n_in]; all weights share n_in. Activations are converted to
    // each weight's vec_dot type once, whatever the number of jobs. A row's results do not depend on the
    // other rows of the pass.
    virtual void matmul(std::span<const MatmulJob> jobs, const float* x, int64_t n_rows) = 0;

    // y [n_rows][n] += bias [n], row by row.
    virtual void add_bias(float* y, const WeightView& bias, int64_t n_rows, int64_t n) = 0;

    // out = a + b, element-wise over n values. out may alias a or b.
    virtual void add(const float* a, const float* b, float* out, int64_t n) = 0;

    // Rotates q [n_rows][n_head * head_dim] and k [n_rows][n_head_kv * head_dim] in place, each row at
    // its own position.
    virtual void rope(float* q, int n_head, float* k, int n_head_kv, int head_dim, std::span<const int32_t> pos,
                      const kernels::cpu::RopeConfig& config) = 0;

    // Writes k, v [n_rows][n_embd_kv] (rounded to f16) into layer `layer` of the cache at each row's slot.
    virtual void store_kv(KvCache& cache, int layer, const KvRows& rows, const float* k, const float* v) = 0;

    // out [n_rows][n_head * head_dim]: each row's query heads attend to positions 0..pos of its sequence
    // (causal; tree batches: the slots KvRows names), query head h reading kv head h / (n_head / n_head_kv).
    virtual void attention(const KvCache& cache, int layer, const KvRows& rows, const float* q, int n_head,
                           int n_head_kv, int head_dim, float scale, float* out) = 0;

    // out [n_rows][n] = silu(gate) * up, row by row. out may alias gate or up.
    virtual void swiglu(const float* gate, const float* up, float* out, int64_t n_rows, int64_t n) = 0;

    // --- fused forms of the ops above (each computes exactly what the separate ops would; a backend may
    // run them unfused, e.g. when kernels::cpu::fusion_enabled() is false) ---

    // matmul(jobs, rms_norm(x) * norm, n_rows), without writing the normalised rows out: each row is
    // normalised and converted to the weights' vec_dot type in one pass. x is left unchanged.
    virtual void rms_norm_matmul(std::span<const MatmulJob> jobs, const float* x, const WeightView& norm, float eps,
                                 int64_t n_rows) = 0;

    // The FFN's first half: gate.y = silu(rms_norm(x) * norm · gateᵀ) * (rms_norm(x) * norm · upᵀ), both
    // weights of the same shape; up.y is scratch. Each thread applies the SwiGLU to the output columns it
    // has just computed.
    virtual void rms_norm_matmul_swiglu(const MatmulJob& gate, const MatmulJob& up, const float* x,
                                        const WeightView& norm, float eps, int64_t n_rows) = 0;

    // rope(q, n_head, k, n_head_kv, head_dim, pos, config) then store_kv(cache, layer, rows, k, v), row by
    // row in one pass.
    virtual void rope_store_kv(float* q, int n_head, float* k, const float* v, int n_head_kv, int head_dim,
                               std::span<const int32_t> pos, const kernels::cpu::RopeConfig& config, KvCache& cache,
                               int layer, const KvRows& rows) = 0;
};

}  // namespace peregrine::backend
