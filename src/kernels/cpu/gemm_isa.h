#pragma once
// Internal to the per-ISA kernel objects: the linear kernel, shared by gemm_isa.cpp and
// ops_isa.cpp.
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace sglang::cpu {
// gemm_blocked's weight source (ISA-independent, so that one ISA's object can pass it to
// another's GEMM).
using WidenFn = void (*)(const void* ctx, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                         float* dst);
inline constexpr int64_t kGemmKAlign = 32;
}  // namespace sglang::cpu

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {

void linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
            const float* bias, float* out, int64_t out_stride);

// The blocked prefill GEMM (gemm_isa.cpp) for weights of any storage: out[t, n] = x[t, :] · W[n, :]
// (+ bias[n]) for all `tokens` rows, where `widen` writes the float values of weight rows
// [n0, n0 + rows) and columns [k0, k0 + kc) as rows / 16 sub-panels of [kc][16] (row r, column kk
// at (r / 16) * kc * 16 + kk * 16 + r % 16; rows <= gemm_group_rows(), the rows beyond are
// zeroed by the GEMM). Called once per (row group, K block) per call, however many tokens: a
// quantized or bf16 panel is widened once and reused by every token block. k0 is a multiple of
// kGemmKAlign, and so is kc where k is (the quantized weights'). Parallel over the row groups
// (the worker pool), the packed activations shared.
int64_t gemm_group_rows();
void gemm_blocked(const float* x, int64_t x_stride, int64_t tokens, int64_t n, int64_t k,
                  WidenFn widen, const void* ctx, const float* bias, float* out,
                  int64_t out_stride);

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
