#pragma once
// Internal to the per-ISA kernel objects: attention and the KV store (attention_isa.cpp), entered
// into ops_isa.cpp's table.
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {

void attention(const AttentionArgs& args);
void store_kv(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t tokens,
              int64_t width, const int32_t* slots, DType dtype, void* k_cache, void* v_cache,
              int64_t cache_stride);

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
