#include "bridge/weight_prefetch.h"

#include <algorithm>
#include <cstdint>

#include "peregrine/gguf.h"

namespace peregrine::ui {

bool prefetchWeights(const gguf::GgufFile& file, const std::function<bool(double fraction)>& progress) {
    uint64_t total = 0;
    for (const gguf::TensorInfo& tensor : file.tensors()) total += tensor.n_bytes;
    if (total == 0) return progress(1.0);

    constexpr uint64_t kPage = 4096;
    constexpr uint64_t kCheckEvery = 1 << 20;  // bytes between cancel checks
    uint64_t done = 0;
    uint64_t sinceCheck = 0;
    volatile uint8_t sink = 0;  // keeps the reads from being optimised away
    for (const gguf::TensorInfo& tensor : file.tensors()) {
        for (uint64_t offset = 0; offset < tensor.n_bytes; offset += kPage) {
            sink = sink + tensor.data[offset];
            const uint64_t step = std::min(kPage, tensor.n_bytes - offset);
            done += step;
            sinceCheck += step;
            if (sinceCheck >= kCheckEvery) {
                sinceCheck = 0;
                if (!progress(static_cast<double>(done) / total)) return false;
            }
        }
    }
    return progress(1.0);
}

}  // namespace peregrine::ui
