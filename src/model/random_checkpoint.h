#pragma once
// Random-weight checkpoints in Hugging Face layout (config.json + bf16 model.safetensors) for tests
// and benchmarks: real model shapes (`like`) or tiny ones with the real vocabulary. Values come
// from a counter-based RNG of our own keyed by (seed, tensor name, element index) and integer-exact
// arithmetic, so the files are bit-identical on every machine and independent of thread count.
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace sglang {

struct CheckpointSpec {
  std::string name;          // "qwen2.5-0.5b", "tiny-qwen2", ...
  std::string architecture;  // HF class name
  std::string model_type;
  int64_t hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  bool explicit_head_dim = false;  // write head_dim into config.json
  int64_t intermediate_size = 0, vocab_size = 0, max_position_embeddings = 0;
  double rms_norm_eps = 1e-6, rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;
  bool qk_norm = false;  // Qwen3's per-head q_norm / k_norm weights
  // Gemma 2 / 3 (sandwich norms, (1 + w) weights near 0) and Phi-3 (fused qkv / gate_up, longrope)
  double query_pre_attn_scalar = 0, attn_softcap = 0, final_softcap = 0;
  double rope_local_base_freq = 0, linear_rope_factor = 0;
  std::vector<std::string> layer_types;
  double partial_rotary_factor = 1.0;
  int64_t original_max_position_embeddings = 0;  // > 0 with longrope: its short/long factors
  int64_t sliding_window = 0;
  // llama3 rope scaling; factor 0 = none
  double llama3_factor = 0, llama3_low = 1, llama3_high = 4;
  int64_t llama3_original_max = 8192;
  int64_t bos_token_id = 0;
  std::vector<int64_t> eos_token_ids;
  int64_t num_labels = 0;  // > 0: a *ForSequenceClassification checkpoint (score head, no LM head)
  // Encoders (BertForSequenceClassification, XLMRobertaForSequenceClassification)
  int64_t type_vocab_size = 0;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  double ntk_factor = 0;  // NewModel (gte): rope_scaling {"type": "ntk", "factor": ...}; 0 none
  // Qwen2MoeForCausalLM's sparse MLP (num_experts > 0); layers in mlp_only_layers stay dense.
  int64_t num_experts = 0, num_experts_per_tok = 0, moe_intermediate_size = 0;
  int64_t shared_expert_intermediate_size = 0, decoder_sparse_step = 1;
  bool norm_topk_prob = false;
  std::vector<int64_t> mlp_only_layers;
};

// Names accepted by `--like` and `--tiny --arch`.
std::vector<std::string> known_checkpoint_shapes();
Result<CheckpointSpec> checkpoint_spec_like(const std::string& name);
// Tiny: hidden 64, 2 layers, the real vocabulary of the family ("qwen2", "llama", "mistral"), and
// "llama-reward": the tiny Llama as LlamaForSequenceClassification with one label (a reward model);
// cross-encoders with one label: "xlm-roberta-reranker" (bge-reranker-v2-m3's architecture and
// config, vocabulary 8002: the xlmr-format-unigram tokenizers) and "bert-reranker"
// (BertForSequenceClassification, the BERT uncased vocabulary of 30522).
// Embedding models (no head, sentence-transformers modules.json + 1_Pooling + Normalize): "bert"
// (BertModel, mean pooling, the BERT uncased vocabulary) and "xlm-roberta" (XLMRobertaModel, CLS
// pooling, vocabulary 8002).
// "qwen2-moe": Qwen2MoeForCausalLM, 3 layers (the middle one dense), 8 experts, top-2, a shared
// expert. "qwen3" / "qwen3-moe": Qwen3ForCausalLM / Qwen3MoeForCausalLM (the MoE one as qwen2-moe
// but renormalised top-k and no shared expert), vocabulary 4096.
// "gte": NewModel (Alibaba's GTE v1.5 layout: rotary with ntk scaling, packed qkv, GLU MLP,
// post-LN; gte-base-en-v1.5's BERT vocabulary of 30528, type_vocab_size 1), CLS pooling +
// Normalize modules.
// "gemma2-gguf", "gemma3-gguf", "qwen3-moe-gguf": those within what llama.cpp's GGUF metadata
// says (query_pre_attn_scalar = head_dim, its layer pattern, every MoE layer sparse), for the
// GGUF tests.
Result<CheckpointSpec> checkpoint_spec_tiny(const std::string& arch);

// Writes DIR/config.json and DIR/model.safetensors (created if missing).
Status write_random_checkpoint(const CheckpointSpec& spec, uint64_t seed, const std::string& dir);

// 64-bit FNV-1a of a file's bytes (for "bit-identical everywhere" checks).
Result<uint64_t> file_fingerprint(const std::string& path);

}  // namespace sglang
