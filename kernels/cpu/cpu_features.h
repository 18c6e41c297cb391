// Which SIMD instruction sets this CPU (and its operating system) supports, and which kernel path the
// dispatchers in vec_dot.cpp and quantize.cpp use.
//
// Paths, each a superset of the one before:
//   scalar  portable C++ (the reference every SIMD kernel is tested against)
//   avx2    AVX2 + FMA + F16C, 256-bit registers (files *_avx2.cpp)
//   avx512  AVX-512 F/BW/VL/DQ + VNNI + BF16, 512-bit registers (files *_avx512.cpp)
// A path is usable only when the CPU reports every instruction set it needs and the OS saves the
// registers it uses (XCR0: YMM state for avx2, YMM + opmask + ZMM state for avx512).
//
// The active path is the best usable one, unless the environment variable PEREGRINE_CPU_PATH
// (scalar|avx2|avx512, read once at the first kernel call) or set_cpu_path() asks for another. A request
// for a path the CPU cannot run is never honoured: a warning names it and the best usable path runs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace peregrine::kernels::cpu {

enum class CpuPath { Scalar = 0, Avx2 = 1, Avx512 = 2 };
inline constexpr int kCpuPathCount = 3;

struct CpuFeatures {
    bool avx = false, avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
    bool avx512vnni = false, avx512bf16 = false;
    bool os_saves_ymm = false;  // XCR0 bits 1-2
    bool os_saves_zmm = false;  // XCR0 bits 5-7 (opmask, upper halves of zmm0-15, zmm16-31)
};

// Detected once (cpuid + xgetbv); all false on a non-x86 build.
const CpuFeatures& cpu_features();

// The instruction sets found, space-separated ("avx2 fma f16c avx512f ..."), for `inspect` and `bench`.
std::string cpu_features_description();

// True when this CPU and OS can run the path's kernels (always true for Scalar).
bool cpu_supports(CpuPath path);

// The fastest usable path.
CpuPath best_cpu_path();

// The path the kernels use now (the first call resolves PEREGRINE_CPU_PATH).
CpuPath cpu_path();

// Selects the kernels for later calls (tests use it to check every path). Returns the path actually
// selected: `requested` when usable, otherwise best_cpu_path(), with a warning. Not meant to be called
// while other threads are inside kernels (they would finish on whichever path they started with).
CpuPath set_cpu_path(CpuPath requested);

// "scalar", "avx2" or "avx512".
const char* cpu_path_name(CpuPath path);

// Parses a path name (case-insensitive); nullopt for anything else.
std::optional<CpuPath> parse_cpu_path(std::string_view name);

// Where warnings about the path go (a request the CPU cannot honour, an unknown PEREGRINE_CPU_PATH).
// The kernels library sits below the engine's logger, so the engine installs a handler that forwards
// to log_warn; until then (or with nullptr) warnings are printed to stderr.
using CpuWarningHandler = void (*)(const std::string& message);
void set_cpu_warning_handler(CpuWarningHandler handler);

}  // namespace peregrine::kernels::cpu
