#pragma once
// Bidirectional encoders with a sequence-classification head: the cross-encoders SGLang serves on
// /v1/rerank (python/sglang/srt/models/roberta.py and bert.py); and without one, the embedding
// models BertModel / XLMRobertaModel / RobertaModel (e.g. sentence-transformers'
// all-MiniLM-L6-v2), whose final hidden states are pooled as model/sentence_pooling.h says. One
// definition covers
//   XLMRobertaForSequenceClassification (bge-reranker-v2-m3) and RobertaForSequenceClassification:
//     positions counted from pad_token_id + 1, head = dense + tanh + out_proj on the <s> token;
//   BertForSequenceClassification: positions from 0, head = pooler (dense + tanh) + classifier on
//     [CLS].
// Both: word + position + token-type embeddings and a LayerNorm, then post-LN layers (attention
// with biases, GELU feed-forward). Attention is not causal, so a sequence must be whole in one
// forward: the engine gives encoders no prefix cache and no chunked prefill (ModelConfig::causal).
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/weight_store.h"

namespace sglang {

// config.json of an encoder (called by parse_model_config for the Bert / Roberta / XLMRoberta
// families), with transformers' defaults for absent fields.
Result<ModelConfig> parse_encoder_config(const nlohmann::json& j, const std::string& source);

class XlmRobertaModel final : public CausalLM {
 public:
  static Result<std::unique_ptr<XlmRobertaModel>> load(const ModelConfig& config,
                                                       const WeightStore& weights,
                                                       Backend& backend);

  const ModelConfig& config() const override { return config_; }
  Backend& backend() const override { return backend_; }
  KvCacheShape kv_cache_shape() const override {
    return {config_.num_hidden_layers, config_.num_key_value_heads, config_.head_dim};
  }
  // One row per sequence that asks for logits (LogitsMode::kLast; kAll is refused): the head's
  // num_labels scores of its first token, after the config's score activation, as SGLang's
  // CrossEncodingPooler; for an embedding model (Head::kEmbedding) the pooled sentence vector,
  // L2-normalised where config().pooling says so. Every sequence must start at position 0
  // (prefix_len 0).
  Result<Tensor> forward(const ModelInput& in, KvCache& kv) override;
  // The same rows before the head: the final hidden state of each sequence's first token (an
  // embedding model: the pooled vector before normalisation).
  Result<Tensor> forward_hidden(const ModelInput& in, KvCache& kv) override;
  Status check_batch(const ForwardBatch& batch) const override;

 private:
  struct Layer {
    Tensor qkv, qkv_bias;  // query, key, value stacked
    Tensor attn_out, attn_out_bias, attn_norm, attn_norm_bias;
    Tensor up, up_bias;      // intermediate.dense
    Tensor down, down_bias;  // output.dense
    Tensor out_norm, out_norm_bias;
  };
  // Activation buffers, grown to the largest batch seen and reused.
  struct Workspace {
    int64_t capacity = 0;
    Tensor hidden, sum, qkv, attn, proj, inter;
  };

  XlmRobertaModel(const ModelConfig& config, Backend& backend)
      : config_(config), backend_(backend) {}
  void ensure_workspace(int64_t tokens);
  // Position id of every token (RoBERTa: create_position_ids_from_input_ids, pads keep the
  // padding index and are not counted).
  std::vector<int32_t> position_ids(const ForwardBatch& batch) const;
  // The final hidden states of every token [num_tokens, hidden] (a view of the workspace).
  Result<Tensor> run_encoder(const ModelInput& in, KvCache& kv);
  // Rows of `hidden` at each sequence's first token, for the sequences that ask for an output.
  Tensor first_tokens(const ForwardBatch& batch, const Tensor& hidden);
  // The sentence vector of each such sequence (an embedding model).
  Tensor pool(const ForwardBatch& batch, const Tensor& hidden, const SentencePooling& pooling);

  ModelConfig config_;
  Backend& backend_;
  Activation hidden_act_ = Activation::kGelu;
  std::optional<Activation> score_act_;  // none: identity
  Tensor word_embeddings_, position_embeddings_, token_type_embeddings_;
  Tensor embed_norm_, embed_norm_bias_;
  std::vector<Layer> layers_;
  Tensor head_dense_, head_dense_bias_;  // RoBERTa classifier.dense / BERT pooler.dense
  Tensor head_out_, head_out_bias_;      // RoBERTa classifier.out_proj / BERT classifier
  Workspace ws_;
  std::vector<float> host_hidden_;  // pool()'s copy of the hidden states
};

}  // namespace sglang
