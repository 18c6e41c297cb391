// An inference context: the paged KV cache of up to n_seq_max sequences, the scratch buffers of the
// forward pass and the CPU thread pool. Not thread-safe: one caller drives decode() at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "peregrine/batch.h"
#include "peregrine/model.h"

namespace peregrine {

struct ContextParams {
    int n_ctx = 0;            // max positions per sequence; 0 = model's training context
    int n_threads = 0;        // 0 = std::thread::hardware_concurrency()
    int kv_block_size = 16;   // tokens per KV block
    int n_seq_max = 4;        // sequences that may be live at once (sizes the block pool with n_ctx)
    bool use_kv_cache = true; // false: the textbook baseline, every decode recomputes each sequence from 0
    int kv_pool_blocks = 0;   // 0: n_seq_max * ceil(n_ctx / kv_block_size), enough for every sequence at
                              // full length; fewer overcommit memory (a decode that runs out of blocks
                              // throws InvalidRequestError and changes nothing)
    bool prefix_cache = true; // full blocks stay findable by their tokens after use (reuse_prefix)
};

struct KvCacheStats {
    int block_size = 0;
    int blocks_total = 0;
    int blocks_used = 0;              // held by at least one live sequence
    size_t bytes_total = 0;
    int blocks_free = 0;              // allocatable now: blocks_total - blocks_used
    int blocks_cached = 0;            // of the free ones, those still holding a reusable prefix
    uint64_t prefix_query_tokens = 0; // prompt tokens offered to the prefix cache so far
    uint64_t prefix_hit_tokens = 0;   // of those, served from cached blocks instead of computed
    double prefix_hit_rate() const {
        return prefix_query_tokens ? static_cast<double>(prefix_hit_tokens) / prefix_query_tokens : 0.0;
    }
};

class Context {
public:
    // Throws InvalidRequestError for parameters out of range (n_ctx < 0, block size < 1, ...).
    Context(std::shared_ptr<const Model> model, const ContextParams& params);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // Runs one forward pass. Rows of one sequence must continue it (pos == current length, then +1...),
    // or form a tree (batch.h; needs the KV cache).
    // Returns the logits (n_vocab floats each) of the rows with want_logits, in row order, valid until the
    // next decode. Throws InvalidRequestError (position past n_ctx, out of KV blocks, bad token id,
    // non-contiguous positions) and leaves the cache as it was.
    std::span<const float> decode(const Batch& batch);

    void remove_sequence(int32_t seq_id);                   // frees its blocks
    void truncate_sequence(int32_t seq_id, int32_t n_keep); // drop positions >= n_keep (rejected drafts)
    // After a decode with tree rows (Batch::parent) for `seq_id`: keeps the K/V of the given rows of that
    // batch, a path (each row the parent of the next, positions len, len + 1, ... where len is the
    // sequence's length before that decode), at those positions, and drops every other row of the tree.
    // Until then (or truncate_sequence / remove_sequence) the sequence cannot be decoded. An empty path
    // drops the whole tree. Throws InvalidRequestError for rows that are not such a path.
    void keep_tree_path(int32_t seq_id, std::span<const int32_t> batch_rows);
    // Makes `dst` (which must not exist) a copy of `src` that shares its full KV blocks (copy-on-write).
    void fork_sequence(int32_t src, int32_t dst);
    int32_t sequence_length(int32_t seq_id) const;          // 0 if unknown

    // Prefix caching: starts `seq_id` (which must not exist) with the cached KV of the longest run of
    // full blocks that begins `tokens` (a previous turn of the chat, a shared system prompt), always
    // leaving the last token to decode. Returns the positions reused (a multiple of kv_block_size, 0
    // when nothing matched or without a KV cache); decode the rest from that position. Throws
    // InvalidRequestError when the sequence exists or n_seq_max sequences are live.
    int32_t reuse_prefix(int32_t seq_id, std::span<const int32_t> tokens);
    // Planning a batch without decoding it: blocks the pool must hand out to grow `seq_id` to
    // `new_len` positions, and blocks it can hand out now (cached ones included).
    int32_t kv_blocks_needed(int32_t seq_id, int32_t new_len) const;
    int32_t kv_free_blocks() const;
    KvCacheStats kv_stats() const;
    const Model& model() const;
    int n_ctx() const;
    int n_threads() const;
    bool uses_kv_cache() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace peregrine
