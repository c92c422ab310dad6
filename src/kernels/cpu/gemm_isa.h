#pragma once
// Internal to the per-ISA kernel objects: the linear kernel, shared by gemm_isa.cpp and
// ops_isa.cpp.
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {

void linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
            const float* bias, float* out, int64_t out_stride);

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
