// CUDA device discovery. Everything else in kernels/cuda builds on a device being present; callers ask
// here first so a machine without a GPU (or without a driver) is a normal answer, not an error.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace peregrine::cuda {

struct DeviceInfo {
    int index = 0;
    std::string name;
    int compute_major = 0;
    int compute_minor = 0;
    size_t total_memory = 0;
    size_t free_memory = 0;
};

// Devices the runtime can use; empty when there is no driver or no GPU. `why_none` says which.
std::vector<DeviceInfo> list_devices(std::string* why_none = nullptr);

}  // namespace peregrine::cuda
