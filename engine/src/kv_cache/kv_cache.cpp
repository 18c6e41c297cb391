#include "kv_cache/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

#include <fmt/format.h>

#include "peregrine/error.h"

namespace peregrine {
namespace {

int32_t blocks_for(int32_t length, int block_size) { return (length + block_size - 1) / block_size; }

}  // namespace

KvCache::KvCache(int n_layer, int n_embd_kv, int block_size, int32_t n_blocks, int32_t max_seq_len,
                 bool prefix_caching)
    : n_layer_(n_layer),
      n_embd_kv_(n_embd_kv),
      block_size_(block_size),
      max_seq_len_(max_seq_len),
      layer_stride_(0),
      pool_(0),
      prefix_caching_(prefix_caching) {
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
    if (prefix_caching_) {
        block_tokens_.assign(static_cast<size_t>(n_blocks) * static_cast<size_t>(block_size), 0);
        block_parent_hash_.assign(static_cast<size_t>(n_blocks), 0);
    }
}

KvCacheStats KvCache::stats() const {
    KvCacheStats s;
    s.block_size = block_size_;
    s.blocks_total = pool_.n_total();
    s.blocks_used = pool_.n_used();
    s.bytes_total = bytes_total_;
    s.blocks_free = pool_.n_free();
    s.blocks_cached = pool_.n_cached();
    s.prefix_query_tokens = prefix_query_tokens_;
    s.prefix_hit_tokens = prefix_hit_tokens_;
    return s;
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
    if (s.tokens.size() > static_cast<size_t>(n_keep)) s.tokens.resize(static_cast<size_t>(n_keep));
    s.hashes.resize(std::min(s.hashes.size(), static_cast<size_t>(n_keep / block_size_)));
    // The kept part of a published block will be overwritten from n_keep on: unless another sequence
    // shares it (then the next grow() copies it first), it no longer holds what its hash says.
    if (n_keep % block_size_ != 0 && pool_.ref_count(s.blocks.back()) == 1) pool_.unpublish(s.blocks.back());
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

uint64_t KvCache::chain_hash(uint64_t parent, std::span<const int32_t> block_tokens) {
    // splitmix64's finaliser as the mixing step: every input bit reaches every output bit.
    const auto mix = [](uint64_t x) {
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebull;
        return x ^ (x >> 31);
    };
    uint64_t h = mix(parent + 0x9e3779b97f4a7c15ull);
    for (int32_t t : block_tokens) h = mix(h ^ static_cast<uint32_t>(t));
    return h;
}

bool KvCache::cached_block_matches(int32_t block, uint64_t parent, std::span<const int32_t> block_tokens) const {
    const size_t b = static_cast<size_t>(block);
    if (block_parent_hash_[b] != parent) return false;
    const int32_t* stored = block_tokens_.data() + b * static_cast<size_t>(block_size_);
    return std::equal(block_tokens.begin(), block_tokens.end(), stored);
}

void KvCache::record_tokens(int32_t seq, int32_t pos, std::span<const int32_t> tokens) {
    const auto it = sequences_.find(seq);
    if (it == sequences_.end()) {
        throw InvalidRequestError(fmt::format("KV cache: recording tokens of unknown sequence {}", seq));
    }
    Sequence& s = it->second;
    if (pos != static_cast<int32_t>(s.tokens.size()) || pos + static_cast<int64_t>(tokens.size()) > s.length) {
        throw InvalidRequestError(fmt::format("KV cache: tokens for positions [{}, {}) of sequence {}, which has {} "
                                              "recorded of {}", pos, pos + tokens.size(), seq, s.tokens.size(),
                                              s.length));
    }
    s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
    const size_t bs = static_cast<size_t>(block_size_);
    while ((s.hashes.size() + 1) * bs <= s.tokens.size()) {
        const size_t i = s.hashes.size();
        const uint64_t parent = i == 0 ? 0 : s.hashes.back();
        const std::span<const int32_t> block_tokens(s.tokens.data() + i * bs, bs);
        const uint64_t h = chain_hash(parent, block_tokens);
        s.hashes.push_back(h);
        const int32_t b = s.blocks[i];
        if (prefix_caching_ && pool_.publish(b, h)) {
            std::copy(block_tokens.begin(), block_tokens.end(), block_tokens_.begin() + static_cast<ptrdiff_t>(b * bs));
            block_parent_hash_[static_cast<size_t>(b)] = parent;
        }
    }
}

int32_t KvCache::reuse_prefix(int32_t seq, std::span<const int32_t> tokens) {
    if (contains(seq)) throw InvalidRequestError(fmt::format("KV cache: prefix reuse for existing sequence {}", seq));
    if (!prefix_caching_ || tokens.empty()) return 0;
    prefix_query_tokens_ += tokens.size();
    const size_t bs = static_cast<size_t>(block_size_);
    const size_t max_blocks = std::min((tokens.size() - 1) / bs, static_cast<size_t>(max_seq_len_) / bs);
    Sequence s;
    uint64_t parent = 0;
    for (size_t i = 0; i < max_blocks; ++i) {
        const std::span<const int32_t> block_tokens = tokens.subspan(i * bs, bs);
        const uint64_t h = chain_hash(parent, block_tokens);
        const int32_t b = pool_.find(h);
        if (b < 0 || !cached_block_matches(b, parent, block_tokens)) break;
        s.blocks.push_back(b);
        s.hashes.push_back(h);
        parent = h;
    }
    if (s.blocks.empty()) return 0;
    for (int32_t b : s.blocks) pool_.reuse(b);
    s.length = static_cast<int32_t>(s.blocks.size() * bs);
    s.tokens.assign(tokens.begin(), tokens.begin() + s.length);
    prefix_hit_tokens_ += static_cast<uint64_t>(s.length);
    const int32_t reused = s.length;
    sequences_.emplace(seq, std::move(s));
    return reused;
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
