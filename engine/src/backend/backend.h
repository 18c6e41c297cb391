// The compute interface the forward pass is written against: one virtual call per op the Llama-family
// forward needs. Buffers are row-major f32 activations ([n_rows][width]) in memory the backend can
// address; weights are views into the model file; K/V live in the paged KvCache.
// The CPU backend is the reference implementation; an accelerator backend implements the same ops
// and is tested against it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

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
    std::span<const int32_t> pos;  // [n_rows] position of each row in its sequence
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
    // (causal), query head h reading kv head h / (n_head / n_head_kv).
    virtual void attention(const KvCache& cache, int layer, const KvRows& rows, const float* q, int n_head,
                           int n_head_kv, int head_dim, float scale, float* out) = 0;

    // out [n_rows][n] = silu(gate) * up, row by row. out may alias gate or up.
    virtual void swiglu(const float* gate, const float* up, float* out, int64_t n_rows, int64_t n) = 0;
};

}  // namespace peregrine::backend
