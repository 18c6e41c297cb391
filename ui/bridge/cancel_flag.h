// Cancellation shared by the GUI thread (writes) and the engine thread (reads inside the engine's
// callbacks, once per token or per megabyte of weights). Request ids only grow, so "cancel everything
// up to id N" also drops older requests still queued, and never touches a newer one.
#pragma once

#include <QtGlobal>

#include <atomic>

namespace peregrine::ui {

class CancelFlag {
public:
    void cancelThrough(quint64 requestId) {
        quint64 current = cancelledThrough_.load(std::memory_order_relaxed);
        while (current < requestId &&
               !cancelledThrough_.compare_exchange_weak(current, requestId, std::memory_order_release)) {
        }
    }
    bool isCancelled(quint64 requestId) const {
        return requestId <= cancelledThrough_.load(std::memory_order_acquire);
    }

private:
    std::atomic<quint64> cancelledThrough_{0};
};

}  // namespace peregrine::ui
