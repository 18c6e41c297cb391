#include "kv_cache/kv_cache.h"

#include <cstring>
#include <limits>
#include <new>

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine {
namespace {

int32_t blocks_for(int32_t length, int block_size) { return (length + block_size - 1) / block_size; }

}  // namespace

KvCache::KvCache(int n_layer, int n_embd_kv, int block_size, int32_t n_blocks, int32_t max_seq_len)
    : n_layer_(n_layer),
      n_embd_kv_(n_embd_kv),
      block_size_(block_size),
      max_seq_len_(max_seq_len),
      layer_stride_(0),
      pool_(0) {
    if (n_layer < 1 || n_embd_kv < 1 || block_size < 1 || n_blocks < 1 || max_seq_len < 1) {
        throw InvalidRequestError(fmt::format("KV cache: invalid size (layers {}, row {}, block size {}, blocks {})",
                                              n_layer, n_embd_kv, block_size, n_blocks));
    }
    // halves per layer and per K (or V) buffer, checked against overflow before anything is allocated
    uint64_t per_layer = 0;
    uint64_t halves = 0;
    const bool overflow =
        __builtin_mul_overflow(static_cast<uint64_t>(n_blocks), static_cast<uint64_t>(block_size), &per_layer) ||
        __builtin_mul_overflow(per_layer, static_cast<uint64_t>(n_embd_kv), &per_layer) ||
        __builtin_mul_overflow(per_layer, static_cast<uint64_t>(n_layer), &halves) ||
        halves > std::numeric_limits<size_t>::max() / (4 * sizeof(fp16_t));
    if (overflow) {
        throw InvalidRequestError(fmt::format("KV cache: {} blocks of {} positions overflow the address space",
                                              n_blocks, block_size));
    }
    layer_stride_ = static_cast<int64_t>(per_layer);
    bytes_total_ = static_cast<size_t>(halves) * 2 * sizeof(fp16_t);
    // Left uninitialised: a slot is always written before attention reads it.
    k_.reset(new (std::nothrow) fp16_t[halves]);
    v_.reset(new (std::nothrow) fp16_t[halves]);
    if (!k_ || !v_) {
        throw InvalidRequestError(fmt::format("KV cache: cannot allocate {} MiB ({} blocks of {} positions); lower "
                                              "n_ctx or n_seq_max", bytes_total_ >> 20, n_blocks, block_size));
    }
    pool_ = BlockPool(n_blocks);
}

KvCacheStats KvCache::stats() const {
    return {block_size_, pool_.n_total(), pool_.n_used(), bytes_total_};
}

int64_t KvCache::slot_offset(int32_t seq, int32_t pos) const {
    const Sequence& s = sequences_.at(seq);
    const int64_t block = s.blocks[static_cast<size_t>(pos / block_size_)];
    return (block * block_size_ + pos % block_size_) * n_embd_kv_;
}

int32_t KvCache::length(int32_t seq) const {
    const auto it = sequences_.find(seq);
    return it == sequences_.end() ? 0 : it->second.length;
}

const std::vector<int32_t>& KvCache::block_table(int32_t seq) const {
    static const std::vector<int32_t> kEmpty;
    const auto it = sequences_.find(seq);
    return it == sequences_.end() ? kEmpty : it->second.blocks;
}

int32_t KvCache::blocks_needed(int32_t seq, int32_t new_len) const {
    const auto it = sequences_.find(seq);
    const int32_t old_len = it == sequences_.end() ? 0 : it->second.length;
    if (new_len <= old_len) return 0;
    int32_t needed = blocks_for(new_len, block_size_) - blocks_for(old_len, block_size_);
    // The first new position lands in the existing last block; if others share it, it is copied first.
    if (old_len % block_size_ != 0 && pool_.ref_count(it->second.blocks.back()) > 1) ++needed;
    return needed;
}

void KvCache::grow(int32_t seq, int32_t new_len) {
    const int32_t needed = blocks_needed(seq, new_len);
    if (needed > pool_.n_free()) {
        throw InvalidRequestError(fmt::format("KV cache: sequence {} needs {} more blocks, {} of {} are free", seq,
                                              needed, pool_.n_free(), pool_.n_total()));
    }
    Sequence& s = sequences_[seq];
    if (new_len <= s.length) return;
    if (s.length % block_size_ != 0 && pool_.ref_count(s.blocks.back()) > 1) {
        std::vector<int32_t> copy;
        pool_.allocate(1, copy);
        copy_block(s.blocks.back(), copy[0]);
        pool_.release(s.blocks.back());
        s.blocks.back() = copy[0];
    }
    pool_.allocate(blocks_for(new_len, block_size_) - static_cast<int32_t>(s.blocks.size()), s.blocks);
    s.length = new_len;
}

void KvCache::truncate(int32_t seq, int32_t n_keep) {
    const auto it = sequences_.find(seq);
    if (it == sequences_.end() || n_keep >= it->second.length) return;
    if (n_keep <= 0) {
        remove(seq);
        return;
    }
    Sequence& s = it->second;
    const size_t keep_blocks = static_cast<size_t>(blocks_for(n_keep, block_size_));
    for (size_t i = keep_blocks; i < s.blocks.size(); ++i) pool_.release(s.blocks[i]);
    s.blocks.resize(keep_blocks);
    s.length = n_keep;
}

void KvCache::remove(int32_t seq) {
    const auto it = sequences_.find(seq);
    if (it == sequences_.end()) return;
    for (int32_t b : it->second.blocks) pool_.release(b);
    sequences_.erase(it);
}

void KvCache::fork(int32_t src, int32_t dst) {
    if (src == dst) throw InvalidRequestError(fmt::format("KV cache: cannot fork sequence {} onto itself", src));
    if (contains(dst)) throw InvalidRequestError(fmt::format("KV cache: fork target sequence {} already exists", dst));
    const auto it = sequences_.find(src);
    if (it == sequences_.end()) return;  // an empty source gives an empty target
    for (int32_t b : it->second.blocks) pool_.retain(b);
    sequences_[dst] = it->second;
}

void KvCache::clear() {
    while (!sequences_.empty()) remove(sequences_.begin()->first);
}

void KvCache::copy_block(int32_t from, int32_t to) {
    const int64_t block_halves = static_cast<int64_t>(block_size_) * n_embd_kv_;
    for (int il = 0; il < n_layer_; ++il) {
        std::memcpy(k_layer(il) + to * block_halves, k_layer(il) + from * block_halves,
                    static_cast<size_t>(block_halves) * sizeof(fp16_t));
        std::memcpy(v_layer(il) + to * block_halves, v_layer(il) + from * block_halves,
                    static_cast<size_t>(block_halves) * sizeof(fp16_t));
    }
}

}  // namespace peregrine
