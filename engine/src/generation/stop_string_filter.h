// Holds back streamed text that might be the start of a stop string, so the user never sees a stop
// string (or half of one) flash on screen before it is cut.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace peregrine {

class StopStringFilter {
public:
    struct Step {
        std::string emit;   // text that is now safe to show
        bool stopped = false;
    };

    explicit StopStringFilter(std::vector<std::string> stop_strings);

    // Adds generated text; returns what can be shown and whether a stop string was completed.
    Step push(std::string_view delta);
    // End of generation: everything still held back is shown (with `tail` appended first).
    std::string finish(std::string_view tail = {});
    // All text accepted so far, cut before the stop string if one was found.
    const std::string& text() const { return text_; }

private:
    std::vector<std::string> stops_;
    size_t longest_ = 0;
    std::string text_;
    size_t emitted_ = 0;
    bool stopped_ = false;
};

}  // namespace peregrine
