#include "kernels/cpu/rms_norm.h"

#include <cmath>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu {

void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps) {
    switch (cpu_path()) {
        case CpuPath::Avx512: return avx512::rms_norm_row(x, weight, y, n, eps);
        case CpuPath::Avx2: return avx2::rms_norm_row(x, weight, y, n, eps);
        case CpuPath::Scalar: break;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) {
        const float normalised = x[i] * scale;
        y[i] = weight != nullptr ? normalised * weight[i] : normalised;
    }
}

}  // namespace peregrine::kernels::cpu
