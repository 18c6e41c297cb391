#include "kernels/cpu/fusion.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace peregrine::kernels::cpu {
namespace {

bool enabled_from_environment() {
    const char* value = std::getenv("PEREGRINE_FUSE");
    if (value == nullptr) return true;
    return !(std::strcmp(value, "0") == 0 || std::strcmp(value, "off") == 0 || std::strcmp(value, "false") == 0);
}

std::atomic<bool>& setting() {
    static std::atomic<bool> enabled{enabled_from_environment()};
    return enabled;
}

}  // namespace

bool fusion_enabled() { return setting().load(std::memory_order_relaxed); }

void set_fusion_enabled(bool enabled) { setting().store(enabled, std::memory_order_relaxed); }

}  // namespace peregrine::kernels::cpu
