// The attention loop of attention_simd.h on the avx2 path. Rules for this file are in simd_kernels.h.
#include "kernels/cpu/simd_vec_avx2.h"

#include "kernels/cpu/attention_simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace peregrine::kernels::cpu::avx2 {

void attention(const AttentionArgs& args) { attention_detail::AttentionLoop<Vec256>::run(args); }

}  // namespace peregrine::kernels::cpu::avx2
