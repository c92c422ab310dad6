#pragma once
// The CPU implementation of Backend: host memory, one worker pool across all cores (thread_pool.h),
// time for the CPU's vector units (cpu_kernels.h).
#include <memory>
#include <string>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"

namespace sglang {

class CpuBackend final : public Backend {
 public:
  // `num_threads` <= 0: all cores.
  explicit CpuBackend(int num_threads = 0);
  explicit CpuBackend(const cpu::CpuKernels& kernels, int num_threads = 0);

  std::string name() const override;
  const char* isa() const { return kernels_.isa; }

  Tensor empty(DType dtype, std::vector<int64_t> shape) override;
  Tensor zeros(DType dtype, std::vector<int64_t> shape) override;
  Tensor from_host(const void* data, DType dtype, std::vector<int64_t> shape) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  size_t available_memory_bytes() const override;

  using Backend::load_matmul_weight;
  Tensor load_matmul_weight(const std::vector<HostTensor>& row_blocks,
                            std::optional<DType> dtype) override;
  Tensor load_vector(const std::vector<HostTensor>& parts) override;
  // "w8a8_int8" (or "" to clear): float matmul weights become Q8_0 blocks whose scales are one per
  // output row (per-channel int8, SGLang's W8A8Int8LinearMethod), multiplied by the Q8_0 kernels.
  Status set_weight_quantization(const std::string& method) override;

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
  // Mixture-of-experts ops: moe_ops.cpp.
  void moe_topk_softmax(const Tensor& router_logits, bool renormalize, const Tensor& weights,
                        const Tensor& expert_ids) override;
  void sigmoid_scale_rows(const Tensor& x, const Tensor& gate, const Tensor& out) override;
  void moe_combine(const Tensor& expert_rows, const Tensor& slots, const Tensor& weights,
                   bool accumulate, const Tensor& out) override;
  void synchronize() override {}
  void bind_calling_thread() override;

  // Wall time inside linear() and attention(), for benches that split a step's time into matmuls,
  // attention and everything else (the small ops and the thread hand-offs). Off unless enabled.
  struct OpProfile {
    double linear_s = 0, attention_s = 0;
    int64_t linear_calls = 0, attention_calls = 0;
  };
  void enable_profile(bool on) { profiling_ = on; }
  const OpProfile& profile() const { return profile_; }
  void reset_profile() { profile_ = {}; }

 private:
  const cpu::CpuKernels& kernels_;
  int num_threads_;
  bool quantize_int8_ = false;  // set_weight_quantization("w8a8_int8")
  bool profiling_ = false;
  OpProfile profile_;
};

}  // namespace sglang
