#pragma once
// Gemma 2 and Gemma 3 (text) decoders: Gemma2ForCausalLM and Gemma3ForCausalLM, as transformers'
// modeling_gemma2.py / modeling_gemma3.py and SGLang's models/gemma2.py / gemma3_causal.py. Their
// layer is not Llama's, so they have a file of their own:
//   - RMSNorm weights are offsets: the norm multiplies by (1 + w) (folded into the weight at load);
//   - sandwich norms: the attention and the MLP outputs are each normed again before they join the
//     residual stream (post_attention_layernorm, pre/post_feedforward_layernorm);
//   - the embedding is scaled by sqrt(hidden_size); the MLP is GeGLU with the tanh GELU;
//   - attention scale query_pre_attn_scalar^-0.5; layers alternate sliding and full attention
//     (layer_types);
//   - Gemma 2: tanh soft-capping of the attention scores and of the final logits;
//   - Gemma 3: per-head q/k norms, and the sliding layers' rotary uses rope_local_base_freq
//     (unscaled) while the full layers use rope_theta with the config's rope scaling.
#include <memory>
#include <vector>

#include "model/causal_lm.h"
#include "model/decoder_common.h"
#include "model/weight_store.h"

namespace sglang {

class GemmaModel final : public CausalLM {
 public:
  static Result<std::unique_ptr<GemmaModel>> load(const ModelConfig& config,
                                                  const WeightStore& weights, Backend& backend);

  const ModelConfig& config() const override { return config_; }
  Backend& backend() const override { return backend_; }
  KvCacheShape kv_cache_shape() const override {
    return {config_.num_hidden_layers, config_.num_key_value_heads, config_.head_dim};
  }
  Result<Tensor> forward(const ModelInput& in, KvCache& kv) override;
  Result<Tensor> forward_hidden(const ModelInput& in, KvCache& kv) override;

 private:
  struct Layer {
    Tensor input_norm, post_attention_norm, pre_feedforward_norm, post_feedforward_norm;
    Tensor qkv;             // q, k, v stacked
    Tensor q_norm, k_norm;  // Gemma 3 per-head norms [head_dim]; else undefined
    Tensor o;
    Tensor gate_up;  // gate, up stacked
    Tensor down;
    bool sliding = false;
  };
  GemmaModel(const ModelConfig& config, Backend& backend) : config_(config), backend_(backend) {}
  Result<Tensor> run_decoder(const ModelInput& in, KvCache& kv);

  ModelConfig config_;
  Backend& backend_;
  Activation act_ = Activation::kGeluTanh;
  Tensor embed_tokens_;
  std::vector<Layer> layers_;
  Tensor final_norm_;
  Tensor lm_head_;  // the embedding when tied
  Tensor inv_freq_, inv_freq_local_;
  DecoderWorkspace ws_;  // shared with model/llama.h
};

}  // namespace sglang
