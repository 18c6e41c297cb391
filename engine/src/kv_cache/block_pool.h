// A fixed pool of KV blocks with reference counts, a free list and a prefix-cache index. Blocks are
// plain ids; the storage they index lives in KvCache.
//
// A block is free when its count is 0. Sharing a block between sequences (prefix reuse, fork) raises its
// count, and it returns to the free list when the last user releases it. A full block can also carry a
// hash of the tokens it holds (and of every token before it); such a block stays findable by that hash
// after it is freed, until the pool needs its slot for something else. So the free list is ordered:
//   front: free blocks without a hash (nothing to lose by reusing them), most recently freed first;
//   back:  free blocks with a hash, least recently freed first (evicted in LRU order).
// allocate() takes from the front, which evicts cached blocks only once plain free blocks are gone.
// Running out is not an error here: allocate() reports it and changes nothing.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace peregrine {

class BlockPool {
public:
    explicit BlockPool(int32_t n_blocks);

    int32_t n_total() const { return static_cast<int32_t>(ref_counts_.size()); }
    int32_t n_free() const { return n_free_; }          // allocatable now, cached blocks included
    int32_t n_used() const { return n_total() - n_free(); }
    int32_t n_cached() const { return n_cached_free_; } // free blocks that still hold a findable prefix

    // Takes n blocks off the free list, each with count 1, and appends them to `out`. Cached blocks that
    // are taken lose their hash. Returns false and takes nothing when fewer than n are free.
    bool allocate(int32_t n, std::vector<int32_t>& out);
    void retain(int32_t block);             // one more user of an allocated block
    void release(int32_t block);            // one user fewer; freed at zero
    int32_t ref_count(int32_t block) const;

    // Prefix cache. A hash names at most one block; publish() returns false (and changes nothing) when
    // the hash already names another block or this block already has one.
    bool publish(int32_t block, uint64_t hash);
    void unpublish(int32_t block);                 // forget the block's hash (its content will change)
    int32_t find(uint64_t hash) const;             // -1 when no block has it
    bool is_published(int32_t block) const;
    // One more user of a published block, which may be free (count 0): it leaves the free list.
    void reuse(int32_t block);

private:
    void check_allocated(int32_t block, const char* what) const;
    void check_id(int32_t block, const char* what) const;
    void unlink(int32_t block);
    void push_front(int32_t block);
    void push_back(int32_t block);

    std::vector<int32_t> ref_counts_;   // [n_blocks]
    std::vector<uint64_t> hashes_;      // [n_blocks] valid where has_hash_
    std::vector<uint8_t> has_hash_;     // [n_blocks]
    // Free list: doubly linked through next_/prev_, with a sentinel at index n_blocks.
    std::vector<int32_t> next_;         // [n_blocks + 1]
    std::vector<int32_t> prev_;         // [n_blocks + 1]
    int32_t n_free_ = 0;
    int32_t n_cached_free_ = 0;
    std::unordered_map<uint64_t, int32_t> by_hash_;
};

}  // namespace peregrine
