#include "vocab/token_index.h"

#include <functional>

#include "vocab/vocab_data.h"

namespace peregrine::vocab_detail {

namespace {

size_t capacity_for(size_t n) {
    size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    return capacity;
}

uint64_t hash_text(std::string_view text) { return std::hash<std::string_view>{}(text); }

// Mixes a 64-bit key (two ids) so that consecutive ids spread over the table.
uint64_t hash_key(uint64_t key) {
    key ^= key >> 33;
    key *= 0xFF51AFD7ED558CCDull;
    key ^= key >> 33;
    key *= 0xC4CEB9FE1A85EC53ull;
    key ^= key >> 33;
    return key;
}

}  // namespace

std::optional<std::pair<int32_t, int32_t>> TokenIndex::build(const std::vector<TokenEntry>& tokens) {
    slots_.assign(capacity_for(tokens.size()), Slot{});
    mask_ = slots_.size() - 1;
    for (size_t id = 0; id < tokens.size(); ++id) {
        const std::string_view text = tokens[id].text;
        const uint64_t hash = hash_text(text);
        const auto tag = static_cast<uint32_t>(hash >> 32);
        for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
            Slot& slot = slots_[i];
            if (slot.id < 0) {
                slot = {tag, static_cast<int32_t>(id)};
                break;
            }
            if (slot.hash_tag == tag && tokens[static_cast<size_t>(slot.id)].text == text) {
                return std::make_pair(slot.id, static_cast<int32_t>(id));
            }
        }
    }
    return std::nullopt;
}

int32_t TokenIndex::find(std::string_view text, const std::vector<TokenEntry>& tokens) const {
    if (slots_.empty()) return -1;
    const uint64_t hash = hash_text(text);
    const auto tag = static_cast<uint32_t>(hash >> 32);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& slot = slots_[i];
        if (slot.id < 0) return -1;
        if (slot.hash_tag == tag && tokens[static_cast<size_t>(slot.id)].text == text) return slot.id;
    }
}

void MergeTable::reserve(size_t n_merges) {
    if (capacity_for(n_merges) <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity_for(n_merges), Slot{});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (const Slot& slot : old) {
        if (slot.key != kEmpty) add(static_cast<int32_t>(slot.key >> 32), static_cast<int32_t>(slot.key & 0xFFFFFFFFu), slot.info);
    }
}

void MergeTable::grow() { reserve(2 * (size_ + 1)); }

void MergeTable::add(int32_t left, int32_t right, MergeInfo info) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const uint64_t key = key_of(left, right);
    for (size_t i = hash_key(key) & mask_;; i = (i + 1) & mask_) {
        Slot& slot = slots_[i];
        if (slot.key == key) return;   // first rank wins
        if (slot.key == kEmpty) {
            slot = {key, info};
            ++size_;
            return;
        }
    }
}

MergeInfo MergeTable::find(int32_t left, int32_t right) const {
    if (slots_.empty()) return {};
    const uint64_t key = key_of(left, right);
    for (size_t i = hash_key(key) & mask_;; i = (i + 1) & mask_) {
        const Slot& slot = slots_[i];
        if (slot.key == key) return slot.info;
        if (slot.key == kEmpty) return {};
    }
}

}  // namespace peregrine::vocab_detail
