// Row quantizers: f32 -> a block type. Used for activations before integer dot products (Q8_0, Q8_1,
// Q8_K, F16, BF16, bit-exact with ggml's CPU path so logits match llama.cpp) and by the quantize and
// make-model tools (every weight type).
#pragma once

#include <cstdint>

#include "peregrine/tensor_type.h"

namespace peregrine::kernels::cpu {

// Quantizes n elements (a multiple of the type's block size) into dst (tensor_row_size(type, n) bytes).
// Throws std::invalid_argument for an unknown type or an n that is not a whole number of blocks.
//
// This is ggml-cpu's from_float as built for x86 with AVX2/AVX-512 (what llama.cpp runs on the
// activations before a matmul):
//   Q8_0, Q8_1  scale d = amax/127 (stored fp16), values round_half_even(x * (127/amax)); Q8_1 also
//               stores s = fp16(d * sum of values). (ggml's scalar fallback instead uses x * (1/d) and
//               rounds half away from zero; see quantize_row_reference.)
//   Q8_K        fp32 d = 1/(-127/max), values min(127, round_half_even(x * -127/max)) where max is the
//               signed value of largest magnitude, plus the 16-value sums.
//   F16, BF16   round to nearest even (F16C's rule; a build with AVX512-BF16 would flush subnormal
//               inputs to zero for BF16, which we do not).
// Weight types (Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS) use the reference quantizers below.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n);

// The storage quantizer: the bytes ggml_quantize_chunk writes without an importance matrix (what
// llama-quantize puts in a file). Same as quantize_row for every type except Q8_0 and Q8_1, whose
// reference rounds x * (1/d) half away from zero. Supported: every type in TensorType (F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS).
void quantize_row_reference(TensorType type, const float* src, void* dst, int64_t n);

// True for the types quantize_row / quantize_row_reference accept: every type in TensorType; false for
// an unknown raw id.
bool can_quantize(TensorType type);

}  // namespace peregrine::kernels::cpu
