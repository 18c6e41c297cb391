// Whether the CPU backend fuses neighbouring ops of the forward pass: RMSNorm into the matmul's
// activation conversion, SwiGLU into the gate/up matmul, RoPE into the K/V cache write. Fused and
// unfused runs compute the same values (each fused op runs the unfused op's row kernels, on rows still in
// cache); fusion only saves passes over memory and thread-pool barriers.
//
// On by default. PEREGRINE_FUSE=0 (or off/false) turns it off when first read; set_fusion_enabled
// changes it at run time (peregrine-cli bench --fusion on,off measures both in one process). The backend
// reads it at each op, so it may be changed between forward passes, not during one.
#pragma once

namespace peregrine::kernels::cpu {

bool fusion_enabled();
void set_fusion_enabled(bool enabled);

}  // namespace peregrine::kernels::cpu
