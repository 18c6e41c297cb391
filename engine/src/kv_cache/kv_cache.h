// The paged KV cache: f16 K and V storage cut into fixed-size blocks, a BlockPool that hands them out,
// and a block table per sequence mapping position p to slot (table[p / block_size], p % block_size).
//
// Storage layout (halves): K and V each [n_layer][n_blocks][block_size][n_embd_kv], so one position of
// one layer is a contiguous row of n_head_kv * head_dim values.
//
// Mutation is split from planning so a batch can be refused with nothing changed: callers sum
// blocks_needed() over the batch's sequences, compare with free_blocks(), and only then grow().
//
// Prefix caching: once the tokens of a sequence are recorded (record_tokens, after the forward pass has
// written their K/V), every block that is full gets a hash of all tokens from position 0 to its end and
// is published in the pool. A new sequence whose tokens start the same way attaches those blocks
// (reuse_prefix) instead of computing them again; freed published blocks stay findable until the pool
// evicts them, least recently freed first. A lookup also compares the block's own tokens and the hash of
// what comes before it, so a hash collision would have to hit both 64-bit chain hashes to do harm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "kernels/cpu/fp16.h"
#include "kv_cache/block_pool.h"
#include "peregrine/context.h"

namespace peregrine {

class KvCache {
public:
    using fp16_t = kernels::cpu::fp16_t;

    // Throws InvalidRequestError when the sizes are out of range or the storage cannot be allocated.
    // max_seq_len is the context size (positions per sequence).
    KvCache(int n_layer, int n_embd_kv, int block_size, int32_t n_blocks, int32_t max_seq_len,
            bool prefix_caching = true);

    int block_size() const { return block_size_; }
    int32_t max_seq_len() const { return max_seq_len_; }
    int n_layer() const { return n_layer_; }
    int64_t n_embd_kv() const { return n_embd_kv_; }
    int32_t free_blocks() const { return pool_.n_free(); }
    const BlockPool& pool() const { return pool_; }
    KvCacheStats stats() const;

    // Layer bases of the storage; slot s of block b is at base + (b * block_size + s) * n_embd_kv.
    fp16_t* k_layer(int layer) { return k_.get() + layer_offset(layer); }
    fp16_t* v_layer(int layer) { return v_.get() + layer_offset(layer); }
    const fp16_t* k_layer(int layer) const { return k_.get() + layer_offset(layer); }
    const fp16_t* v_layer(int layer) const { return v_.get() + layer_offset(layer); }
    // Offset (in halves, from a layer base) of position `pos` of sequence `seq`; pos < length(seq).
    int64_t slot_offset(int32_t seq, int32_t pos) const;

    bool contains(int32_t seq) const { return sequences_.count(seq) != 0; }
    int n_sequences() const { return static_cast<int>(sequences_.size()); }
    int32_t length(int32_t seq) const;                       // 0 for an unknown sequence
    const std::vector<int32_t>& block_table(int32_t seq) const;  // empty for an unknown sequence

    // Blocks the pool must hand out to grow `seq` to new_len positions, counting a private copy of a
    // shared, partly filled last block (copy-on-write) that the new positions would write into.
    int32_t blocks_needed(int32_t seq, int32_t new_len) const;
    // Grows `seq` (created if new) to new_len positions. Throws InvalidRequestError, changing nothing,
    // when the pool has fewer than blocks_needed() free blocks.
    void grow(int32_t seq, int32_t new_len);
    void truncate(int32_t seq, int32_t n_keep);   // drop positions >= n_keep; n_keep 0 removes it
    void remove(int32_t seq);
    // dst (which must not exist) shares every block of src; later writes copy shared blocks first.
    void fork(int32_t src, int32_t dst);
    void clear();

    // Records the tokens whose K/V a forward pass has just written at positions [pos, pos + n) of
    // `seq` (pos must be the number recorded so far) and publishes the blocks they filled.
    void record_tokens(int32_t seq, int32_t pos, std::span<const int32_t> tokens);
    // Starts `seq` (which must not exist) with the longest run of cached full blocks that holds the
    // first tokens of `tokens`, leaving at least the last token to compute (its logits are needed).
    // Returns the positions reused: a multiple of block_size, possibly 0 (then nothing is created).
    int32_t reuse_prefix(int32_t seq, std::span<const int32_t> tokens);

private:
    struct Sequence {
        std::vector<int32_t> blocks;  // [ceil(length / block_size)]
        int32_t length = 0;
        std::vector<int32_t> tokens;  // [<= length] recorded token ids, from position 0
        std::vector<uint64_t> hashes; // [full blocks recorded] chain hash of each full block
    };

    int64_t layer_offset(int layer) const { return static_cast<int64_t>(layer) * layer_stride_; }
    void copy_block(int32_t from, int32_t to);
    // Hash of a block's tokens chained onto the hash of everything before it.
    static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> block_tokens);
    bool cached_block_matches(int32_t block, uint64_t parent, std::span<const int32_t> block_tokens) const;

    int n_layer_;
    int64_t n_embd_kv_;
    int block_size_;
    int32_t max_seq_len_;
    int64_t layer_stride_;              // halves per layer: n_blocks * block_size * n_embd_kv
    size_t bytes_total_ = 0;
    std::unique_ptr<fp16_t[]> k_;       // [n_layer][n_blocks][block_size][n_embd_kv]
    std::unique_ptr<fp16_t[]> v_;       // same
    BlockPool pool_;
    std::map<int32_t, Sequence> sequences_;
    bool prefix_caching_;
    std::vector<int32_t> block_tokens_;        // [n_blocks][block_size] tokens of each published block
    std::vector<uint64_t> block_parent_hash_;  // [n_blocks] chain hash before each published block
    uint64_t prefix_query_tokens_ = 0;         // tokens of every prompt offered to reuse_prefix
    uint64_t prefix_hit_tokens_ = 0;           // of those, positions served from cached blocks
};

}  // namespace peregrine
