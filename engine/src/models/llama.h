// The forward pass of the Llama family ("llama" and "qwen2" architectures).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "kv_cache/kv_cache.h"
#include "peregrine/batch.h"
#include "peregrine/model.h"

namespace peregrine {

// How the pass that computed a row was shaped. The CPU kernels' results no longer depend on it (each
// output element is computed the same way whatever the batch; kernels/cpu/matmul.h), so llama_forward
// ignores it; the context still records it per row, and it can go once the context stops passing it.
struct RowShape {
    bool batched;      // the pass had two or more rows
    bool out_batched;  // the pass had two or more rows wanting logits
    int32_t kv_view;   // the row's sequence length at the end of the pass
};

// Activation buffers of one forward pass, grown to the largest batch seen and then reused, so the
// decode path does not allocate. Shapes are given for a batch of n rows.
struct ForwardScratch {
    std::vector<float> x;      // [n][n_embd]     residual stream
    std::vector<float> xb;     // [n][n_embd]     normalised input of a block
    std::vector<float> xb2;    // [n][n_embd]     block output before the residual add
    std::vector<float> q;      // [n][n_embd_q]   queries
    std::vector<float> k;      // [n][n_embd_kv]  keys of the new rows
    std::vector<float> v;      // [n][n_embd_kv]  values of the new rows
    std::vector<float> att;    // [n][n_embd_q]   attention output, heads concatenated
    std::vector<float> hb;     // [n][n_ff]       FFN gate, then silu(gate) * up
    std::vector<float> hb2;    // [n][n_ff]       FFN up
    std::vector<int32_t> tokens, pos, seq;  // [n] per-row inputs
    std::vector<int32_t> logit_rows;        // [n_logits] rows whose logits are wanted

    void reserve(const ModelInfo& info, int64_t n_rows);
};

// Runs the rows through the model. Each row's sequence must already have KV slots up to its position
// (KvCache::grow); the pass writes every row's K/V for every layer before that layer's attention, so
// several rows of one sequence attend to each other causally. `shapes` is unused (RowShape).
// Writes logits [n_logit_rows][n_vocab] for the rows with want_logits, in row order.
// `tree` (tree batches, see batch.h): the rows' KV slots and attention mask; null: slot = position, causal.
void llama_forward(const Model& model, backend::Backend& be, KvCache& cache, std::span<const BatchRow> rows,
                   std::span<const RowShape> shapes, ForwardScratch& s, float* logits,
                   const backend::KvTree* tree = nullptr);

}  // namespace peregrine
