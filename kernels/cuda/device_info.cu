#include "kernels/cuda/device_info.cuh"

#include <cuda_runtime.h>

namespace peregrine::cuda {

std::vector<DeviceInfo> list_devices(std::string* why_none) {
    std::vector<DeviceInfo> devices;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        if (why_none) *why_none = std::string("CUDA: ") + cudaGetErrorString(err);
        cudaGetLastError();  // clear the sticky error so later calls start clean
        return devices;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
        DeviceInfo info;
        info.index = i;
        info.name = prop.name;
        info.compute_major = prop.major;
        info.compute_minor = prop.minor;
        info.total_memory = prop.totalGlobalMem;
        if (cudaSetDevice(i) == cudaSuccess) {
            size_t free_bytes = 0, total_bytes = 0;
            if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) info.free_memory = free_bytes;
        }
        devices.push_back(std::move(info));
    }
    if (devices.empty() && why_none) *why_none = "CUDA: no device found";
    return devices;
}

}  // namespace peregrine::cuda
