#pragma once
// Internal to the per-ISA kernel objects: the linear kernel, shared by gemm_isa.cpp and
// ops_isa.cpp.
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {

void linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
            const float* bias, float* out, int64_t out_stride);

// All `tokens` rows of x against one float panel (kPanelRows rows of the weight, [k][kPanelRows],
// the layout of cpu_kernels.h) holding output rows [n0, n0 + kPanelRows) of an [n, k] weight:
// writes out[t, n0 .. min(n, n0 + kPanelRows)). The quantized prefill path dequantizes a panel
// into this form and reuses the float microkernel.
void linear_f32_panel(const float* x, int64_t x_stride, int64_t tokens, const float* panel,
                      int64_t k, int64_t n0, int64_t n, const float* bias, float* out,
                      int64_t out_stride);

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
