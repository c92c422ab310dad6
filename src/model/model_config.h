#pragma once
// config.json -> ModelConfig: the typed description of a decoder-only model that the model code,
// the KV cache and the server read. Field names follow Hugging Face's config classes.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/sentence_pooling.h"
#include "util/dtype.h"
#include "util/status.h"

namespace sglang {

enum class Architecture {
  kLlama,
  kQwen2,
  kMistral,
  kQwen2Moe,
  kQwen3,
  kQwen3Moe,
  kGemma2,  // model/gemma.h
  kGemma3,  // Gemma3ForCausalLM: the text model
  kPhi3,
  // Bidirectional encoders (model/xlm_roberta.h): BERT, RoBERTa, XLM-RoBERTa.
  kBert,
  kRoberta,
  kXlmRoberta,
  kGte,  // NewModel (Alibaba's GTE v1.5: rotary, GLU, post-LN): model/gte.h
};

// Rotary embedding variants, as transformers' ROPE_INIT_FUNCTIONS.
struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3, kLongRope };
  Type type = Type::kNone;
  double factor = 1.0;
  // llama3 only
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  // longrope (Phi-3): one divisor per frequency, the long ones once a forward reaches past
  // original_max_position_embeddings; cos and sin are multiplied by attention_factor.
  std::vector<double> short_factor, long_factor;
  double attention_factor = 1.0;
};

// What sits on top of the decoder: the LM head (next-token logits) or, for
// *ForSequenceClassification (reward models, SGLang's /classify), a score head of num_labels
// outputs read at the last token.
// An encoder embedding model (BertModel, XLMRobertaModel, RobertaModel) has no head: kEmbedding,
// its forward() gives the pooled sentence vector (ModelConfig::pooling).
enum class Head { kLanguageModel, kSequenceClassification, kEmbedding };

// The sparse mixture-of-experts MLP of Qwen2MoeForCausalLM (transformers' Qwen2MoeConfig fields and
// defaults). num_experts == 0: a dense model.
struct MoeConfig {
  int64_t num_experts = 0;
  int64_t num_experts_per_tok = 0;  // top-k
  int64_t moe_intermediate_size = 0;
  int64_t shared_expert_intermediate_size = 0;  // 0: no shared expert
  bool norm_topk_prob = false;                  // renormalise the top-k probabilities to sum 1
  int64_t decoder_sparse_step = 1;              // layer i is sparse when (i + 1) % step == 0 ...
  std::vector<int64_t> mlp_only_layers;         // ... and i is not listed here (dense MLP there)
};

struct ModelConfig {
  std::string architecture_name;  // "Qwen2ForCausalLM", as in config.json
  Architecture architecture = Architecture::kLlama;
  Head head = Head::kLanguageModel;
  int64_t num_labels = 0;  // score head outputs (kSequenceClassification)
  std::string model_type;  // "qwen2", "llama", "mistral"
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on q/k/v projections (always true for Qwen2)
  bool o_proj_bias = false;     // Llama's attention_bias also puts a bias on o_proj
  bool mlp_bias = false;
  int64_t sliding_window = 0;  // 0: full attention
  bool qk_norm = false;        // per-head RMSNorm of q and k before the rotary (Qwen3, Gemma 3)
  // Rotated dimensions of each head (partial_rotary_factor * head_dim, Phi-4-mini); the rest pass.
  int64_t rotary_dim = 0;
  // Per layer "sliding_attention" or "full_attention" (transformers' layer_types); empty: every
  // layer is sliding_window's.
  std::vector<std::string> layer_types;
  // Gemma: attention scale query_pre_attn_scalar^-0.5 (0: head_dim^-0.5); tanh soft-capping of
  // the attention scores and of the final logits (0: none); the sliding layers' rope base (Gemma
  // 3's rope_local_base_freq; 0: rope_theta).
  double query_pre_attn_scalar = 0;
  double attn_logit_softcapping = 0;
  double final_logit_softcapping = 0;
  double rope_local_base_freq = 0;
  std::vector<int64_t> bos_token_ids;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype = "float32";
  // The dtype matmul weights are served in (--dtype; set by load_causal_lm, not config.json).
  // Unset ("auto"): each checkpoint tensor keeps its own (a quantized GGUF tensor: bfloat16).
  std::optional<DType> weight_dtype;
  MoeConfig moe;

  // Encoders (architecture kBert / kRoberta / kXlmRoberta; model/xlm_roberta.cpp parses these).
  bool causal = true;  // false: bidirectional attention, whole sequences only (no prefix reuse)
  double layer_norm_eps = 1e-12;
  int64_t type_vocab_size = 0;
  int64_t pad_token_id = -1;
  int64_t position_offset = 0;  // RoBERTa: position ids start at pad_token_id + 1
  std::string hidden_act = "silu";
  // What SGLang's CrossEncodingPooler applies to the score head's outputs: "identity"
  // (bge-reranker: raw logits), or config.json's sbert_ce_default_activation_function ("sigmoid",
  // "tanh", ...).
  std::string score_activation = "identity";
  // Head::kEmbedding: how the final hidden states become the sentence vector (the folder's
  // modules.json, else SGLang's default for the architecture; load_model_config reads it).
  SentencePooling pooling;
  // NewModel (model/gte.h): "layer_norm" or "rms_norm" for the layers' norms; rope_scaling "ntk"
  // factor (0: none) and mixed_b (0: the fixed form).
  std::string layer_norm_type = "layer_norm";
  double ntk_factor = 0, ntk_mixed_b = 0;

  // A sequence-pair scorer (SGLang's /v1/rerank): an encoder with a classification head.
  bool is_cross_encoder() const { return !causal && head == Head::kSequenceClassification; }

  int64_t q_size() const { return num_attention_heads * head_dim; }
  bool is_moe() const { return moe.num_experts > 0; }
  // Whether decoder layer `layer` has the sparse MoE block (else the dense MLP of
  // intermediate_size), as transformers' Qwen2MoeDecoderLayer decides.
  bool is_sparse_layer(int64_t layer) const;
  int64_t kv_size() const { return num_key_value_heads * head_dim; }
  // The window decoder layer `layer` attends within (0: the whole prefix).
  int64_t layer_sliding_window(int64_t layer) const {
    if (layer_types.empty()) return sliding_window;
    return layer_types.at(static_cast<size_t>(layer)) == "sliding_attention" ? sliding_window : 0;
  }
};

// Parses the text of a config.json; `source` names the file in error messages. The architecture
// must be one of model/model_registry.h's table.
Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source);
// The decoder families' config.json (the registry's parser for them), with transformers' defaults
// of `architecture`'s config class.
Result<ModelConfig> parse_decoder_config(const nlohmann::json& j, const std::string& source,
                                         Architecture architecture, Head head);
// Reads DIR/config.json, or the metadata of a GGUF model path (model/gguf_model.h).
Result<ModelConfig> load_model_config(const std::string& model_dir);

}  // namespace sglang
