// The reference backend: the kernels of kernels/cpu split across a persistent thread pool. Matmuls are
// split over output rows, attention over (row, head) pairs, the element-wise ops over rows.
// Scratch (converted activations, attention scores) grows to the largest batch seen and is reused.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "backend/thread_pool.h"

namespace peregrine::backend {

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(int n_threads);

    std::string_view name() const override { return "cpu"; }
    int n_threads() const override { return pool_.size(); }

    void get_rows(const WeightView& table, std::span<const int32_t> ids, float* out) override;
    void rms_norm(const float* x, const WeightView& weight, int64_t n_rows, int64_t n, float eps,
                  float* y) override;
    void matmul(std::span<const MatmulJob> jobs, const float* x, int64_t n_rows) override;
    void add_bias(float* y, const WeightView& bias, int64_t n_rows, int64_t n) override;
    void add(const float* a, const float* b, float* out, int64_t n) override;
    void rope(float* q, int n_head, float* k, int n_head_kv, int head_dim, std::span<const int32_t> pos,
              const kernels::cpu::RopeConfig& config) override;
    void store_kv(KvCache& cache, int layer, const KvRows& rows, const float* k, const float* v) override;
    void attention(const KvCache& cache, int layer, const KvRows& rows, const float* q, int n_head, int n_head_kv,
                   int head_dim, float scale, float* out) override;
    void swiglu(const float* gate, const float* up, float* out, int64_t n_rows, int64_t n) override;
    void rms_norm_matmul(std::span<const MatmulJob> jobs, const float* x, const WeightView& norm, float eps,
                         int64_t n_rows) override;
    void rms_norm_matmul_swiglu(const MatmulJob& gate, const MatmulJob& up, const float* x, const WeightView& norm,
                                float eps, int64_t n_rows) override;
    void rope_store_kv(float* q, int n_head, float* k, const float* v, int n_head_kv, int head_dim,
                       std::span<const int32_t> pos, const kernels::cpu::RopeConfig& config, KvCache& cache, int layer,
                       const KvRows& rows) override;

private:
    // The matmul behind the public forms: x normalised first when norm is given (fused into the
    // activation conversion), and for swiglu (jobs = {gate, up}) the output columns split across threads
    // so that each applies silu(gate) * up to its own columns.
    void matmul_impl(std::span<const MatmulJob> jobs, const float* x, int64_t n_rows, const float* norm, float eps,
                     bool swiglu);

    // Threads worth using for n cheap element-wise operations (waking threads costs more than tiny ops).
    int threads_for_elements(int64_t n) const;
    // Threads worth using for an op of `macs` multiply-adds.
    int threads_for_macs(int64_t macs) const;

    ThreadPool pool_;
    std::vector<uint8_t> activations_;             // converted matmul inputs, one region per vec_dot type
    std::vector<float> attention_scratch_;         // [n_threads][attention_scratch_floats(...)]
    std::vector<float> normed_;                    // normalised matmul inputs, when no fused form applies
};

}  // namespace peregrine::backend
