#include "kernels/cpu/rms_norm.h"

#include <cmath>

namespace peregrine::kernels::cpu {

void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (weight == nullptr) {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        const float normalised = x[i] * scale;
        y[i] = normalised * weight[i];
    }
}

}  // namespace peregrine::kernels::cpu
