// A small least-recently-used cache: a list in use order plus a hash into it. The delegate keeps its
// laid-out QTextDocuments and size hints here, so a 1,000-message chat holds only what is on screen.
#pragma once

#include <QHash>

#include <cstddef>
#include <iterator>
#include <list>
#include <utility>

namespace peregrine::ui {

template <typename Key, typename Value>
class LruCache {
public:
    explicit LruCache(size_t capacity) : capacity_(capacity) {}

    // The value, now the most recently used; nullptr if absent.
    Value* find(const Key& key) {
        auto it = index_.find(key);
        if (it == index_.end()) return nullptr;
        entries_.splice(entries_.begin(), entries_, it.value());
        return &it.value()->second;
    }

    Value& insert(const Key& key, Value value) {
        if (auto it = index_.find(key); it != index_.end()) {
            it.value()->second = std::move(value);
            entries_.splice(entries_.begin(), entries_, it.value());
            return it.value()->second;
        }
        entries_.emplace_front(key, std::move(value));
        index_.insert(key, entries_.begin());
        while (entries_.size() > capacity_) {
            index_.remove(entries_.back().first);
            entries_.pop_back();
        }
        return entries_.front().second;
    }

    void remove(const Key& key) {
        if (auto it = index_.find(key); it != index_.end()) {
            entries_.erase(it.value());
            index_.erase(it);
        }
    }

    void clear() {
        entries_.clear();
        index_.clear();
    }

    size_t size() const { return entries_.size(); }
    size_t capacity() const { return capacity_; }

private:
    using Entry = std::pair<Key, Value>;
    size_t capacity_;
    std::list<Entry> entries_;  // most recently used first
    QHash<Key, typename std::list<Entry>::iterator> index_;
};

}  // namespace peregrine::ui
