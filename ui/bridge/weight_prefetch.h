// Reads every page of a memory-mapped model's weights once, so the first reply does not stall on disk
// reads and the load has a real progress bar (for a big model this is most of the load time). Cancels
// between megabytes.
#pragma once

#include <functional>

namespace peregrine::gguf {
class GgufFile;
}

namespace peregrine::ui {

// `progress(fraction)` is called every megabyte and returns false to cancel (it should only signal the
// GUI when the percentage changes). Returns false if cancelled.
bool prefetchWeights(const gguf::GgufFile& file, const std::function<bool(double fraction)>& progress);

}  // namespace peregrine::ui
