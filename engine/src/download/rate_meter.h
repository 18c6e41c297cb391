// Download speed over a sliding window and the time left, for progress displays. A window (not the
// average since the start) so a resumed download or a speed change shows up within seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>

namespace peregrine::download {

class RateMeter {
public:
    using Clock = std::chrono::steady_clock;

    explicit RateMeter(std::chrono::milliseconds window = std::chrono::seconds(5)) : window_(window) {}

    // `bytes` is the running total received so far.
    void add_sample(uint64_t bytes, Clock::time_point now = Clock::now()) {
        samples_.emplace_back(now, bytes);
        while (samples_.size() > 2 && now - samples_[1].first >= window_) samples_.pop_front();
    }

    // 0 until the samples span a few hundred milliseconds: the first chunks arrive in a burst from
    // socket buffers, and a rate over them would promise speeds the link does not have.
    double bytes_per_second() const {
        if (samples_.size() < 2) return 0;
        const double seconds = std::chrono::duration<double>(samples_.back().first - samples_.front().first).count();
        if (seconds < kMinSpanSeconds) return 0;
        return double(samples_.back().second - samples_.front().second) / seconds;
    }

    // Seconds until `remaining` more bytes arrive at the current rate; -1 when the rate is unknown.
    double eta_seconds(uint64_t remaining) const {
        const double rate = bytes_per_second();
        return rate > 0 ? double(remaining) / rate : -1;
    }

private:
    static constexpr double kMinSpanSeconds = 0.3;
    std::chrono::milliseconds window_;
    std::deque<std::pair<Clock::time_point, uint64_t>> samples_;
};

}  // namespace peregrine::download
