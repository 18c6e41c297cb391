// Coalesces streamed text into at most one chunk per frame. The engine produces thousands of tokens per
// second on small models; one queued signal per token would flood the GUI event loop, so the worker
// sends what arrived during the last ~16 ms as one chunk. The first piece goes out at once so the time
// to first token the user sees is not delayed by a frame.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace peregrine::ui {

class ChunkBatcher {
public:
    using Clock = std::chrono::steady_clock;

    explicit ChunkBatcher(std::chrono::milliseconds interval = std::chrono::milliseconds(16))
        : interval_(interval) {}

    // Adds text; true when a chunk is due (call take()).
    bool add(std::string_view text, Clock::time_point now) {
        pending_ += text;
        return !pending_.empty() && (!sentAny_ || now - lastSent_ >= interval_);
    }

    std::string take(Clock::time_point now) {
        sentAny_ = true;
        lastSent_ = now;
        std::string out;
        out.swap(pending_);
        return out;
    }

    bool hasPending() const { return !pending_.empty(); }

private:
    std::chrono::milliseconds interval_;
    std::string pending_;
    Clock::time_point lastSent_{};
    bool sentAny_ = false;
};

}  // namespace peregrine::ui
