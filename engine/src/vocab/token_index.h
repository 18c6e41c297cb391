// Lookup tables for tokenization: token text -> id, and BPE merge (left id, right id) -> rank.
//
// Both are flat open-addressing tables (linear probing, power-of-two capacity, at most half full):
// building them for a 150k-token, 280k-merge vocabulary costs a few milliseconds, and a lookup is
// one or two cache misses instead of a walk through a node-based std::unordered_map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace peregrine::vocab_detail {

struct TokenEntry;

class TokenIndex {
public:
    // Indexes tokens[0..n). Returns the first pair of ids with equal text (first id, second id), if
    // any; the second one is then not indexed.
    std::optional<std::pair<int32_t, int32_t>> build(const std::vector<TokenEntry>& tokens);
    // -1 when absent. `tokens` must be the vector the index was built from.
    int32_t find(std::string_view text, const std::vector<TokenEntry>& tokens) const;

private:
    struct Slot {
        uint32_t hash_tag = 0;   // upper bits of the hash, to skip most string comparisons
        int32_t id = -1;         // -1: empty
    };
    std::vector<Slot> slots_;
    size_t mask_ = 0;
};

struct MergeInfo {
    int32_t rank = -1;     // position in tokenizer.ggml.merges; lower merges first
    int32_t result = -1;   // id of left + right
};

class MergeTable {
public:
    void reserve(size_t n_merges);
    // Keeps the first rank when the same pair is added twice (as llama.cpp does).
    void add(int32_t left, int32_t right, MergeInfo info);
    // rank -1 when the pair is not a merge.
    MergeInfo find(int32_t left, int32_t right) const;
    size_t size() const { return size_; }

private:
    struct Slot {
        uint64_t key = kEmpty;
        MergeInfo info;
    };
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    static uint64_t key_of(int32_t left, int32_t right) {
        return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
    }
    void grow();
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
};

}  // namespace peregrine::vocab_detail
