#pragma once
// Llama-family decoder: LlamaForCausalLM (incl. Llama 3.1 rope scaling), Qwen2ForCausalLM (q/k/v
// bias, tied embeddings), MistralForCausalLM (sliding window), Qwen2MoeForCausalLM (Qwen2's
// attention; per layer either the dense MLP or the sparse MoE block, sparse_moe_block.h),
// Qwen3ForCausalLM (per-head q/k RMSNorm, no q/k/v bias), Qwen3MoeForCausalLM (Qwen3's
// attention, the MoE block without a shared expert) and Phi3ForCausalLM (fused qkv_proj and
// gate_up_proj, longrope, partial rotary) share this one definition.
#include <memory>
#include <vector>

#include "model/causal_lm.h"
#include "model/decoder_common.h"
#include "model/sparse_moe_block.h"
#include "model/weight_store.h"

namespace sglang {

class LlamaModel final : public CausalLM {
 public:
  static Result<std::unique_ptr<LlamaModel>> load(const ModelConfig& config,
                                                  const WeightStore& weights, Backend& backend);

  const ModelConfig& config() const override { return config_; }
  Backend& backend() const override { return backend_; }
  KvCacheShape kv_cache_shape() const override {
    return {config_.num_hidden_layers, config_.num_key_value_heads, config_.head_dim};
  }
  Result<Tensor> forward(const ModelInput& in, KvCache& kv) override;
  Result<Tensor> forward_hidden(const ModelInput& in, KvCache& kv) override;
  void set_expert_routing_observer(ExpertRoutingObserver* observer) override {
    routing_observer_ = observer;
  }

 private:
  struct Layer {
    Tensor input_norm, post_attention_norm;
    Tensor qkv, qkv_bias;   // q, k, v stacked
    Tensor q_norm, k_norm;  // per-head RMSNorm weights [head_dim] (Qwen3); else undefined
    Tensor o, o_bias;
    Tensor gate_up, gate_up_bias;  // gate, up stacked
    Tensor down, down_bias;
    std::unique_ptr<SparseMoeBlock> moe;  // set: this layer's MLP is the sparse MoE block
  };
  LlamaModel(const ModelConfig& config, Backend& backend) : config_(config), backend_(backend) {}
  // The decoder: returns the final-normed hidden states of the rows the batch asks logits for.
  Result<Tensor> run_decoder(const ModelInput& in, KvCache& kv);
  // Phi-3's longrope: cos_sin[T, rotary_dim] with each sequence's short or long factors.
  void rope_cos_sin_longrope(const ModelInput& in, const Tensor& cos_sin);

  ModelConfig config_;
  Backend& backend_;
  Tensor embed_tokens_;
  std::vector<Layer> layers_;
  Tensor final_norm_;
  Tensor lm_head_;  // the embedding when tied; the score head of a classification model
  Tensor inv_freq_;
  Tensor long_inv_freq_;  // longrope's long factors (Phi-3); else undefined
  DecoderWorkspace ws_;
  MoeWorkspace moe_ws_;
  ExpertRoutingObserver* routing_observer_ = nullptr;
};

}  // namespace sglang
