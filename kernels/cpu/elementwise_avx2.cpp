// The row operations of elementwise_simd.h on the avx2 path. Rules for this file are in simd_kernels.h.
#include "kernels/cpu/simd_vec_avx2.h"

#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx2 {

using Ops = elementwise_detail::Elementwise<Vec256>;

void swiglu_row(const float* gate, const float* up, float* out, int64_t n) { Ops::swiglu_row(gate, up, out, n); }

void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps) {
    Ops::rms_norm_row(x, weight, y, n, eps);
}

void store_f16_row(const float* x, fp16_t* dst, int64_t n) { Ops::store_f16_row(x, dst, n); }

}  // namespace peregrine::kernels::cpu::avx2
