#pragma once
// The CUDA implementation of Backend: weights, activations and KV pages in device memory of one
// GPU, every op queued on one stream (so ops are asynchronous; copy_to_host and synchronize wait).
// This header names no CUDA type, so host-only code can hold a CudaBackend.
//
// Numerics: activations stay float32 as the interface says. `linear` keeps its weights in bf16
// (or f16 / f32 when asked) and runs one cuBLAS GEMM with fp32 accumulation: the activation rows
// are rounded to the weight's 16-bit type on the fly (one rounding, 2^-9 relative for bf16, as
// SGLang's bf16 activations), which halves the bytes the GEMM reads against an fp32 GEMM and runs
// on the tensor cores; f32 weights use a true fp32 GEMM with TF32 off. Every reduction (norms,
// softmax, attention) is fp32.
#include <cstddef>
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace sglang {

class CudaBackend final : public Backend {
 public:
  // Makes the context on `gpu_id`; throws std::runtime_error with CUDA's message when it cannot
  // (make_cuda_backend in cuda_device.h turns that into an Error).
  explicit CudaBackend(int gpu_id);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override;
  int gpu_id() const { return gpu_id_; }

  // Allocation failures throw std::runtime_error naming the bytes needed and free (never abort).
  Tensor empty(DType dtype, std::vector<int64_t> shape) override;
  Tensor zeros(DType dtype, std::vector<int64_t> shape) override;
  Tensor from_host(const void* data, DType dtype, std::vector<int64_t> shape) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  // cudaMemGetInfo's free bytes (the KV pool is --mem-fraction-static of it, as SGLang sizes it).
  size_t available_memory_bytes() const override;

  using Backend::load_matmul_weight;
  Tensor load_matmul_weight(const std::vector<HostTensor>& row_blocks,
                            std::optional<DType> dtype) override;
  Tensor load_vector(const std::vector<HostTensor>& parts) override;

  void embedding(const Tensor& ids, const Tensor& table, const Tensor& out) override;
  void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override;
  void add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    const Tensor& out) override;
  void linear(const Tensor& x, const Tensor& weight, const Tensor* bias,
              const Tensor& out) override;
  void rope_cos_sin(const Tensor& positions, const Tensor& inv_freq,
                    const Tensor& cos_sin) override;
  void apply_rope(const Tensor& x, const Tensor& cos_sin, int64_t head_dim) override;
  void store_kv(const Tensor& k, const Tensor& v, const AttentionMetadata& meta,
                const Tensor& k_cache, const Tensor& v_cache) override;
  void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                 const AttentionMetadata& meta, const AttentionParams& params,
                 const Tensor& out) override;
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  const Tensor& out) override;
  void activation(Activation f, const Tensor& x, const Tensor& out) override;
  void silu_and_mul(const Tensor& gate_up, const Tensor& out) override;
  void gated_activation(Activation f, const Tensor& gate_up, const Tensor& out) override;
  void scale(const Tensor& x, float factor, const Tensor& out) override;
  void soft_cap(const Tensor& x, float cap, const Tensor& out) override;
  void add(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void gather_rows(const Tensor& x, const Tensor& rows, const Tensor& out) override;
  void moe_topk_softmax(const Tensor& router_logits, bool renormalize, const Tensor& weights,
                        const Tensor& expert_ids) override;
  void sigmoid_scale_rows(const Tensor& x, const Tensor& gate, const Tensor& out) override;
  void moe_combine(const Tensor& expert_rows, const Tensor& slots, const Tensor& weights,
                   bool accumulate, const Tensor& out) override;
  void synchronize() override;
  void bind_calling_thread() override;

 private:
  struct State;  // the stream, cuBLAS handle and scratch (cuda_backend.cu)
  // Device scratch of at least `bytes`, reused across ops (stream-ordered, so reuse is safe).
  void* scratch(size_t bytes);

  int gpu_id_;
  std::unique_ptr<State> state_;
};

}  // namespace sglang
