#include "backend/cpu_backend.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <stdexcept>

#include "kernels/cpu/add.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/get_rows.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/fusion.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"
#include "kernels/cpu/vec_dot.h"

namespace peregrine::backend {
namespace {

namespace kc = kernels::cpu;

// Below this much work per thread an op is not worth splitting: waking a thread and waiting for it costs
// a few microseconds when both cores are free, and a scheduler time slice when they are not.
constexpr int64_t kElementsPerThread = 16384;  // element-wise ops
constexpr int64_t kMacsPerThread = 256 * 1024;  // matmul and attention multiply-adds (~5 us)
// Fused SwiGLU: activation rows per chunk. As many as the AVX-512 GEMM takes per chunk for a 2048-wide
// input (gemm_chunk_rows), so the weights are streamed and unpacked as often as without fusion; a
// thread's gate and up outputs for one chunk (2 x 128 rows x its columns) are still in L2/L3 when the
// SwiGLU reads them back.
constexpr int64_t kSwigluChunkRows = 128;

kc::MatmulWeight matmul_weight(const WeightView& w) {
    return {w.type, w.data, w.row_bytes, w.n_cols, w.n_rows};
}

}  // namespace

CpuBackend::CpuBackend(int n_threads) : pool_(n_threads) {}

int CpuBackend::threads_for_elements(int64_t n) const {
    return static_cast<int>(std::clamp<int64_t>(n / kElementsPerThread, 1, pool_.size()));
}

int CpuBackend::threads_for_macs(int64_t macs) const {
    return static_cast<int>(std::clamp<int64_t>(macs / kMacsPerThread, 1, pool_.size()));
}

void CpuBackend::get_rows(const WeightView& table, std::span<const int32_t> ids, float* out) {
    const int64_t n_rows = static_cast<int64_t>(ids.size());
    pool_.run(
        [&](int ith, int nth) {
            const auto [begin, end] = split_range(n_rows, ith, nth);
            for (int64_t r = begin; r < end; ++r) {
                kc::get_row(table.type, table.data, table.row_bytes, table.n_rows, table.n_cols, ids[r],
                            out + r * table.n_cols);
            }
        },
        static_cast<int>(std::min<int64_t>(n_rows, pool_.size())));
}

void CpuBackend::rms_norm(const float* x, const WeightView& weight, int64_t n_rows, int64_t n, float eps, float* y) {
    pool_.run(
        [&](int ith, int nth) {
            const auto [begin, end] = split_range(n_rows, ith, nth);
            for (int64_t r = begin; r < end; ++r) kc::rms_norm_row(x + r * n, weight.f32(), y + r * n, n, eps);
        },
        threads_for_elements(n_rows * n));
}

void CpuBackend::matmul(std::span<const MatmulJob> jobs, const float* x, int64_t n_rows) {
    matmul_impl(jobs, x, n_rows, nullptr, 0.f, false);
}

void CpuBackend::rms_norm_matmul(std::span<const MatmulJob> jobs, const float* x, const WeightView& norm, float eps,
                                 int64_t n_rows) {
    if (jobs.empty() || n_rows == 0) return;
    if (kc::fusion_enabled()) return matmul_impl(jobs, x, n_rows, norm.f32(), eps, false);
    const int64_t n_in = jobs[0].weight->n_cols;
    if (normed_.size() < static_cast<size_t>(n_rows * n_in)) normed_.resize(static_cast<size_t>(n_rows * n_in));
    rms_norm(x, norm, n_rows, n_in, eps, normed_.data());
    matmul(jobs, normed_.data(), n_rows);
}

void CpuBackend::rms_norm_matmul_swiglu(const MatmulJob& gate, const MatmulJob& up, const float* x,
                                        const WeightView& norm, float eps, int64_t n_rows) {
    if (n_rows == 0) return;
    if (gate.weight->n_rows != up.weight->n_rows) {
        throw std::invalid_argument("CpuBackend::rms_norm_matmul_swiglu: gate and up differ in n_out");
    }
    const MatmulJob jobs[] = {gate, up};
    if (kc::fusion_enabled()) return matmul_impl(jobs, x, n_rows, norm.f32(), eps, true);
    const int64_t n_in = gate.weight->n_cols;
    if (normed_.size() < static_cast<size_t>(n_rows * n_in)) normed_.resize(static_cast<size_t>(n_rows * n_in));
    rms_norm(x, norm, n_rows, n_in, eps, normed_.data());
    matmul(jobs, normed_.data(), n_rows);
    swiglu(gate.y, up.y, gate.y, n_rows, gate.weight->n_rows);
}

void CpuBackend::matmul_impl(std::span<const MatmulJob> jobs, const float* x, int64_t n_rows, const float* norm,
                             float eps, bool swiglu) {
    if (jobs.empty() || n_rows == 0) return;
    const int64_t n_in = jobs[0].weight->n_cols;

    // One converted copy of x per distinct vec_dot type (F32 weights read x itself).
    struct Input {
        TensorType type;
        TensorType weight_type;  // any weight with this vec_dot type: they all convert the same way
        size_t row_bytes;
        size_t offset;
    };
    std::array<Input, 4> inputs{};
    size_t n_inputs = 0;
    size_t total_bytes = 0;
    bool f32_input = false;
    std::array<size_t, 8> job_input{};
    if (jobs.size() > job_input.size()) throw std::invalid_argument("CpuBackend::matmul: too many jobs in one call");
    for (size_t j = 0; j < jobs.size(); ++j) {
        if (jobs[j].weight->n_cols != n_in) throw std::invalid_argument("CpuBackend::matmul: jobs differ in n_in");
        const TensorType act = kc::vec_dot_type(jobs[j].weight->type);
        size_t i = 0;
        while (i < n_inputs && inputs[i].type != act) ++i;
        if (i == n_inputs) {
            if (n_inputs == inputs.size()) throw std::invalid_argument("CpuBackend::matmul: too many input types");
            const size_t row_bytes = kc::matmul_activation_row_bytes(jobs[j].weight->type, n_in);
            inputs[n_inputs++] = {act, jobs[j].weight->type, row_bytes, total_bytes};
            if (act != TensorType::F32) total_bytes += row_bytes * static_cast<size_t>(n_rows);
            if (act == TensorType::F32) f32_input = true;
        }
        job_input[j] = i;
    }
    if (activations_.size() < total_bytes) activations_.resize(total_bytes);
    // F32 weights read the f32 rows themselves: normalised ones must then be written out.
    const float* f32_rows = x;
    if (norm != nullptr && f32_input) {
        if (normed_.size() < static_cast<size_t>(n_rows * n_in)) normed_.resize(static_cast<size_t>(n_rows * n_in));
        f32_rows = normed_.data();
    }

    // Convert every row once (rows split across threads; a single decode row is converted by the caller
    // alone, without waking the pool), then split all jobs' output rows. With a norm, each row is
    // normalised into a row buffer that stays in L1 and converted from there: the normalised rows never
    // go out to memory and the separate rms_norm op (a pass and a barrier) is gone.
    if (total_bytes > 0 || f32_rows != x) {
        pool_.run(
            [&](int ith, int nth) {
                thread_local std::vector<float> row;
                const auto [begin, end] = split_range(n_rows, ith, nth);
                for (int64_t r = begin; r < end; ++r) {
                    const float* src = x + r * n_in;
                    if (norm != nullptr) {
                        float* dst = f32_rows != x ? normed_.data() + r * n_in : nullptr;
                        if (dst == nullptr) {
                            if (row.size() < static_cast<size_t>(n_in)) row.resize(static_cast<size_t>(n_in));
                            dst = row.data();
                        }
                        kc::rms_norm_row(src, norm, dst, n_in, eps);
                        src = dst;
                    }
                    for (size_t i = 0; i < n_inputs; ++i) {
                        if (inputs[i].type == TensorType::F32) continue;
                        kc::matmul_convert_row(inputs[i].weight_type, src, n_in,
                                               activations_.data() + inputs[i].offset + r * inputs[i].row_bytes);
                    }
                }
            },
            static_cast<int>(std::min<int64_t>(n_rows, pool_.size())));
    }
    const auto input_of = [&](size_t j) {
        const Input& in = inputs[job_input[j]];
        return in.type == TensorType::F32 ? reinterpret_cast<const uint8_t*>(f32_rows) : activations_.data() + in.offset;
    };

    int64_t total_out = 0;
    for (const auto& job : jobs) total_out += job.weight->n_rows;
    if (swiglu) {
        // Columns [begin, end) of both gate and up per thread, in chunks of activation rows, so silu(gate) *
        // up runs on values just written, with no pass or barrier of its own.
        const int64_t n_out = jobs[0].weight->n_rows;
        const size_t gate_bytes = inputs[job_input[0]].row_bytes;
        const size_t up_bytes = inputs[job_input[1]].row_bytes;
        pool_.run(
            [&](int ith, int nth) {
                const auto [begin, end] = split_range(n_out, ith, nth);
                if (begin == end) return;
                for (int64_t r0 = 0; r0 < n_rows; r0 += kSwigluChunkRows) {
                    const int64_t rows = std::min(kSwigluChunkRows, n_rows - r0);
                    float* g = jobs[0].y + r0 * n_out;
                    float* u = jobs[1].y + r0 * n_out;
                    kc::matmul_rows(matmul_weight(*jobs[0].weight), input_of(0) + r0 * gate_bytes, gate_bytes, rows, g,
                                    n_out, begin, end);
                    kc::matmul_rows(matmul_weight(*jobs[1].weight), input_of(1) + r0 * up_bytes, up_bytes, rows, u,
                                    n_out, begin, end);
                    for (int64_t r = 0; r < rows; ++r) {
                        kc::swiglu_row(g + r * n_out + begin, u + r * n_out + begin, g + r * n_out + begin, end - begin);
                    }
                }
            },
            threads_for_macs(total_out * n_in * n_rows));
        return;
    }

    // Each thread takes one contiguous range of the concatenated output rows (equal shares: the cores are
    // alike and every row costs the same), so each weight row is streamed from memory by one thread only.
    pool_.run(
        [&](int ith, int nth) {
            const auto [begin, end] = split_range(total_out, ith, nth);
            int64_t first = 0;  // index of the first output row of job j in the concatenation
            for (size_t j = 0; j < jobs.size(); ++j) {
                const WeightView& w = *jobs[j].weight;
                const int64_t lo = std::max(begin, first) - first;
                const int64_t hi = std::min(end, first + w.n_rows) - first;
                if (lo < hi) {
                    kc::matmul_rows(matmul_weight(w), input_of(j), inputs[job_input[j]].row_bytes, n_rows, jobs[j].y,
                                    w.n_rows, lo, hi);
                }
                first += w.n_rows;
            }
        },
        threads_for_macs(total_out * n_in * n_rows));
}

void CpuBackend::add_bias(float* y, const WeightView& bias, int64_t n_rows, int64_t n) {
    pool_.run(
        [&](int ith, int nth) {
            const auto [begin, end] = split_range(n_rows, ith, nth);
            for (int64_t r = begin; r < end; ++r) kc::add(y + r * n, bias.f32(), y + r * n, n);
        },
        threads_for_elements(n_rows * n));
}

void CpuBackend::add(const float* a, const float* b, float* out, int64_t n) {
    pool_.run(
        [&](int ith, int nth) {
            const auto [begin, end] = split_range(n, ith, nth);
            kc::add(a + begin, b + begin, out + begin, end - begin);
        },
        threads_for_elements(n));
}

void CpuBackend::rope(float* q, int n_head, float* k, int n_head_kv, int head_dim, std::span<const int32_t> pos,
                      const kc::RopeConfig& config) {
    const int64_t n_rows = static_cast<int64_t>(pos.size());
    pool_.run(
        [&](int ith, int nth) {
            std::array<float, kc::kMaxAttentionHeadDim> cos_sin;  // n_rot <= head_dim
            const auto [begin, end] = split_range(n_rows, ith, nth);
            for (int64_t r = begin; r < end; ++r) {
                kc::rope_angles(config, pos[r], cos_sin.data());
                kc::rope_apply(config, cos_sin.data(), q + r * n_head * head_dim, n_head, head_dim);
                kc::rope_apply(config, cos_sin.data(), k + r * n_head_kv * head_dim, n_head_kv, head_dim);
            }
        },
        threads_for_elements(n_rows * (n_head + n_head_kv) * head_dim));
}

void CpuBackend::store_kv(KvCache& cache, int layer, const KvRows& rows, const float* k, const float* v) {
    const int64_t n_rows = static_cast<int64_t>(rows.pos.size());
    const int64_t width = cache.n_embd_kv();
    kc::fp16_t* k_base = cache.k_layer(layer);
    kc::fp16_t* v_base = cache.v_layer(layer);
    pool_.run(
        [&](int ith, int nth) {
            const auto [begin, end] = split_range(n_rows, ith, nth);
            for (int64_t r = begin; r < end; ++r) {
                const int64_t slot = cache.slot_offset(rows.seq[r], rows.pos[r]);
                kc::store_f16_row(k + r * width, k_base + slot, width);
                kc::store_f16_row(v + r * width, v_base + slot, width);
            }
        },
        threads_for_elements(n_rows * width * 2));
}

void CpuBackend::rope_store_kv(float* q, int n_head, float* k, const float* v, int n_head_kv, int head_dim,
                               std::span<const int32_t> pos, const kc::RopeConfig& config, KvCache& cache, int layer,
                               const KvRows& rows) {
    if (!kc::fusion_enabled()) {
        rope(q, n_head, k, n_head_kv, head_dim, pos, config);
        store_kv(cache, layer, rows, k, v);
        return;
    }
    // Each row's K is rotated and written to the cache while it is in L1 (rope then store_kv would pass
    // over all rows twice, with a barrier between).
    const int64_t n_rows = static_cast<int64_t>(pos.size());
    const int64_t width = cache.n_embd_kv();
    kc::fp16_t* k_base = cache.k_layer(layer);
    kc::fp16_t* v_base = cache.v_layer(layer);
    pool_.run(
        [&](int ith, int nth) {
            std::array<float, kc::kMaxAttentionHeadDim> cos_sin;  // n_rot <= head_dim
            const auto [begin, end] = split_range(n_rows, ith, nth);
            for (int64_t r = begin; r < end; ++r) {
                kc::rope_angles(config, pos[r], cos_sin.data());
                kc::rope_apply(config, cos_sin.data(), q + r * n_head * head_dim, n_head, head_dim);
                float* k_row = k + r * n_head_kv * head_dim;
                kc::rope_apply(config, cos_sin.data(), k_row, n_head_kv, head_dim);
                const int64_t slot = cache.slot_offset(rows.seq[r], rows.pos[r]);
                kc::store_f16_row(k_row, k_base + slot, width);
                kc::store_f16_row(v + r * width, v_base + slot, width);
            }
        },
        threads_for_elements(n_rows * (n_head + 3 * n_head_kv) * head_dim));
}

void CpuBackend::attention(const KvCache& cache, int layer, const KvRows& rows, const float* q, int n_head,
                           int n_head_kv, int head_dim, float scale, float* out) {
    const int64_t n_rows = static_cast<int64_t>(rows.pos.size());
    if (n_rows == 0) return;
    const int group = n_head / n_head_kv;
    // Work items are (row, kv head, slice of its query heads). Whole groups share each K/V row load; they
    // are split only when there would otherwise be fewer than two items per thread (a decode step of a
    // model with few KV heads).
    int heads_per_item = group;
    while (heads_per_item % 2 == 0 && n_rows * n_head / heads_per_item < 2 * pool_.size()) heads_per_item /= 2;
    const int slices = group / heads_per_item;
    const int64_t n_items = n_rows * n_head_kv * slices;

    int32_t max_kv = 1;
    int64_t attention_macs = 0;  // q.k and w.v over every row's positions
    for (size_t r = 0; r < rows.pos.size(); ++r) {
        const int32_t n_kv = rows.n_kv(r);
        max_kv = std::max(max_kv, n_kv);
        attention_macs += int64_t{2} * n_kv * n_head * head_dim;
    }
    const size_t per_thread = static_cast<size_t>(kc::attention_scratch_floats(heads_per_item, head_dim, max_kv));
    if (attention_scratch_.size() < per_thread * static_cast<size_t>(pool_.size())) {
        attention_scratch_.resize(per_thread * static_cast<size_t>(pool_.size()));
    }
    std::atomic<int64_t> next{0};
    // Items are taken dynamically: later rows of a prompt see more positions.
    pool_.run(
        [&](int ith, int) {
            float* scratch = attention_scratch_.data() + static_cast<size_t>(ith) * per_thread;
            for (int64_t item = next.fetch_add(1, std::memory_order_relaxed); item < n_items;
                 item = next.fetch_add(1, std::memory_order_relaxed)) {
                const int64_t r = item / (n_head_kv * slices);
                const int kv_head = static_cast<int>(item / slices % n_head_kv);
                const int first_head = kv_head * group + static_cast<int>(item % slices) * heads_per_item;
                const std::vector<int32_t>& table = cache.block_table(rows.seq[r]);
                kc::AttentionArgs a;
                a.q = q + (r * n_head + first_head) * head_dim;
                a.n_q = heads_per_item;
                a.head_dim = head_dim;
                a.kv = {cache.k_layer(layer), cache.v_layer(layer), table.data(), cache.block_size(), cache.n_embd_kv()};
                a.kv_head = kv_head;
                a.n_kv = rows.n_kv(static_cast<size_t>(r));
                if (rows.tree()) {
                    a.tail = rows.tail.data() + rows.tail_begin[r];
                    a.n_tail = rows.tail_begin[r + 1] - rows.tail_begin[r];
                }
                a.scale = scale;
                a.scratch = scratch;
                a.out = out + (r * n_head + first_head) * head_dim;
                kc::attention(a);
            }
        },
        static_cast<int>(std::min<int64_t>(n_items, threads_for_macs(attention_macs))));
}

void CpuBackend::swiglu(const float* gate, const float* up, float* out, int64_t n_rows, int64_t n) {
    pool_.run(
        [&](int ith, int nth) {
            const auto [begin, end] = split_range(n_rows, ith, nth);
            for (int64_t r = begin; r < end; ++r) kc::swiglu_row(gate + r * n, up + r * n, out + r * n, n);
        },
        threads_for_elements(n_rows * n));
}

}  // namespace peregrine::backend
