#pragma once
// Alibaba's GTE v1.5 encoders, the "NewModel" architecture of Alibaba-NLP/new-impl (trust remote
// code: gte-base-en-v1.5, gte-large-en-v1.5, gte-multilingual-base), served as embedding models.
// Its layer is not BERT's (model/xlm_roberta.h), so it has a file of its own:
//   - no position embeddings: rotary (rotate_half, base rope_theta) on q and k, with the config's
//     "ntk" rope_scaling (new-impl's NTKScalingRotaryEmbedding: base * factor and every frequency
//     divided by factor^(2 / head_dim), or the mixed_b form) applied at every length;
//   - q, k, v packed in one qkv_proj (pack_qkv), all with biases; o_proj with a bias;
//   - post-LN layers (attn_ln, mlp_ln), LayerNorm or RMSNorm (layer_norm_type);
//   - a GLU MLP: up_gate_proj (no bias) holds [up; gate], act(gate) * up, then down_proj (bias);
//   - word (+ token-type when type_vocab_size > 0) embeddings and a LayerNorm.
// Attention is bidirectional, each sequence whole in one forward (ModelConfig::causal false); the
// final hidden states are pooled as the folder's sentence-transformers modules declare (the
// published models: CLS), else CLS and normalised.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/weight_store.h"

namespace sglang {

// config.json of a NewModel, with new-impl's NewConfig defaults for absent fields.
Result<ModelConfig> parse_gte_config(const nlohmann::json& j, const std::string& source);

class GteModel final : public CausalLM {
 public:
  static Result<std::unique_ptr<GteModel>> load(const ModelConfig& config,
                                                const WeightStore& weights, Backend& backend);

  const ModelConfig& config() const override { return config_; }
  Backend& backend() const override { return backend_; }
  KvCacheShape kv_cache_shape() const override {
    return {config_.num_hidden_layers, config_.num_key_value_heads, config_.head_dim};
  }
  // One row per sequence that asks for an output (LogitsMode::kLast): the pooled sentence vector,
  // L2-normalised where config().pooling says so.
  Result<Tensor> forward(const ModelInput& in, KvCache& kv) override;
  // The pooled vector before normalisation.
  Result<Tensor> forward_hidden(const ModelInput& in, KvCache& kv) override;
  Status check_batch(const ForwardBatch& batch) const override;

 private:
  struct Layer {
    Tensor qkv, qkv_bias;  // q, k, v stacked
    Tensor o, o_bias;
    Tensor attn_norm, attn_norm_bias;  // bias undefined for RMSNorm
    Tensor gate_up;                    // up_gate_proj's rows reordered to [gate; up]
    Tensor down, down_bias;
    Tensor mlp_norm, mlp_norm_bias;
  };
  struct Workspace {
    int64_t capacity = 0;
    Tensor hidden, sum, qkv, attn, proj, gate_up, act, cos_sin;
  };

  GteModel(const ModelConfig& config, Backend& backend) : config_(config), backend_(backend) {}
  void ensure_workspace(int64_t tokens);
  void norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& out);
  // The final hidden states of every token [num_tokens, hidden] (a view of the workspace).
  Result<Tensor> run_encoder(const ModelInput& in, KvCache& kv);
  Tensor pool(const ForwardBatch& batch, const Tensor& hidden, const SentencePooling& pooling);

  ModelConfig config_;
  Backend& backend_;
  Activation act_ = Activation::kGelu;
  Tensor word_embeddings_, token_type_embeddings_;
  Tensor embed_norm_, embed_norm_bias_;
  std::vector<Layer> layers_;
  Tensor inv_freq_;
  Workspace ws_;
  std::vector<float> host_hidden_;
};

}  // namespace sglang
