// Peak-rate probes for the benchmark's roofline figures (`peregrine-cli bench`): what one thread of this
// CPU can do at most on the active path, so every measured speed can be quoted as a share of it.
//   int8: multiply-accumulates per second of the widest integer dot-product instruction the path's
//         kernels use (AVX-512: vpdpbusd, 64 per instruction; AVX2: vpmaddubsw + vpmaddwd, 32 per pair;
//         scalar: plain int32 arithmetic), over enough independent accumulators to hide latency.
//   f32:  fused multiply-adds per second (the roof of F32/F16/BF16 weights).
//   read: bytes per second streamed from a buffer, as four sequential streams per thread like the matmul
//         kernels' (callers pass one far larger than the caches and run one thread per core to measure
//         DRAM bandwidth).
// Each probe runs for about `seconds`; multi-threaded figures are the sum over threads run together.
#pragma once

#include <cstddef>
#include <cstdint>

namespace peregrine::kernels::cpu {

double peak_int8_macs_per_second(double seconds);
double peak_f32_fmas_per_second(double seconds);

// Reads every byte of [data, data + bytes) once (bytes a multiple of 64) and returns a checksum, so the
// loads cannot be optimised away.
uint64_t stream_read(const uint8_t* data, size_t bytes);

}  // namespace peregrine::kernels::cpu
