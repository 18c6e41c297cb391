// Hands one HTTP request's engine updates from the engine's thread (push, never blocks for long) to the
// HTTP worker thread that writes the response (wait).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "peregrine/engine.h"

namespace peregrine::server {

class UpdateChannel {
public:
    void push(const RequestUpdate& update) {
        {
            std::lock_guard lock(mutex_);
            pending_.push_back(update);
            if (update.all_finished) finished_ = true;
        }
        ready_.notify_one();
    }

    // Everything pushed since the last call; waits up to `timeout` when nothing is there yet.
    std::vector<RequestUpdate> wait(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, timeout, [&] { return !pending_.empty(); });
        std::vector<RequestUpdate> out;
        out.swap(pending_);
        return out;
    }

    // The engine sent the request's last update (it may not have been taken by wait() yet).
    bool finished() const {
        std::lock_guard lock(mutex_);
        return finished_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<RequestUpdate> pending_;
    bool finished_ = false;
};

}  // namespace peregrine::server
