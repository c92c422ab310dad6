#pragma once
// What the decoder definitions (model/llama.h, model/gemma.h) share where their maths is the same:
// the activation workspace, the embedding / LM head weights and the last step from the final
// hidden states to the rows a batch asks logits for.
#include <cstdint>

#include "model/causal_lm.h"
#include "model/weight_store.h"

namespace sglang {

// Activation buffers of a decoder layer stack, grown to the largest batch seen and reused (no
// allocation per step). Views of the first `tokens` rows are taken per forward.
struct DecoderWorkspace {
  int64_t capacity = 0;
  Tensor residual, hidden, qkv, attn, proj, gate_up, act;
  Tensor cos_sin;        // [T, rotary dims]
  Tensor cos_sin_local;  // Gemma 3's local-base rotary of the sliding layers; else undefined

  // Room for `tokens` rows (at least double the last capacity when it grows).
  void ensure(Backend& be, const ModelConfig& c, int64_t tokens, bool local_rope = false);
};

// The embedding table, and for a language model its head: the embedding when tied, else
// lm_head.weight (outside the "model." scope in Hugging Face checkpoints). Other heads (a
// classification score) are left undefined for the model to load.
struct EmbeddingAndHead {
  Tensor embed_tokens, lm_head;
};
Result<EmbeddingAndHead> load_embedding_and_head(const ModelConfig& c, const WeightStore& w,
                                                 Backend& be);

// The rows of `hidden` [T, H] the batch asks logits for: `hidden` itself when that is every row.
Tensor logit_rows(Backend& be, const ModelInput& in, const Tensor& hidden);

}  // namespace sglang
