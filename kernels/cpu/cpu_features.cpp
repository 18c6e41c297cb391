// CPU feature detection with cpuid/xgetbv, and the choice of kernel path (see cpu_features.h).
// This file is compiled without ISA flags: it only asks, it never runs, SIMD instructions.
#include "kernels/cpu/cpu_features.h"

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PEREGRINE_X86 1
#endif

namespace peregrine::kernels::cpu {
namespace {

#if defined(PEREGRINE_X86)
// XCR0 through the xgetbv instruction (the intrinsic would need -mxsave for this file).
uint64_t read_xcr0() {
    uint32_t eax = 0, edx = 0;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<uint64_t>(edx) << 32) | eax;
}

bool bit(uint32_t reg, int n) { return ((reg >> n) & 1u) != 0; }

CpuFeatures detect() {
    CpuFeatures f;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool osxsave = bit(ecx, 27);
    f.fma = bit(ecx, 12);
    f.avx = bit(ecx, 28);
    f.f16c = bit(ecx, 29);
    if (osxsave) {
        const uint64_t xcr0 = read_xcr0();
        f.os_saves_ymm = (xcr0 & 0x6) == 0x6;            // SSE and AVX state
        f.os_saves_zmm = f.os_saves_ymm && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
    }
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        const unsigned max_subleaf = eax;
        f.avx2 = bit(ebx, 5);
        f.avx512f = bit(ebx, 16);
        f.avx512dq = bit(ebx, 17);
        f.avx512bw = bit(ebx, 30);
        f.avx512vl = bit(ebx, 31);
        f.avx512vnni = bit(ecx, 11);
        if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) f.avx512bf16 = bit(eax, 5);
    }
    return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

void print_to_stderr(const std::string& message) { std::fprintf(stderr, "peregrine: warning: %s\n", message.c_str()); }

std::atomic<CpuWarningHandler> g_warning_handler{nullptr};

void warn(const std::string& message) {
    const CpuWarningHandler handler = g_warning_handler.load();
    (handler != nullptr ? handler : print_to_stderr)(message);
}

// -1 until the first cpu_path() or set_cpu_path().
std::atomic<int> g_active_path{-1};

CpuPath usable_or_best(CpuPath requested, const char* source) {
    if (cpu_supports(requested)) return requested;
    const CpuPath best = best_cpu_path();
    warn(std::string(source) + " asks for the " + cpu_path_name(requested) + " kernels, which this CPU cannot run (has: " +
         cpu_features_description() + "); using " + cpu_path_name(best));
    return best;
}

CpuPath path_from_environment() {
    const char* value = std::getenv("PEREGRINE_CPU_PATH");
    if (value == nullptr || *value == '\0') return best_cpu_path();
    const std::optional<CpuPath> requested = parse_cpu_path(value);
    if (!requested) {
        warn(std::string("PEREGRINE_CPU_PATH=") + value + " is not one of scalar, avx2, avx512; using " +
             cpu_path_name(best_cpu_path()));
        return best_cpu_path();
    }
    return usable_or_best(*requested, "PEREGRINE_CPU_PATH");
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

std::string cpu_features_description() {
    const CpuFeatures& f = cpu_features();
    const std::pair<bool, const char*> names[] = {
        {f.avx, "avx"},         {f.avx2, "avx2"},         {f.fma, "fma"},           {f.f16c, "f16c"},
        {f.avx512f, "avx512f"}, {f.avx512bw, "avx512bw"}, {f.avx512vl, "avx512vl"}, {f.avx512dq, "avx512dq"},
        {f.avx512vnni, "avx512vnni"}, {f.avx512bf16, "avx512bf16"},
    };
    std::string out;
    for (const auto& [present, name] : names) {
        if (!present) continue;
        if (!out.empty()) out += ' ';
        out += name;
    }
    if (f.avx512f && !f.os_saves_zmm) out += " (zmm state not enabled by the OS)";
    if (f.avx && !f.os_saves_ymm) out += " (ymm state not enabled by the OS)";
    return out.empty() ? "none" : out;
}

bool cpu_supports(CpuPath path) {
    const CpuFeatures& f = cpu_features();
    const bool avx2 = f.avx && f.avx2 && f.fma && f.f16c && f.os_saves_ymm;
    switch (path) {
        case CpuPath::Scalar: return true;
        case CpuPath::Avx2: return avx2;
        case CpuPath::Avx512:
            return avx2 && f.os_saves_zmm && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni &&
                   f.avx512bf16;
    }
    return false;
}

CpuPath best_cpu_path() {
    if (cpu_supports(CpuPath::Avx512)) return CpuPath::Avx512;
    if (cpu_supports(CpuPath::Avx2)) return CpuPath::Avx2;
    return CpuPath::Scalar;
}

CpuPath cpu_path() {
    int path = g_active_path.load(std::memory_order_acquire);
    if (path < 0) {
        static std::once_flag once;
        std::call_once(once, [] {
            int unset = -1;  // set_cpu_path() may have run first; it wins
            g_active_path.compare_exchange_strong(unset, static_cast<int>(path_from_environment()));
        });
        path = g_active_path.load(std::memory_order_acquire);
    }
    return static_cast<CpuPath>(path);
}

CpuPath set_cpu_path(CpuPath requested) {
    const CpuPath path = usable_or_best(requested, "set_cpu_path");
    g_active_path.store(static_cast<int>(path), std::memory_order_release);
    return path;
}

const char* cpu_path_name(CpuPath path) {
    switch (path) {
        case CpuPath::Scalar: return "scalar";
        case CpuPath::Avx2: return "avx2";
        case CpuPath::Avx512: return "avx512";
    }
    return "unknown";
}

std::optional<CpuPath> parse_cpu_path(std::string_view name) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int i = 0; i < kCpuPathCount; ++i) {
        if (lower == cpu_path_name(static_cast<CpuPath>(i))) return static_cast<CpuPath>(i);
    }
    return std::nullopt;
}

void set_cpu_warning_handler(CpuWarningHandler handler) { g_warning_handler.store(handler); }

}  // namespace peregrine::kernels::cpu
