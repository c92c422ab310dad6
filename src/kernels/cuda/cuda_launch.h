#pragma once
// The host side of the CUDA kernels: error checks, 2-D views, and the launcher each kernel file
// defines (raw device pointers, strides in elements, one stream). Plain C++: cuda_backend.cpp
// includes it; the kernel files include it through cuda_common.cuh.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "util/dtype.h"

namespace sglang::cuda {

// A CUDA call that failed is a bug or a lost device: the backend's callers get an exception with
// the call and CUDA's message (api_server turns it into a start or request error).
inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
  }
}
// After every kernel launch: a bad launch shape or a missing kernel image shows here.
inline void check_launch(const char* kernel) {
  check_cuda(cudaGetLastError(), kernel);
}

inline void require(bool ok, const char* what) {
  if (!ok) throw std::logic_error(std::string("CudaBackend: ") + what);
}

inline unsigned ceil_div(int64_t a, int64_t b) {
  return static_cast<unsigned>((a + b - 1) / b);
}

// A 2-D float view: element (r, c) at p[r * stride + c].
struct View {
  float* p;
  int64_t stride;
};
struct ConstView {
  const float* p;
  int64_t stride;
};

// --- launchers (one per kernel family; the .cu file that holds each is named in the comment) ---
// norms.cu
void launch_rms_norm(ConstView x, const float* weight, int64_t rows, int64_t width, int64_t groups,
                     float eps, View out, cudaStream_t s);
void launch_add_rms_norm(View residual, ConstView x, const float* weight, int64_t rows,
                         int64_t cols, float eps, View out, cudaStream_t s);
void launch_layer_norm(ConstView x, const float* weight, const float* bias, int64_t rows,
                       int64_t cols, float eps, View out, cudaStream_t s);
// activations.cu; `f` numbers Activation as backend.h (0 gelu .. 4 sigmoid), -1 is SiLU.
void launch_activation(int f, ConstView x, int64_t rows, int64_t cols, View out, cudaStream_t s);
void launch_gated(int f, ConstView gate_up, int64_t rows, int64_t cols, View out, cudaStream_t s);
void launch_scale(ConstView x, int64_t rows, int64_t cols, float factor, View out, cudaStream_t s);
void launch_soft_cap(ConstView x, int64_t rows, int64_t cols, float cap, View out, cudaStream_t s);
void launch_add(ConstView a, ConstView b, int64_t rows, int64_t cols, View out, cudaStream_t s);
void launch_add_bias(View out, const float* bias, int64_t rows, int64_t cols, cudaStream_t s);
void launch_sigmoid_scale_rows(ConstView x, ConstView gate, int64_t rows, int64_t cols, View out,
                               cudaStream_t s);
// Rounds x to `dtype` (BF16 or F16) into a contiguous [rows, cols] buffer for the GEMM.
void launch_round_rows(ConstView x, int64_t rows, int64_t cols, DType dtype, void* out,
                       cudaStream_t s);
// rope.cu
void launch_rope_cos_sin(const int32_t* positions, int64_t tokens, const float* inv_freq,
                         int64_t half, View cos_sin, cudaStream_t s);
void launch_apply_rope(View x, int64_t rows, int64_t heads, int64_t head_dim, const float* cos_sin,
                       int64_t rotary, cudaStream_t s);
// embedding.cu: row gathers. Table rows are `dtype` (F32/F16/BF16) with `table_stride` elements.
void launch_embedding(const int32_t* ids, int64_t tokens, const void* table, DType dtype,
                      int64_t vocab, int64_t cols, View out, int* bad_id, cudaStream_t s);
void launch_gather_rows(const void* x, int64_t x_stride, int64_t x_rows, const int32_t* rows,
                        int64_t n, int64_t cols, size_t esize, void* out, int64_t out_stride,
                        int* bad_id, cudaStream_t s);
// kv_cache.cu
void launch_store_kv(ConstView k, ConstView v, int64_t tokens, int64_t cols, const int32_t* slots,
                     int64_t cache_rows, DType dtype, void* k_cache, void* v_cache,
                     int64_t cache_stride, int* bad_slot, cudaStream_t s);
// attention.cu
struct AttentionLaunch {
  const float* q;
  int64_t q_stride;
  const void* k_cache;
  const void* v_cache;
  int64_t kv_stride;
  DType kv_dtype;
  const int32_t* seq_info;  // [num_seqs, 4]
  const int32_t* page_table;
  int64_t num_seqs, num_tokens, max_kv_len, page_size;
  int64_t num_heads, num_kv_heads, head_dim;
  float scale, softcap;
  int64_t sliding_window;
  bool causal;
  float* out;
  int64_t out_stride;
  int num_sms;
};
// Scratch bytes the launch needs for its split-K partials (0: no split).
size_t attention_scratch_bytes(const AttentionLaunch& a);
void launch_attention(const AttentionLaunch& a, void* scratch, cudaStream_t s);
// moe.cu
void launch_moe_topk_softmax(ConstView logits, int64_t rows, int64_t experts, int64_t k,
                             bool renormalize, float* weights, int32_t* expert_ids, cudaStream_t s);
void launch_moe_combine(ConstView expert_rows, int64_t expert_count, const int32_t* slots,
                        const float* weights, int64_t rows, int64_t k, int64_t cols,
                        bool accumulate, View out, int* bad_slot, cudaStream_t s);

}  // namespace sglang::cuda
