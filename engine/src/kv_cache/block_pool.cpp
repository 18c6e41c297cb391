#include "kv_cache/block_pool.h"

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine {

BlockPool::BlockPool(int32_t n_blocks) {
    if (n_blocks < 0) throw InvalidRequestError(fmt::format("KV block pool: {} blocks requested", n_blocks));
    const size_t n = static_cast<size_t>(n_blocks);
    ref_counts_.assign(n, 0);
    hashes_.assign(n, 0);
    has_hash_.assign(n, 0);
    next_.assign(n + 1, n_blocks);
    prev_.assign(n + 1, n_blocks);
    // In id order, so the first allocations hand out 0, 1, 2, ... (easier to read in tests and logs).
    for (int32_t b = 0; b < n_blocks; ++b) push_back(b);
}

void BlockPool::unlink(int32_t block) {
    const size_t b = static_cast<size_t>(block);
    next_[static_cast<size_t>(prev_[b])] = next_[b];
    prev_[static_cast<size_t>(next_[b])] = prev_[b];
    --n_free_;
    if (has_hash_[b]) --n_cached_free_;
}

void BlockPool::push_front(int32_t block) {
    const int32_t sentinel = n_total();
    const int32_t first = next_[static_cast<size_t>(sentinel)];
    next_[static_cast<size_t>(block)] = first;
    prev_[static_cast<size_t>(block)] = sentinel;
    prev_[static_cast<size_t>(first)] = block;
    next_[static_cast<size_t>(sentinel)] = block;
    ++n_free_;
}

void BlockPool::push_back(int32_t block) {
    const int32_t sentinel = n_total();
    const int32_t last = prev_[static_cast<size_t>(sentinel)];
    prev_[static_cast<size_t>(block)] = last;
    next_[static_cast<size_t>(block)] = sentinel;
    next_[static_cast<size_t>(last)] = block;
    prev_[static_cast<size_t>(sentinel)] = block;
    ++n_free_;
    if (has_hash_[static_cast<size_t>(block)]) ++n_cached_free_;
}

bool BlockPool::allocate(int32_t n, std::vector<int32_t>& out) {
    if (n < 0 || n > n_free()) return false;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t b = next_[static_cast<size_t>(n_total())];
        unlink(b);
        ref_counts_[static_cast<size_t>(b)] = 1;
        unpublish(b);  // evicted: its old content is about to be overwritten
        out.push_back(b);
    }
    return true;
}

void BlockPool::check_id(int32_t block, const char* what) const {
    if (block < 0 || block >= n_total()) {
        throw InvalidRequestError(fmt::format("KV block pool: {} of block {} outside [0, {})", what, block, n_total()));
    }
}

void BlockPool::check_allocated(int32_t block, const char* what) const {
    check_id(block, what);
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
    if (--ref_counts_[static_cast<size_t>(block)] != 0) return;
    // A block with a hash is worth keeping: it goes to the back, to be evicted last.
    if (has_hash_[static_cast<size_t>(block)]) {
        push_back(block);
    } else {
        push_front(block);
    }
}

int32_t BlockPool::ref_count(int32_t block) const {
    if (block < 0 || block >= n_total()) return 0;
    return ref_counts_[static_cast<size_t>(block)];
}

bool BlockPool::publish(int32_t block, uint64_t hash) {
    check_allocated(block, "publish");
    if (has_hash_[static_cast<size_t>(block)] || by_hash_.count(hash) != 0) return false;
    by_hash_.emplace(hash, block);
    hashes_[static_cast<size_t>(block)] = hash;
    has_hash_[static_cast<size_t>(block)] = 1;
    return true;
}

void BlockPool::unpublish(int32_t block) {
    check_id(block, "unpublish");
    const size_t b = static_cast<size_t>(block);
    if (!has_hash_[b]) return;
    // A free block that loses its hash is an ordinary free block now: it moves to the front.
    const bool free = ref_counts_[b] == 0;
    if (free) unlink(block);
    by_hash_.erase(hashes_[b]);
    has_hash_[b] = 0;
    if (free) push_front(block);
}

int32_t BlockPool::find(uint64_t hash) const {
    const auto it = by_hash_.find(hash);
    return it == by_hash_.end() ? -1 : it->second;
}

bool BlockPool::is_published(int32_t block) const {
    return block >= 0 && block < n_total() && has_hash_[static_cast<size_t>(block)] != 0;
}

void BlockPool::reuse(int32_t block) {
    check_id(block, "reuse");
    if (!has_hash_[static_cast<size_t>(block)]) {
        throw InvalidRequestError(fmt::format("KV block pool: reuse of block {}, which holds no cached prefix", block));
    }
    if (ref_counts_[static_cast<size_t>(block)] == 0) unlink(block);
    ++ref_counts_[static_cast<size_t>(block)];
}

}  // namespace peregrine
