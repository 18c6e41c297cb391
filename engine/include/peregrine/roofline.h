// The machine's physical limits, measured, so benchmark figures can say how far from them they are
// (`peregrine-cli bench`). Each probe runs n_threads threads together (one per core, as the benchmark's
// forward pass does) on the active CPU path's kernels for a fraction of a second.
#pragma once

#include <cstddef>

namespace peregrine {

// Streaming read bandwidth from DRAM in bytes/s: a buffer far larger than the caches, read by n_threads
// threads at once (each its own slice); the best of a few passes.
double measure_read_bandwidth(int n_threads, size_t buffer_bytes = size_t{512} << 20);

// Peak int8 dot-product rate in operations/s (2 per multiply-accumulate), all threads together.
double measure_int8_peak(int n_threads);

// Peak f32 fused multiply-add rate in FLOP/s (2 per FMA), all threads together.
double measure_f32_peak(int n_threads);

}  // namespace peregrine
