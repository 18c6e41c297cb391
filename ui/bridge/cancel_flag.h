// Cancellation shared by the GUI thread (writes) and the engine threads (read inside the engine's
// callbacks, once per token or per megabyte of weights). Request ids only grow, so "cancel everything
// up to id N" (a new load, closing) also drops older requests still queued and never touches a newer
// one; cancel(id) stops one reply and leaves the others of other conversations running.
#pragma once

#include <QtGlobal>

#include <atomic>
#include <mutex>
#include <set>

namespace peregrine::ui {

class CancelFlag {
public:
    void cancelThrough(quint64 requestId) {
        quint64 current = cancelledThrough_.load(std::memory_order_relaxed);
        while (current < requestId &&
               !cancelledThrough_.compare_exchange_weak(current, requestId, std::memory_order_release)) {
        }
    }
    void cancel(quint64 requestId) {
        std::lock_guard lock(mutex_);
        cancelled_.insert(requestId);
    }
    // The request ended: its single entry is no longer needed.
    void forget(quint64 requestId) {
        std::lock_guard lock(mutex_);
        cancelled_.erase(requestId);
    }
    bool isCancelled(quint64 requestId) const {
        if (requestId <= cancelledThrough_.load(std::memory_order_acquire)) return true;
        std::lock_guard lock(mutex_);
        return cancelled_.count(requestId) != 0;
    }

private:
    std::atomic<quint64> cancelledThrough_{0};
    mutable std::mutex mutex_;
    std::set<quint64> cancelled_;
};

}  // namespace peregrine::ui
