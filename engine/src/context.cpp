#include "peregrine/context.h"

#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "backend/cpu_backend.h"
#include "kv_cache/kv_cache.h"
#include "models/llama.h"
#include "peregrine/error.h"
#include "peregrine/log.h"

namespace peregrine {
namespace {

constexpr int kMaxCtx = 1 << 24;
constexpr int kMaxThreads = 1024;
constexpr int kMaxBlockSize = 1 << 16;
constexpr int kMaxSeq = 1 << 16;

// What one decode does to one sequence: it grows from old_len to new_len positions.
struct SeqPlan {
    int32_t seq;
    int32_t old_len;
    int32_t new_len;
};

// No-cache mode: what is kept of each position of a sequence to recompute it.
struct HistoryEntry {
    int32_t token;
    RowShape shape;  // how the decode that added it ran, so the recomputation sums the same way
};

ContextParams resolve(const ModelInfo& info, ContextParams p) {
    if (p.n_ctx < 0 || p.n_ctx > kMaxCtx) {
        throw InvalidRequestError(fmt::format("context: n_ctx {} is outside [0, {}]", p.n_ctx, kMaxCtx));
    }
    if (p.n_ctx == 0) p.n_ctx = info.n_ctx_train;
    if (p.n_ctx > info.n_ctx_train) {
        log_warn("context: n_ctx {} is larger than the {} positions the model was trained on", p.n_ctx,
                 info.n_ctx_train);
    }
    if (p.n_threads < 0 || p.n_threads > kMaxThreads) {
        throw InvalidRequestError(fmt::format("context: n_threads {} is outside [0, {}]", p.n_threads, kMaxThreads));
    }
    if (p.n_threads == 0) p.n_threads = std::max(1u, std::thread::hardware_concurrency());
    if (p.kv_block_size < 1 || p.kv_block_size > kMaxBlockSize) {
        throw InvalidRequestError(
            fmt::format("context: kv_block_size {} is outside [1, {}]", p.kv_block_size, kMaxBlockSize));
    }
    if (p.n_seq_max < 1 || p.n_seq_max > kMaxSeq) {
        throw InvalidRequestError(fmt::format("context: n_seq_max {} is outside [1, {}]", p.n_seq_max, kMaxSeq));
    }
    if (p.kv_pool_blocks < 0) {
        throw InvalidRequestError(fmt::format("context: kv_pool_blocks {} is negative", p.kv_pool_blocks));
    }
    return p;
}

// Blocks in the pool. Without a KV cache, each decode recomputes one sequence at a time in a scratch
// cache that must hold a full sequence.
int32_t pool_blocks(const ContextParams& p) {
    const int64_t per_seq = (static_cast<int64_t>(p.n_ctx) + p.kv_block_size - 1) / p.kv_block_size;
    if (!p.use_kv_cache) return static_cast<int32_t>(per_seq);
    if (p.kv_pool_blocks > 0) return p.kv_pool_blocks;
    const int n_seq = p.n_seq_max;
    const int64_t total = per_seq * n_seq;
    if (total > INT32_MAX) {
        throw InvalidRequestError(fmt::format("context: {} sequences of {} positions need too many KV blocks", n_seq,
                                              p.n_ctx));
    }
    return static_cast<int32_t>(total);
}

}  // namespace

// A tree decode's rows of one sequence, kept until the caller chooses a path (keep_tree_path).
struct PendingTree {
    int32_t old_len = 0;
    std::vector<int32_t> batch_row, parent, pos, slot, token;  // [the sequence's rows of that batch]
};

struct Context::Impl {
    std::shared_ptr<const Model> model;
    ContextParams params;
    backend::CpuBackend backend;
    // With the cache on: every live sequence's K/V. Without: a scratch cache for one sequence that each
    // decode refills from position 0.
    KvCache cache;
    ForwardScratch scratch;
    std::vector<float> logits;       // [n_logit_rows][n_vocab] of the last decode
    std::vector<float> seq_logits;   // no-cache mode: logits of one sequence's recompute
    std::vector<SeqPlan> plans;      // [distinct sequences of the batch], in order of first appearance
    std::vector<RowShape> shapes;    // [batch rows]
    std::vector<BatchRow> recompute; // no-cache mode: the whole sequence as rows
    std::vector<RowShape> recompute_shapes;  // no-cache mode: their shapes
    std::vector<size_t> out_slot;    // no-cache mode: [batch rows] index of each wanted row's logits
    std::vector<int32_t> seq_tokens; // one sequence's new tokens, to record them in the cache
    std::map<int32_t, std::vector<HistoryEntry>> histories;  // no-cache mode: every sequence's positions
    backend::KvTree tree;            // tree batches: the rows' slots and attention mask
    std::map<int32_t, PendingTree> pending_trees;  // sequences whose last decode had tree rows

    Impl(std::shared_ptr<const Model> m, const ContextParams& p)
        : model(std::move(m)),
          params(p),
          backend(p.n_threads),
          cache(model->info().n_layer, model->info().n_embd_kv(), p.kv_block_size,
                pool_blocks(p), p.n_ctx, p.use_kv_cache && p.prefix_cache) {}

    int32_t length(int32_t seq) const {
        if (params.use_kv_cache) return cache.length(seq);
        const auto it = histories.find(seq);
        return it == histories.end() ? 0 : static_cast<int32_t>(it->second.size());
    }
    int n_live() const { return params.use_kv_cache ? cache.n_sequences() : static_cast<int>(histories.size()); }

    void plan(const Batch& batch);
    void plan_tree(const Batch& batch);
    void shape_rows(const Batch& batch);
    void decode_cached(const Batch& batch);
    void decode_recompute(const Batch& batch);
};

// Checks every row against the model and the sequences' current lengths, and records each sequence's
// growth in `plans`. Throws InvalidRequestError before anything changes.
void Context::Impl::plan(const Batch& batch) {
    const ModelInfo& info = model->info();
    if (batch.rows.empty()) throw InvalidRequestError("decode: the batch is empty");
    plans.clear();
    const bool has_tree = batch.has_tree();
    if (has_tree && batch.parent.size() != batch.rows.size()) {
        throw InvalidRequestError(fmt::format("decode: the batch has {} rows but {} parent entries", batch.rows.size(),
                                              batch.parent.size()));
    }
    if (has_tree && !params.use_kv_cache) throw InvalidRequestError("decode: tree rows need the KV cache");
    int n_new = 0;
    for (size_t r = 0; r < batch.rows.size(); ++r) {
        const BatchRow& row = batch.rows[r];
        const int32_t parent = has_tree ? batch.parent[r] : Batch::kNoParent;
        if (row.seq_id < 0) {
            throw InvalidRequestError(fmt::format("decode: row {} has sequence id {} (must be >= 0)", r, row.seq_id));
        }
        if (row.token < 0 || row.token >= info.n_vocab) {
            throw InvalidRequestError(fmt::format("decode: row {} has token id {}, outside the vocabulary [0, {})", r,
                                                  row.token, info.n_vocab));
        }
        auto it = std::find_if(plans.begin(), plans.end(), [&](const SeqPlan& p) { return p.seq == row.seq_id; });
        if (it == plans.end()) {
            const int32_t len = length(row.seq_id);
            if (len == 0) ++n_new;
            plans.push_back({row.seq_id, len, len});
            it = plans.end() - 1;
        }
        if (pending_trees.count(row.seq_id)) {
            throw InvalidRequestError(fmt::format("decode: sequence {} still holds a tree of draft rows (keep_tree_path "
                                                  "or truncate_sequence first)", row.seq_id));
        }
        if (parent == Batch::kNoParent) {
            if (row.pos != it->new_len) {
                throw InvalidRequestError(fmt::format(
                    "decode: row {} of sequence {} has position {}, expected {} (positions must continue the sequence)",
                    r, row.seq_id, row.pos, it->new_len));
            }
        } else {
            if (parent < 0 || static_cast<size_t>(parent) >= r || batch.rows[size_t(parent)].seq_id != row.seq_id) {
                throw InvalidRequestError(fmt::format("decode: row {} names parent row {}, which is not an earlier row "
                                                      "of sequence {}", r, parent, row.seq_id));
            }
            if (row.pos != batch.rows[size_t(parent)].pos + 1) {
                throw InvalidRequestError(fmt::format("decode: tree row {} has position {}, expected its parent's + 1 "
                                                      "({})", r, row.pos, batch.rows[size_t(parent)].pos + 1));
            }
        }
        if (row.pos >= params.n_ctx || it->new_len >= params.n_ctx) {
            throw InvalidRequestError(fmt::format("decode: row {} of sequence {} has position {}, past the context of "
                                                  "{} positions", r, row.seq_id, row.pos, params.n_ctx));
        }
        ++it->new_len;
    }
    if (has_tree) plan_tree(batch);
    // Sequences of length 0 do not exist (truncating to 0 removes one), so each is a new sequence.
    if (n_live() + n_new > params.n_seq_max) {
        throw InvalidRequestError(fmt::format("decode: the batch starts {} new sequences but {} of n_seq_max {} are "
                                              "live", n_new, n_live(), params.n_seq_max));
    }
}

// KV slots and attention sets of a tree batch: a sequence's rows take slots old_len, old_len + 1, ... in
// row order; a row sees its parent's set and itself (a plain chain stays one contiguous range).
void Context::Impl::plan_tree(const Batch& batch) {
    const size_t n = batch.rows.size();
    tree.slot.assign(n, 0);
    tree.prefix.assign(n, 0);
    tree.tail_begin.assign(n + 1, 0);
    tree.tail.clear();
    for (SeqPlan& p : plans) p.new_len = p.old_len;  // recounted below as slots
    std::vector<bool> branched(plans.size(), false);
    for (size_t r = 0; r < n; ++r) {
        const BatchRow& row = batch.rows[r];
        const size_t pi = size_t(std::find_if(plans.begin(), plans.end(), [&](const SeqPlan& p) {
                                     return p.seq == row.seq_id;
                                 }) - plans.begin());
        const int32_t slot = plans[pi].new_len++;
        tree.slot[r] = slot;
        tree.tail_begin[r] = static_cast<int32_t>(tree.tail.size());
        const int32_t parent = batch.parent[r];
        if (parent == Batch::kNoParent) {
            if (branched[pi]) {
                throw InvalidRequestError(fmt::format("decode: row {} continues sequence {} after its tree rows", r,
                                                      row.seq_id));
            }
            tree.prefix[r] = slot + 1;
        } else {
            const size_t p = size_t(parent);
            const int32_t p_begin = tree.tail_begin[p], p_end = tree.tail_begin[p + 1];
            if (p_begin == p_end && slot == tree.slot[p] + 1) {
                tree.prefix[r] = slot + 1;  // still a chain
            } else {
                branched[pi] = true;
                tree.prefix[r] = tree.prefix[p];
                for (int32_t i = p_begin; i < p_end; ++i) tree.tail.push_back(tree.tail[size_t(i)]);
                tree.tail.push_back(slot);
            }
        }
        tree.tail_begin[r + 1] = static_cast<int32_t>(tree.tail.size());
    }
}

// The llama.cpp pass this decode reproduces: all rows in one pass, each sequence's KV view its new length.
void Context::Impl::shape_rows(const Batch& batch) {
    const bool batched = batch.rows.size() > 1;
    const bool out_batched = batch.n_logit_rows() > 1;
    shapes.clear();
    for (const BatchRow& row : batch.rows) {
        const auto it = std::find_if(plans.begin(), plans.end(), [&](const SeqPlan& p) { return p.seq == row.seq_id; });
        shapes.push_back({batched, out_batched, it->new_len});
    }
}

void Context::Impl::decode_cached(const Batch& batch) {
    int64_t needed = 0;
    for (const SeqPlan& p : plans) needed += cache.blocks_needed(p.seq, p.new_len);
    if (needed > cache.free_blocks()) {
        throw InvalidRequestError(fmt::format("decode: out of KV cache blocks: the batch needs {} more, {} of {} "
                                              "are free (block size {})", needed, cache.free_blocks(),
                                              cache.stats().blocks_total, cache.block_size()));
    }
    for (const SeqPlan& p : plans) cache.grow(p.seq, p.new_len);
    const bool has_tree = batch.has_tree();
    try {
        llama_forward(*model, backend, cache, batch.rows, shapes, scratch, logits.data(), has_tree ? &tree : nullptr);
    } catch (...) {
        for (const SeqPlan& p : plans) cache.truncate(p.seq, p.old_len);
        throw;
    }
    // Their K/V is written now, so full blocks can be published for prefix reuse; a tree's rows wait for
    // keep_tree_path, which knows which of them hold the sequence's text.
    for (const SeqPlan& p : plans) {
        if (has_tree) {
            PendingTree t;
            t.old_len = p.old_len;
            for (size_t r = 0; r < batch.rows.size(); ++r) {
                if (batch.rows[r].seq_id != p.seq) continue;
                t.batch_row.push_back(static_cast<int32_t>(r));
                t.parent.push_back(batch.parent[r]);
                t.pos.push_back(batch.rows[r].pos);
                t.slot.push_back(tree.slot[r]);
                t.token.push_back(batch.rows[r].token);
            }
            const bool branched = std::any_of(t.parent.begin(), t.parent.end(),
                                              [](int32_t x) { return x != Batch::kNoParent; });
            if (branched) {
                pending_trees[p.seq] = std::move(t);
                continue;
            }
        }
        seq_tokens.clear();
        for (const BatchRow& row : batch.rows) {
            if (row.seq_id == p.seq) seq_tokens.push_back(row.token);
        }
        cache.record_tokens(p.seq, p.old_len, seq_tokens);
    }
}

void Context::Impl::decode_recompute(const Batch& batch) {
    const int64_t n_vocab = model->info().n_vocab;
    // Output slot of each wanted row, so per-sequence results land in batch row order.
    size_t out_index = 0;
    out_slot.assign(batch.rows.size(), SIZE_MAX);
    for (size_t r = 0; r < batch.rows.size(); ++r) {
        if (batch.rows[r].want_logits) out_slot[r] = out_index++;
    }
    for (const SeqPlan& p : plans) {
        recompute.clear();
        recompute_shapes.clear();
        const auto hist = histories.find(p.seq);
        for (int32_t i = 0; i < p.old_len; ++i) {
            const HistoryEntry& e = hist->second[static_cast<size_t>(i)];
            recompute.push_back({p.seq, i, e.token, false});
            recompute_shapes.push_back(e.shape);
        }
        for (size_t r = 0; r < batch.rows.size(); ++r) {
            if (batch.rows[r].seq_id != p.seq) continue;
            recompute.push_back(batch.rows[r]);
            recompute_shapes.push_back(shapes[r]);
        }
        size_t n_wanted = 0;
        for (const BatchRow& row : recompute) n_wanted += row.want_logits ? 1 : 0;
        if (seq_logits.size() < n_wanted * static_cast<size_t>(n_vocab)) seq_logits.resize(n_wanted * n_vocab);

        cache.clear();
        cache.grow(p.seq, p.new_len);
        try {
            llama_forward(*model, backend, cache, recompute, recompute_shapes, scratch, seq_logits.data());
        } catch (...) {
            cache.clear();
            throw;
        }
        cache.clear();

        size_t k = 0;
        for (size_t r = 0; r < batch.rows.size(); ++r) {
            if (batch.rows[r].seq_id != p.seq || !batch.rows[r].want_logits) continue;
            std::copy_n(seq_logits.data() + k * n_vocab, n_vocab, logits.data() + out_slot[r] * n_vocab);
            ++k;
        }
    }
    for (size_t r = 0; r < batch.rows.size(); ++r) {
        histories[batch.rows[r].seq_id].push_back({batch.rows[r].token, shapes[r]});
    }
}

Context::Context(std::shared_ptr<const Model> model, const ContextParams& params) {
    if (!model) throw InvalidRequestError("context: no model");
    const ContextParams resolved = resolve(model->info(), params);
    impl_ = std::make_unique<Impl>(std::move(model), resolved);
    const KvCacheStats st = impl_->cache.stats();
    log_info("context: n_ctx {}, {} threads, KV cache {} ({} blocks of {} positions, {:.1f} MiB)", resolved.n_ctx,
             resolved.n_threads, resolved.use_kv_cache ? "on" : "off (recompute)", st.blocks_total, st.block_size,
             static_cast<double>(st.bytes_total) / (1 << 20));
}

Context::~Context() = default;

std::span<const float> Context::decode(const Batch& batch) {
    Impl& d = *impl_;
    d.plan(batch);
    // Scratch grows before the cache changes, so a failed allocation leaves the cache as it was.
    const size_t n_logits = batch.n_logit_rows() * static_cast<size_t>(d.model->info().n_vocab);
    if (d.logits.size() < n_logits) d.logits.resize(n_logits);
    d.scratch.reserve(d.model->info(), static_cast<int64_t>(batch.rows.size()));
    d.shape_rows(batch);
    if (d.params.use_kv_cache) {
        d.decode_cached(batch);
    } else {
        d.decode_recompute(batch);
    }
    return {d.logits.data(), n_logits};
}

void Context::remove_sequence(int32_t seq_id) {
    impl_->pending_trees.erase(seq_id);
    if (impl_->params.use_kv_cache) {
        impl_->cache.remove(seq_id);
    } else {
        impl_->histories.erase(seq_id);
    }
}

void Context::truncate_sequence(int32_t seq_id, int32_t n_keep) {
    if (n_keep < 0) throw InvalidRequestError(fmt::format("truncate_sequence: n_keep {} is negative", n_keep));
    const auto pending = impl_->pending_trees.find(seq_id);
    if (pending != impl_->pending_trees.end()) {
        // The tree's rows were never recorded as the sequence's text: none of them can stay.
        n_keep = std::min(n_keep, pending->second.old_len);
        impl_->pending_trees.erase(pending);
    }
    if (impl_->params.use_kv_cache) {
        impl_->cache.truncate(seq_id, n_keep);
        return;
    }
    const auto it = impl_->histories.find(seq_id);
    if (it == impl_->histories.end()) return;
    if (n_keep == 0) {
        impl_->histories.erase(it);
    } else if (static_cast<size_t>(n_keep) < it->second.size()) {
        it->second.resize(static_cast<size_t>(n_keep));
    }
}

void Context::keep_tree_path(int32_t seq_id, std::span<const int32_t> batch_rows) {
    Impl& d = *impl_;
    const auto it = d.pending_trees.find(seq_id);
    if (it == d.pending_trees.end()) {
        throw InvalidRequestError(fmt::format("keep_tree_path: the last decode of sequence {} had no tree rows", seq_id));
    }
    const PendingTree& t = it->second;
    std::vector<size_t> path;  // indices into t
    for (size_t k = 0; k < batch_rows.size(); ++k) {
        const auto found = std::find(t.batch_row.begin(), t.batch_row.end(), batch_rows[k]);
        if (found == t.batch_row.end()) {
            throw InvalidRequestError(fmt::format("keep_tree_path: row {} was not a row of sequence {}", batch_rows[k],
                                                  seq_id));
        }
        const size_t i = size_t(found - t.batch_row.begin());
        const bool follows = k == 0 ? t.parent[i] == Batch::kNoParent
                                    : t.parent[i] == batch_rows[k - 1] ||
                                          (t.parent[i] == Batch::kNoParent && t.parent[path.back()] == Batch::kNoParent);
        if (!follows || t.pos[i] != t.old_len + static_cast<int32_t>(k)) {
            throw InvalidRequestError(fmt::format("keep_tree_path: row {} does not continue the path at position {}",
                                                  batch_rows[k], t.old_len + k));
        }
        path.push_back(i);
    }
    // Slots only grow along a path, so moving each row down in order never overwrites a row still to move.
    KvCache& cache = d.cache;
    const int64_t width = cache.n_embd_kv();
    std::vector<int32_t> tokens;
    for (size_t k = 0; k < path.size(); ++k) {
        const int32_t from = t.slot[path[k]];
        const int32_t to = t.old_len + static_cast<int32_t>(k);
        tokens.push_back(t.token[path[k]]);
        if (from == to) continue;
        const int64_t src = cache.slot_offset(seq_id, from), dst = cache.slot_offset(seq_id, to);
        for (int il = 0; il < cache.n_layer(); ++il) {
            std::copy_n(cache.k_layer(il) + src, width, cache.k_layer(il) + dst);
            std::copy_n(cache.v_layer(il) + src, width, cache.v_layer(il) + dst);
        }
    }
    const int32_t old_len = t.old_len;
    d.pending_trees.erase(it);
    cache.truncate(seq_id, old_len + static_cast<int32_t>(path.size()));
    if (!tokens.empty()) cache.record_tokens(seq_id, old_len, tokens);
}

void Context::fork_sequence(int32_t src, int32_t dst) {
    Impl& d = *impl_;
    if (src < 0 || dst < 0) throw InvalidRequestError(fmt::format("fork_sequence: ids {} and {} must be >= 0", src, dst));
    if (src == dst) throw InvalidRequestError(fmt::format("fork_sequence: cannot fork sequence {} onto itself", src));
    if (d.length(dst) != 0) throw InvalidRequestError(fmt::format("fork_sequence: sequence {} already exists", dst));
    if (d.length(src) == 0) return;
    if (d.n_live() + 1 > d.params.n_seq_max) {
        throw InvalidRequestError(fmt::format("fork_sequence: {} of n_seq_max {} sequences are live", d.n_live(),
                                              d.params.n_seq_max));
    }
    if (d.params.use_kv_cache) {
        d.cache.fork(src, dst);
    } else {
        d.histories[dst] = d.histories[src];
    }
}

int32_t Context::sequence_length(int32_t seq_id) const { return impl_->length(seq_id); }

int32_t Context::reuse_prefix(int32_t seq_id, std::span<const int32_t> tokens) {
    Impl& d = *impl_;
    if (seq_id < 0) throw InvalidRequestError(fmt::format("reuse_prefix: sequence id {} must be >= 0", seq_id));
    if (d.length(seq_id) != 0) throw InvalidRequestError(fmt::format("reuse_prefix: sequence {} already exists", seq_id));
    if (!d.params.use_kv_cache) return 0;
    if (d.n_live() + 1 > d.params.n_seq_max) {
        throw InvalidRequestError(fmt::format("reuse_prefix: {} of n_seq_max {} sequences are live", d.n_live(),
                                              d.params.n_seq_max));
    }
    return d.cache.reuse_prefix(seq_id, tokens);
}

int32_t Context::kv_blocks_needed(int32_t seq_id, int32_t new_len) const {
    // Without a KV cache nothing is kept between decodes, so nothing has to be reserved.
    return impl_->params.use_kv_cache ? impl_->cache.blocks_needed(seq_id, new_len) : 0;
}

int32_t Context::kv_free_blocks() const { return impl_->cache.free_blocks(); }

KvCacheStats Context::kv_stats() const { return impl_->cache.stats(); }

const Model& Context::model() const { return *impl_->model; }

int Context::n_ctx() const { return impl_->params.n_ctx; }

int Context::n_threads() const { return impl_->params.n_threads; }

bool Context::uses_kv_cache() const { return impl_->params.use_kv_cache; }

}  // namespace peregrine
