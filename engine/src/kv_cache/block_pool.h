// A fixed pool of KV blocks with reference counts and a free list. Blocks are plain ids; the storage
// they index lives in KvCache. A block is free when its count is 0; sharing a block between sequences
// (prefix reuse, fork) raises its count, and it returns to the free list when the last user releases it.
// Running out is not an error here: allocate() reports it and changes nothing.
#pragma once

#include <cstdint>
#include <vector>

namespace peregrine {

class BlockPool {
public:
    explicit BlockPool(int32_t n_blocks);

    int32_t n_total() const { return static_cast<int32_t>(ref_counts_.size()); }
    int32_t n_free() const { return static_cast<int32_t>(free_.size()); }
    int32_t n_used() const { return n_total() - n_free(); }

    // Takes n blocks off the free list, each with count 1, and appends them to `out`. Returns false and
    // takes nothing when fewer than n are free.
    bool allocate(int32_t n, std::vector<int32_t>& out);
    void retain(int32_t block);             // one more user of an allocated block
    void release(int32_t block);            // one user fewer; freed at zero
    int32_t ref_count(int32_t block) const;

private:
    void check_allocated(int32_t block, const char* what) const;

    std::vector<int32_t> ref_counts_;   // [n_blocks]
    std::vector<int32_t> free_;         // stack of free ids; the most recently freed is reused first
};

}  // namespace peregrine
