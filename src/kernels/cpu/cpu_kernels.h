#pragma once
// The CPU kernels as plain functions on raw pointers. ops_isa.cpp and gemm_isa.cpp are compiled
// once per instruction set (generic x86-64, AVX2+FMA+F16C, AVX-512) into their own namespace, each
// exporting a CpuKernels table; cpu_features.cpp picks the best table the running CPU supports.
// Every kernel of a forward parallelises over all cores on the one worker pool (thread_pool.h);
// OpenMP is left to load-time loops (packing and quantizing weights).
#include <cstdint>

#include "util/dtype.h"

namespace sglang::cpu {

// Weights for linear() are packed in panels of kPanelRows output rows: element (n, k) of an [N, K]
// weight sits at ((n / kPanelRows) * K + k) * kPanelRows + n % kPanelRows. One panel row of K
// values is what a microkernel streams while it accumulates kPanelRows outputs of several tokens at
// once. N is padded with zero rows to a whole number of panels.
inline constexpr int64_t kPanelRows = 16;

// A weight of a quantized dtype (dtype_is_quantized: GGUF blocks) is not in panels: its rows of
// blocks follow each other as in the file, n rows of dtype_row_bytes(dtype, k) bytes, and
// CpuKernels::quant_linear multiplies it.
struct PackedWeight {
  DType dtype;  // F32, F16 or BF16, or a quantized dtype
  int64_t n;    // output features (unpadded)
  int64_t k;    // input features
  const void* data;
};

struct AttentionArgs {
  const float* q;
  int64_t q_stride;
  const void* k_cache;  // kv_dtype elements
  const void* v_cache;
  int64_t kv_stride;        // elements per cache slot (num_kv_heads * head_dim)
  const int32_t* seq_info;  // [num_seqs, 4]: q_start, q_len, kv_len, page_table_start
  const int32_t* page_table;
  int64_t num_seqs;
  int64_t page_size;
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  float scale;
  int64_t sliding_window;
  float* out;
  int64_t out_stride;
  bool causal = true;            // false: each token sees all kv_len keys of its sequence
  DType kv_dtype = DType::kF32;  // F32, BF16 or F16
  float softcap = 0.0f;          // > 0: scores -> softcap * tanh(scores / softcap)
};

struct CpuKernels {
  const char* isa;
  // out[t, n] = sum_k x[t, k] * w[n, k] (+ bias[n])
  void (*linear)(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
                 const float* bias, float* out, int64_t out_stride);
  void (*rms_norm)(const float* x, int64_t x_stride, const float* weight, int64_t tokens,
                   int64_t hidden, float eps, float* out, int64_t out_stride);
  void (*add_rms_norm)(float* residual, int64_t r_stride, const float* x, int64_t x_stride,
                       const float* weight, int64_t tokens, int64_t hidden, float eps, float* out,
                       int64_t out_stride);
  void (*apply_rope)(float* x, int64_t x_stride, int64_t tokens, int64_t heads, int64_t head_dim,
                     const float* cos_sin);
  void (*attention)(const AttentionArgs& args);
  void (*silu_and_mul)(const float* gate_up, int64_t gu_stride, int64_t tokens, int64_t inter,
                       float* out, int64_t out_stride);
  void (*add)(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t tokens,
              int64_t cols, float* out, int64_t out_stride);
  // Encoders (BERT family): LayerNorm with bias, and element-wise activations (Activation values).
  void (*layer_norm)(const float* x, int64_t x_stride, const float* weight, const float* bias,
                     int64_t tokens, int64_t hidden, float eps, float* out, int64_t out_stride);
  void (*activation)(int kind, const float* x, int64_t x_stride, int64_t tokens, int64_t cols,
                     float* out, int64_t out_stride);
  // k_cache/v_cache[slots[t]] = k/v[t] (width values), stored as dtype (F32, BF16 or F16, rounded
  // to nearest even).
  void (*store_kv)(const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                   int64_t tokens, int64_t width, const int32_t* slots, DType dtype, void* k_cache,
                   void* v_cache, int64_t cache_stride);
  // Gemma: out = act(gate) * up over gate_up = [gate | up]; x * factor; tanh(x / cap) * cap.
  void (*gated_activation)(int kind, const float* gate_up, int64_t gu_stride, int64_t tokens,
                           int64_t inter, float* out, int64_t out_stride);
  void (*scale)(const float* x, int64_t x_stride, int64_t tokens, int64_t cols, float factor,
                float* out, int64_t out_stride);
  void (*soft_cap)(const float* x, int64_t x_stride, int64_t tokens, int64_t cols, float cap,
                   float* out, int64_t out_stride);
  // linear() for a weight of a quantized dtype (quant_gemm_isa.cpp): the result is within the
  // rounding of each token's activations to int8 per 32 elements, the same bytes on every path
  // and at any token count (the paths differ only in the order of their float sums).
  void (*quant_linear)(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
                       const float* bias, float* out, int64_t out_stride);
};

// Defined once per ISA namespace.
namespace isa_generic {
const CpuKernels& kernels();
}
namespace isa_avx2 {
const CpuKernels& kernels();
}
namespace isa_avx512 {
const CpuKernels& kernels();
}

// The best table for this CPU; SGLANG_CPU_ISA=generic|avx2|avx512 forces one (for tests and
// benches).
const CpuKernels& best_kernels();
// True when the running CPU can execute the named table.
bool cpu_supports(const char* isa);

}  // namespace sglang::cpu
