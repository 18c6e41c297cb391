#include "generation/stop_string_filter.h"

#include <algorithm>

namespace peregrine {

StopStringFilter::StopStringFilter(std::vector<std::string> stop_strings) {
    for (auto& s : stop_strings) {
        if (!s.empty()) stops_.push_back(std::move(s));
    }
    for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

StopStringFilter::Step StopStringFilter::push(std::string_view delta) {
    Step step;
    if (stopped_) {
        step.stopped = true;
        return step;
    }
    const size_t old_size = text_.size();
    text_.append(delta);
    if (stops_.empty()) {
        step.emit = text_.substr(emitted_);
        emitted_ = text_.size();
        return step;
    }
    // A stop string can only end inside the new text, so search from just before it.
    const size_t search_from = old_size >= longest_ ? old_size - longest_ + 1 : 0;
    size_t cut = std::string::npos;
    for (const auto& s : stops_) {
        const size_t at = text_.find(s, search_from);
        if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
        text_.resize(cut);
        stopped_ = true;
        step.stopped = true;
        if (cut > emitted_) step.emit = text_.substr(emitted_);
        emitted_ = std::max(emitted_, cut);
        return step;
    }
    // Keep back the longest suffix that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const auto& s : stops_) {
        const size_t max_len = std::min(s.size() - 1, text_.size());
        for (size_t len = max_len; len > hold; --len) {
            if (text_.compare(text_.size() - len, len, s, 0, len) == 0) {
                hold = len;
                break;
            }
        }
    }
    const size_t safe = std::max(emitted_, text_.size() - hold);
    step.emit = text_.substr(emitted_, safe - emitted_);
    emitted_ = safe;
    return step;
}

std::string StopStringFilter::finish(std::string_view tail) {
    if (!stopped_) {
        Step step = push(tail);
        if (step.stopped) return step.emit;
    }
    if (stopped_) return {};
    std::string rest = text_.substr(emitted_);
    emitted_ = text_.size();
    return rest;
}

}  // namespace peregrine
