#include "model/decoder_common.h"

#include <algorithm>

namespace sglang {

void DecoderWorkspace::ensure(Backend& be, const ModelConfig& c, int64_t tokens, bool local_rope) {
  if (tokens <= capacity) return;
  const int64_t cap = std::max<int64_t>(tokens, 2 * capacity);
  const int64_t rotary = c.rotary_dim > 0 ? c.rotary_dim : c.head_dim;
  capacity = cap;
  residual = be.empty(DType::kF32, {cap, c.hidden_size});
  hidden = be.empty(DType::kF32, {cap, c.hidden_size});
  qkv = be.empty(DType::kF32, {cap, c.q_size() + 2 * c.kv_size()});
  attn = be.empty(DType::kF32, {cap, c.q_size()});
  proj = be.empty(DType::kF32, {cap, c.hidden_size});
  gate_up = be.empty(DType::kF32, {cap, 2 * c.intermediate_size});
  act = be.empty(DType::kF32, {cap, c.intermediate_size});
  cos_sin = be.empty(DType::kF32, {cap, rotary});
  if (local_rope) cos_sin_local = be.empty(DType::kF32, {cap, rotary});
}

Result<EmbeddingAndHead> load_embedding_and_head(const ModelConfig& c, const WeightStore& w,
                                                 Backend& be) {
  EmbeddingAndHead out;
  SGLANG_ASSIGN_OR_RETURN(auto embed,
                          w.get("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  out.embed_tokens = be.load_matmul_weight({embed}, c.weight_dtype);
  if (c.head != Head::kLanguageModel) return out;  // a classification head is the model's own
  if (c.tie_word_embeddings) {
    out.lm_head = out.embed_tokens;
  } else {
    SGLANG_ASSIGN_OR_RETURN(auto head, w.get("lm_head.weight", {c.vocab_size, c.hidden_size}));
    out.lm_head = be.load_matmul_weight({head}, c.weight_dtype);
  }
  return out;
}

Tensor logit_rows(Backend& be, const ModelInput& in, const Tensor& hidden) {
  const auto R = static_cast<int64_t>(in.logit_rows.size());
  if (R == in.num_tokens) return hidden;
  Tensor selected = be.empty(DType::kF32, {R, hidden.cols()});
  if (R == 0) return selected;
  Tensor rows = be.from_host(in.logit_rows.data(), DType::kI32, {R});
  be.gather_rows(hidden, rows, selected);
  return selected;
}

}  // namespace sglang
