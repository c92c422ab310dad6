#pragma once
// Internal to the per-ISA kernel objects: linear() of weights kept in GGUF blocks
// (quant_gemm_isa.cpp), for ops_isa.cpp's table.
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {

void quant_linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
                  const float* bias, float* out, int64_t out_stride);

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
