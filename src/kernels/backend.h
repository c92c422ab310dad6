#pragma once
// The Backend: every operation the models need, on memory the backend owns. Model code describes
// the computation in these ops and never reads or writes activation or KV-cache memory itself, so
// the same model runs on the CPU backend (kernels/cpu) and on a CUDA backend (device memory, one
// stream per backend; the ops are then asynchronous and synchronize()/copy_to_host() are the points
// that wait).
//
// Conventions: activations are float32, row-major [tokens, features], one row per token of the
// flattened batch. A 2-D tensor may be a column slice of a wider one (row_stride > cols); every op
// accepts such views for its inputs and outputs.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "util/dtype.h"

namespace sglang {

// Memory owned by a backend (host memory for the CPU backend, device memory for CUDA).
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual void* data() const = 0;
  virtual size_t nbytes() const = 0;
};

// How a tensor's bytes are laid out. Weights for `linear` are repacked by the backend into whatever
// suits its kernels; only the backend that made a packed tensor can read it.
enum class Layout : uint8_t { kRowMajor, kPackedMatmul };

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<DeviceBuffer> buffer, DType dtype, std::vector<int64_t> shape,
         Layout layout = Layout::kRowMajor);

  bool defined() const { return buffer_ != nullptr; }
  DType dtype() const { return dtype_; }
  Layout layout() const { return layout_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  int64_t numel() const;
  int64_t rows() const { return shape_.empty() ? 1 : shape_[0]; }
  int64_t cols() const;  // product of all dims but the first (numel for a 1-D tensor)
  // Elements between the starts of consecutive rows.
  int64_t row_stride() const { return row_stride_ ? row_stride_ : cols(); }
  bool contiguous() const { return row_stride() == cols(); }

  // Views sharing the buffer.
  Tensor rows_view(int64_t begin, int64_t end) const;  // rows [begin, end)
  Tensor cols_view(int64_t begin, int64_t end) const;  // columns [begin, end) of a 2-D tensor
  Tensor reshaped(std::vector<int64_t> shape) const;   // contiguous tensors only

  // For backends only: the address (host or device) of element 0.
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(buffer_->data()) + offset_bytes_);
  }

 private:
  std::shared_ptr<DeviceBuffer> buffer_;
  size_t offset_bytes_ = 0;
  DType dtype_ = DType::kF32;
  Layout layout_ = Layout::kRowMajor;
  std::vector<int64_t> shape_;
  int64_t row_stride_ = 0;  // 0: contiguous
};

// Where each new token of a batch stands, uploaded once per forward and shared by every layer.
// One entry per sequence in seq_info: {first row in the batch, number of new tokens, total KV
// length after this step (prefix + new), first entry in page_table}. A sequence's token at position
// p lives in KV slot page_table[start + p / page_size] * page_size + p % page_size.
struct AttentionMetadata {
  Tensor seq_info;      // int32 [num_seqs, 4]
  Tensor page_table;    // int32 [total pages]
  Tensor slot_mapping;  // int32 [num_tokens]: KV slot of each new token
  int64_t num_seqs = 0;
  int64_t num_tokens = 0;
  int64_t max_kv_len = 0;
  int64_t page_size = 1;
};

struct AttentionParams {
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  float scale = 1.0f;
  int64_t sliding_window = 0;  // 0: attend to the whole prefix
  // > 0: each score (q·k * scale) becomes softcap * tanh(score / softcap) before the softmax
  // (Gemma 2's attn_logit_softcapping).
  float softcap = 0.0f;
  // false: bidirectional (encoders): every new token attends to every key of its sequence, the
  // later ones too. Only meaningful when the sequence's tokens are all in this forward.
  bool causal = true;
};

// Element-wise functions for `activation`, named as transformers' ACT2FN / torch.nn.
enum class Activation : uint8_t {
  kGelu,      // "gelu": x * Phi(x), the exact (erf) form
  kGeluTanh,  // "gelu_new" / "gelu_pytorch_tanh": the tanh approximation
  kRelu,
  kTanh,
  kSigmoid,
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // --- memory ---
  virtual Tensor empty(DType dtype, std::vector<int64_t> shape) = 0;
  virtual Tensor zeros(DType dtype, std::vector<int64_t> shape) = 0;
  // Copies host data (contiguous, numel * dtype_size bytes) into a new tensor.
  virtual Tensor from_host(const void* data, DType dtype, std::vector<int64_t> shape) = 0;
  // dst and src contiguous; sizes match.
  virtual void copy_from_host(const Tensor& dst, const void* src) = 0;
  virtual void copy_to_host(const Tensor& src, void* dst) = 0;
  // Bytes the backend can still give to a KV cache (device memory, or host RAM for the CPU).
  virtual size_t available_memory_bytes() const = 0;

  // --- weights ---
  // A [N, K] weight for `linear`, stacked from row blocks (e.g. q, k, v → one qkv weight; gate, up
  // → one gate_up weight), each [n_i, K] in any of F32/F16/BF16, packed for the backend's kernels
  // and stored as `dtype` (F32, F16 or BF16; rounded to nearest even). Without one it keeps the
  // blocks' own dtype (bf16 stays bf16), float32 when they differ (exact for all).
  virtual Tensor load_matmul_weight(const std::vector<HostTensor>& row_blocks,
                                    std::optional<DType> dtype) = 0;
  Tensor load_matmul_weight(const std::vector<HostTensor>& row_blocks) {
    return load_matmul_weight(row_blocks, std::nullopt);
  }
  // SGLang's --quantization for float checkpoints: the float matmul weights loaded while a method
  // is set are quantized at load. "w8a8_int8": int8 weights with one scale per output channel,
  // the activations rounded to int8 at each product. "" clears it. A backend without quantized
  // kernels refuses every method.
  virtual Status set_weight_quantization(const std::string& method) {
    if (method.empty()) return Status();
    return make_error(
        ErrorCode::kUnsupported,
        "--quantization " + method + " is not supported on the " + name() + " backend");
  }
  // A 1-D float32 vector (norm weight, bias), concatenated from parts, converted from any float
  // dtype.
  virtual Tensor load_vector(const std::vector<HostTensor>& parts) = 0;

  // --- ops; shapes are [T, *] with T the rows of the flattened batch ---
  // out[t] = table[ids[t]]; table is a matmul weight [V, H] (so a tied LM head shares its memory).
  virtual void embedding(const Tensor& ids, const Tensor& table, const Tensor& out) = 0;
  // out = x / sqrt(mean(x^2) + eps) * weight. A weight narrower than the row (it must divide it)
  // normalises each weight-wide group of the row on its own: per-head norms (Qwen3's q_norm /
  // k_norm on [T, heads * head_dim]). x and out may be the same tensor.
  virtual void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) = 0;
  // residual += x; out = rms_norm(residual)   (fused, as SGLang's fused_add_rmsnorm)
  virtual void add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight,
                            float eps, const Tensor& out) = 0;
  // out[T, N] = x[T, K] · weight[N, K]^T (+ bias[N]); fp32 accumulation.
  virtual void linear(const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const Tensor& out) = 0;
  // cos_sin[T, head_dim]: cos of each position's angles in the first half, sin in the second.
  virtual void rope_cos_sin(const Tensor& positions, const Tensor& inv_freq,
                            const Tensor& cos_sin) = 0;
  // Rotates x[T, heads * head_dim] in place, rotate-half (GPT-NeoX) layout as HF Llama/Qwen2.
  // cos_sin may be narrower than head_dim (partial rotary, Phi-4-mini): then the first
  // cos_sin.cols() dimensions of each head rotate among themselves and the rest pass unchanged.
  virtual void apply_rope(const Tensor& x, const Tensor& cos_sin, int64_t head_dim) = 0;
  // Writes the new tokens' K and V rows into the cache slots named by meta.slot_mapping.
  virtual void store_kv(const Tensor& k, const Tensor& v, const AttentionMetadata& meta,
                        const Tensor& k_cache, const Tensor& v_cache) = 0;
  // Causal attention of each new token over its sequence's cached K/V (prefix and new tokens),
  // for any mix of prefill and decode sequences; bidirectional when params.causal is false.
  // q/out: [T, num_heads * head_dim].
  virtual void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                         const AttentionMetadata& meta, const AttentionParams& params,
                         const Tensor& out) = 0;
  // out = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias per row (torch.nn.LayerNorm: biased
  // variance); x and out may be the same tensor.
  virtual void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                          const Tensor& out) = 0;
  // out = f(x) element-wise; x and out may be the same tensor.
  virtual void activation(Activation f, const Tensor& x, const Tensor& out) = 0;
  // gate_up[T, 2I] (gate first, as SGLang's merged gate_up_proj) -> out[T, I] = silu(gate) * up
  virtual void silu_and_mul(const Tensor& gate_up, const Tensor& out) = 0;
  // gate_up[T, 2I] -> out[T, I] = f(gate) * up (GeGLU with kGeluTanh: Gemma's MLP).
  virtual void gated_activation(Activation f, const Tensor& gate_up, const Tensor& out) = 0;
  // out = x * factor (Gemma's embedding times sqrt(hidden_size)); x and out may be the same.
  virtual void scale(const Tensor& x, float factor, const Tensor& out) = 0;
  // out = tanh(x / cap) * cap, in that order as transformers (Gemma 2's final logit
  // soft-capping); x and out may be the same.
  virtual void soft_cap(const Tensor& x, float cap, const Tensor& out) = 0;
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out[r] = x[rows[r]]
  virtual void gather_rows(const Tensor& x, const Tensor& rows, const Tensor& out) = 0;

  // --- mixture of experts (transformers' Qwen2MoeSparseMoeBlock, SGLang's fused top-k) ---
  // Routing: per row of router_logits[T, E], the softmax in fp32, then the top_k = weights.cols()
  // largest probabilities in descending order, as torch.topk picks them (NaN above numbers; ties
  // resolved as its CPU kernel does), divided by their sum when `renormalize` (norm_topk_prob).
  // weights[T, k] float32, expert_ids[T, k] int32.
  virtual void moe_topk_softmax(const Tensor& router_logits, bool renormalize,
                                const Tensor& weights, const Tensor& expert_ids) = 0;
  // out[t] = sigmoid(gate[t, 0]) * x[t]: the shared expert scaled by its gate. out may be x.
  virtual void sigmoid_scale_rows(const Tensor& x, const Tensor& gate, const Tensor& out) = 0;
  // The experts' outputs back in token order: out[t] = (accumulate ? out[t] : 0) +
  // sum_j weights[t, j] * expert_rows[slots[t, j]], the terms added in ascending slot order (the
  // model lays the rows out by ascending expert id, so that is transformers' order).
  // slots[T, k] int32, weights[T, k] float32.
  virtual void moe_combine(const Tensor& expert_rows, const Tensor& slots, const Tensor& weights,
                           bool accumulate, const Tensor& out) = 0;
  // Waits for all queued work (no-op on the CPU).
  virtual void synchronize() = 0;
  // Called by a thread that will run this backend's operations from now on (the scheduler's, not
  // the one that built the backend): the CPU backend's thread count is a per-thread OpenMP
  // setting (omp_set_num_threads), which a new thread does not inherit.
  virtual void bind_calling_thread() {}
};

}  // namespace sglang
