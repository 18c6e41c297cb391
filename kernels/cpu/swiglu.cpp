#include "kernels/cpu/swiglu.h"

#include <cmath>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu {

void swiglu_row(const float* gate, const float* up, float* out, int64_t n) {
    switch (cpu_path()) {
        case CpuPath::Avx512: return avx512::swiglu_row(gate, up, out, n);
        case CpuPath::Avx2: return avx2::swiglu_row(gate, up, out, n);
        case CpuPath::Scalar: break;
    }
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

}  // namespace peregrine::kernels::cpu
