#include "kv_cache/block_pool.h"

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine {

BlockPool::BlockPool(int32_t n_blocks) {
    if (n_blocks < 0) throw InvalidRequestError(fmt::format("KV block pool: {} blocks requested", n_blocks));
    ref_counts_.assign(static_cast<size_t>(n_blocks), 0);
    free_.reserve(static_cast<size_t>(n_blocks));
    // Pushed in reverse so the first allocations hand out 0, 1, 2, ... (easier to read in tests and logs).
    for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

bool BlockPool::allocate(int32_t n, std::vector<int32_t>& out) {
    if (n < 0 || n > n_free()) return false;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t b = free_.back();
        free_.pop_back();
        ref_counts_[static_cast<size_t>(b)] = 1;
        out.push_back(b);
    }
    return true;
}

void BlockPool::check_allocated(int32_t block, const char* what) const {
    if (block < 0 || block >= n_total()) {
        throw InvalidRequestError(fmt::format("KV block pool: {} of block {} outside [0, {})", what, block, n_total()));
    }
    if (ref_counts_[static_cast<size_t>(block)] == 0) {
        throw InvalidRequestError(fmt::format("KV block pool: {} of free block {}", what, block));
    }
}

void BlockPool::retain(int32_t block) {
    check_allocated(block, "retain");
    ++ref_counts_[static_cast<size_t>(block)];
}

void BlockPool::release(int32_t block) {
    check_allocated(block, "release");
    if (--ref_counts_[static_cast<size_t>(block)] == 0) free_.push_back(block);
}

int32_t BlockPool::ref_count(int32_t block) const {
    if (block < 0 || block >= n_total()) return 0;
    return ref_counts_[static_cast<size_t>(block)];
}

}  // namespace peregrine
