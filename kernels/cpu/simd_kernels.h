// Entry points of the SIMD kernel files, gathered into per-path tables by vec_dot.cpp and quantize.cpp.
// Internal to kernels/cpu.
//
// Every function declared in namespace avx2 lives in a *_avx2.cpp file (built with AVX2+FMA+F16C) and
// every one in avx512 in a *_avx512.cpp file (AVX-512 F/BW/VL/DQ/VNNI/BF16): calling one on a CPU that
// cpu_supports() rejects is an illegal instruction. Only the dispatchers may call them.
//
// Rules for those files, so no SIMD instruction leaks into code that runs on other paths:
//  * every helper is static or in an anonymous namespace, and no inline function from a shared header
//    (fp16.h, quant_blocks.h's helpers, the standard library's templates) is called: the linker keeps one
//    copy of an inline function, and it might pick the one compiled with AVX flags;
//  * no static initialisation that runs code.
// Shared SIMD code therefore comes in two forms: headers included only by the files of one ISA, with
// everything in an anonymous namespace (simd_vec_avx2.h, simd_vec_avx512.h, q8_0_family_avx512.h), and
// templates instantiated on a type from the including file's anonymous namespace (simd_tile_driver.h,
// attention_simd.h, elementwise_simd.h), which makes every instantiation local to that file.
//
// Arguments are already checked by the dispatcher: n is a whole number of blocks (n >= 0).
//
// Arithmetic contract (what tst_simd_kernels checks against the scalar path):
//  * integer dot products inside a block or super-block are exact, as in the scalar kernels;
//  * K-quants (Q4_K, Q5_K, Q6_K) then do the scalar kernels' float operations in the same order, so they
//    are bit-identical with the scalar path;
//  * the 32-value block types and the float types accumulate in SIMD lanes, so they agree with the
//    scalar path to rounding;
//  * for a given path, vec_dot, the rows kernel, the tile kernel and the GEMM give bit-identical results
//    for the same (weight row, activation row) pair: the multi-row kernels only share loads (or unpack
//    operands ahead into scratch), never reorder sums (simd_tile_driver.h chooses which rows share a
//    tile). This is what makes a row's logits independent of the batch it is computed in.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/vec_dot.h"

// For helpers that take or return structs of vector registers: when g++ does not inline them, the
// registers travel through the stack on every call.
#define PEREGRINE_SIMD_INLINE inline __attribute__((always_inline))

namespace peregrine::kernels::cpu {

// One activation row quantized for the dot products (n a whole number of blocks).
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

namespace avx2 {
float vec_dot_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16(int64_t n, const void* w, const void* x);
float vec_dot_bf16(int64_t n, const void* w, const void* x);
float vec_dot_q4_0(int64_t n, const void* w, const void* x);
float vec_dot_q5_0(int64_t n, const void* w, const void* x);
float vec_dot_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
float vec_dot_q5_k(int64_t n, const void* w, const void* x);
float vec_dot_q6_k(int64_t n, const void* w, const void* x);
void vec_dot_tile_q4_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_q5_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_q8_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);
// attention_avx2.cpp (needs head_dim to be a multiple of the register width) and elementwise_avx2.cpp
void attention(const AttentionArgs& args);
void swiglu_row(const float* gate, const float* up, float* out, int64_t n);
void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps);
void store_f16_row(const float* x, fp16_t* dst, int64_t n);
// roofline_avx2.cpp: bursts of independent dot-product / FMA instructions (return the operations done)
int64_t int8_peak_burst(int64_t* checksum);
int64_t f32_peak_burst(int64_t* checksum);
uint64_t stream_read(const uint8_t* data, size_t bytes);
}  // namespace avx2

namespace avx512 {
float vec_dot_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16(int64_t n, const void* w, const void* x);
float vec_dot_bf16(int64_t n, const void* w, const void* x);
float vec_dot_q4_0(int64_t n, const void* w, const void* x);
float vec_dot_q5_0(int64_t n, const void* w, const void* x);
float vec_dot_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
float vec_dot_q5_k(int64_t n, const void* w, const void* x);
float vec_dot_q6_k(int64_t n, const void* w, const void* x);
void vec_dot_tile_q4_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_q5_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_q8_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_q4_k(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_q5_k(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_q6_k(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);
// vec_dot_float_avx512.cpp: tiles (4 weight rows x up to 4 activation rows) for the float types.
void vec_dot_tile_f32(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                      size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_f16(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                      size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
void vec_dot_tile_bf16(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x,
                       size_t x_row_stride, int64_t n_x, float* out, size_t out_stride);
// gemm_avx512.cpp: the matrix-matrix form of vec_dot_tile (same results) with caller scratch of
// gemm_scratch_bytes(n) bytes; gemm_chunk_rows(n) activation rows are unpacked at a time.
size_t gemm_scratch_bytes(int64_t n);
int64_t gemm_chunk_rows(int64_t n);
void gemm_q4_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
               int64_t n_x, float* out, size_t out_stride, void* scratch);
void gemm_q5_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
               int64_t n_x, float* out, size_t out_stride, void* scratch);
void gemm_q8_0(int64_t n, const void* w, size_t w_row_stride, int64_t n_rows, const void* x, size_t x_row_stride,
               int64_t n_x, float* out, size_t out_stride, void* scratch);
// attention_avx512.cpp (needs head_dim to be a multiple of the register width) and elementwise_avx512.cpp
void attention(const AttentionArgs& args);
void swiglu_row(const float* gate, const float* up, float* out, int64_t n);
void rms_norm_row(const float* x, const float* weight, float* y, int64_t n, float eps);
void store_f16_row(const float* x, fp16_t* dst, int64_t n);
// roofline_avx512.cpp: bursts of independent dot-product / FMA instructions (return the operations done)
int64_t int8_peak_burst(int64_t* checksum);
int64_t f32_peak_burst(int64_t* checksum);
uint64_t stream_read(const uint8_t* data, size_t bytes);
}  // namespace avx512

}  // namespace peregrine::kernels::cpu
