#include "model/llama.h"

#include <cmath>

#include "model/rope.h"
#include "model/xlm_roberta.h"

namespace sglang {

Result<std::unique_ptr<LlamaModel>> LlamaModel::load(const ModelConfig& c, const WeightStore& w,
                                                     Backend& backend) {
  auto m = std::unique_ptr<LlamaModel>(new LlamaModel(c, backend));
  const int64_t h = c.hidden_size, q = c.q_size(), kv = c.kv_size(), inter = c.intermediate_size;

  SGLANG_ASSIGN_OR_RETURN(auto embed, w.get("model.embed_tokens.weight", {c.vocab_size, h}));
  m->embed_tokens_ = backend.load_matmul_weight({embed}, c.weight_dtype);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer l;
    SGLANG_ASSIGN_OR_RETURN(auto in_norm, w.get(p + "input_layernorm.weight", {h}));
    SGLANG_ASSIGN_OR_RETURN(auto post_norm, w.get(p + "post_attention_layernorm.weight", {h}));
    SGLANG_ASSIGN_OR_RETURN(auto wq, w.get(p + "self_attn.q_proj.weight", {q, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wk, w.get(p + "self_attn.k_proj.weight", {kv, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wv, w.get(p + "self_attn.v_proj.weight", {kv, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wo, w.get(p + "self_attn.o_proj.weight", {h, q}));
    l.input_norm = backend.load_vector({in_norm});
    l.post_attention_norm = backend.load_vector({post_norm});
    l.qkv = backend.load_matmul_weight({wq, wk, wv}, c.weight_dtype);
    l.o = backend.load_matmul_weight({wo}, c.weight_dtype);
    if (c.is_sparse_layer(i)) {
      SGLANG_ASSIGN_OR_RETURN(l.moe, SparseMoeBlock::load(c, w, p + "mlp.", backend));
    } else {
      SGLANG_ASSIGN_OR_RETURN(auto wg, w.get(p + "mlp.gate_proj.weight", {inter, h}));
      SGLANG_ASSIGN_OR_RETURN(auto wu, w.get(p + "mlp.up_proj.weight", {inter, h}));
      SGLANG_ASSIGN_OR_RETURN(auto wd, w.get(p + "mlp.down_proj.weight", {h, inter}));
      l.gate_up = backend.load_matmul_weight({wg, wu}, c.weight_dtype);
      l.down = backend.load_matmul_weight({wd}, c.weight_dtype);
    }
    if (c.attention_bias) {
      SGLANG_ASSIGN_OR_RETURN(auto bq, w.get(p + "self_attn.q_proj.bias", {q}));
      SGLANG_ASSIGN_OR_RETURN(auto bk, w.get(p + "self_attn.k_proj.bias", {kv}));
      SGLANG_ASSIGN_OR_RETURN(auto bv, w.get(p + "self_attn.v_proj.bias", {kv}));
      l.qkv_bias = backend.load_vector({bq, bk, bv});
    }
    if (c.o_proj_bias) {
      SGLANG_ASSIGN_OR_RETURN(auto bo, w.get(p + "self_attn.o_proj.bias", {h}));
      l.o_bias = backend.load_vector({bo});
    }
    if (c.mlp_bias && !l.moe) {
      SGLANG_ASSIGN_OR_RETURN(auto bg, w.get(p + "mlp.gate_proj.bias", {inter}));
      SGLANG_ASSIGN_OR_RETURN(auto bu, w.get(p + "mlp.up_proj.bias", {inter}));
      SGLANG_ASSIGN_OR_RETURN(auto bd, w.get(p + "mlp.down_proj.bias", {h}));
      l.gate_up_bias = backend.load_vector({bg, bu});
      l.down_bias = backend.load_vector({bd});
    }
    m->layers_.push_back(std::move(l));
  }
  SGLANG_ASSIGN_OR_RETURN(auto norm, w.get("model.norm.weight", {h}));
  m->final_norm_ = backend.load_vector({norm});
  if (c.head == Head::kSequenceClassification) {
    // LlamaForSequenceClassification: score = Linear(hidden, num_labels, bias=False).
    SGLANG_ASSIGN_OR_RETURN(auto score, w.get("score.weight", {c.num_labels, h}));
    m->lm_head_ = backend.load_matmul_weight({score}, c.weight_dtype);
  } else if (c.tie_word_embeddings) {
    m->lm_head_ = m->embed_tokens_;
  } else {
    // lm_head sits outside the "model." scope in HF checkpoints.
    SGLANG_ASSIGN_OR_RETURN(auto head, w.get("lm_head.weight", {c.vocab_size, h}));
    m->lm_head_ = backend.load_matmul_weight({head}, c.weight_dtype);
  }
  std::vector<float> inv_freq = rope_inv_freq(c);
  // A Llama 3 GGUF file carries its rope scaling as one divisor per frequency (llama.cpp's
  // rope_freqs tensor) instead of config fields.
  if (w.contains("rope_freqs.weight")) {
    const int64_t n = static_cast<int64_t>(inv_freq.size());
    SGLANG_ASSIGN_OR_RETURN(auto factors, w.get("rope_freqs.weight", {n}));
    if (factors.dtype != DType::kF32) {
      return make_error(ErrorCode::kUnsupported, "rope_freqs.weight must be F32");
    }
    const auto* f = static_cast<const float*>(factors.data);
    for (int64_t i = 0; i < n; ++i) inv_freq[i] /= f[i];
  }
  m->inv_freq_ =
      backend.from_host(inv_freq.data(), DType::kF32, {static_cast<int64_t>(inv_freq.size())});
  return m;
}

void LlamaModel::ensure_workspace(int64_t tokens) {
  if (tokens <= ws_.capacity) return;
  const ModelConfig& c = config_;
  const int64_t cap = std::max<int64_t>(tokens, 2 * ws_.capacity);
  ws_.capacity = cap;
  ws_.residual = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.hidden = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.qkv = backend_.empty(DType::kF32, {cap, c.q_size() + 2 * c.kv_size()});
  ws_.attn = backend_.empty(DType::kF32, {cap, c.q_size()});
  ws_.proj = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.gate_up = backend_.empty(DType::kF32, {cap, 2 * c.intermediate_size});
  ws_.act = backend_.empty(DType::kF32, {cap, c.intermediate_size});
  ws_.cos_sin = backend_.empty(DType::kF32, {cap, c.head_dim});
}

Status LlamaModel::validate(const ForwardBatch& batch, const KvCache& kv) const {
  if (batch.seqs.empty() || batch.token_ids.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "empty forward batch");
  }
  for (int32_t id : batch.token_ids) {
    if (id < 0 || id >= config_.vocab_size) {
      return make_error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                         " is out of range for vocab size " +
                                                         std::to_string(config_.vocab_size));
    }
  }
  int64_t next_token = 0;
  for (const auto& s : batch.seqs) {
    if (s.num_new_tokens <= 0 || s.first_token != next_token || s.prefix_len < 0) {
      return make_error(ErrorCode::kInvalidArgument, "malformed forward batch sequence");
    }
    next_token += s.num_new_tokens;
    const int64_t total = s.prefix_len + s.num_new_tokens;
    if (s.num_pages * kv.page_size() < total ||
        s.page_table_begin + s.num_pages > static_cast<int64_t>(batch.page_table.size())) {
      return make_error(ErrorCode::kInvalidArgument, "sequence pages do not cover its tokens");
    }
    for (int64_t i = 0; i < s.num_pages; ++i) {
      const int32_t page = batch.page_table[static_cast<size_t>(s.page_table_begin + i)];
      if (page < 0 || page >= kv.num_pages()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "page id " + std::to_string(page) + " out of range");
      }
    }
  }
  if (next_token != batch.num_tokens()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "forward batch tokens do not match its sequences");
  }
  return {};
}

Result<Tensor> LlamaModel::forward(const ForwardBatch& batch, KvCache& kv) {
  SGLANG_ASSIGN_OR_RETURN(Tensor selected, run_decoder(batch, kv));
  const int64_t R = batch.num_logit_rows();
  Tensor logits = backend_.empty(DType::kF32, {R, output_width()});
  if (R == 0) return logits;
  backend_.linear(selected, lm_head_, nullptr, logits);
  return logits;
}

Result<Tensor> LlamaModel::forward_hidden(const ForwardBatch& batch, KvCache& kv) {
  return run_decoder(batch, kv);
}

Result<Tensor> LlamaModel::run_decoder(const ForwardBatch& batch, KvCache& kv) {
  SGLANG_RETURN_IF_ERROR(validate(batch, kv));
  const ModelConfig& c = config_;
  Backend& be = backend_;
  const int64_t T = batch.num_tokens();
  const int64_t page_size = kv.page_size();

  // Per-token and per-sequence metadata, built on the host and uploaded once.
  std::vector<int32_t> positions(static_cast<size_t>(T)), slots(static_cast<size_t>(T));
  std::vector<int32_t> seq_info;
  std::vector<int32_t> logit_rows;
  int64_t max_kv_len = 0;
  for (const auto& s : batch.seqs) {
    const int32_t* pages = batch.page_table.data() + s.page_table_begin;
    for (int64_t j = 0; j < s.num_new_tokens; ++j) {
      const int64_t pos = s.prefix_len + j;
      positions[static_cast<size_t>(s.first_token + j)] = static_cast<int32_t>(pos);
      slots[static_cast<size_t>(s.first_token + j)] =
          static_cast<int32_t>(pages[pos / page_size] * page_size + pos % page_size);
    }
    const int64_t kv_len = s.prefix_len + s.num_new_tokens;
    max_kv_len = std::max(max_kv_len, kv_len);
    seq_info.insert(seq_info.end(),
                    {static_cast<int32_t>(s.first_token), static_cast<int32_t>(s.num_new_tokens),
                     static_cast<int32_t>(kv_len), static_cast<int32_t>(s.page_table_begin)});
    if (s.logits == LogitsMode::kAll) {
      for (int64_t j = 0; j < s.num_new_tokens; ++j)
        logit_rows.push_back(static_cast<int32_t>(s.first_token + j));
    } else if (s.logits == LogitsMode::kLast) {
      logit_rows.push_back(static_cast<int32_t>(s.first_token + s.num_new_tokens - 1));
    }
  }
  const int64_t num_seqs = static_cast<int64_t>(batch.seqs.size());
  Tensor ids = be.from_host(batch.token_ids.data(), DType::kI32, {T});
  Tensor pos_t = be.from_host(positions.data(), DType::kI32, {T});
  AttentionMetadata meta;
  meta.seq_info = be.from_host(seq_info.data(), DType::kI32, {num_seqs, 4});
  meta.page_table =
      be.from_host(batch.page_table.data(), DType::kI32,
                   {std::max<int64_t>(1, static_cast<int64_t>(batch.page_table.size()))});
  meta.slot_mapping = be.from_host(slots.data(), DType::kI32, {T});
  meta.num_seqs = num_seqs;
  meta.num_tokens = T;
  meta.max_kv_len = max_kv_len;
  meta.page_size = page_size;

  AttentionParams ap;
  ap.num_heads = c.num_attention_heads;
  ap.num_kv_heads = c.num_key_value_heads;
  ap.head_dim = c.head_dim;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  ap.sliding_window = c.sliding_window;

  ensure_workspace(T);
  const Tensor residual = ws_.residual.rows_view(0, T);
  const Tensor hidden = ws_.hidden.rows_view(0, T);
  const Tensor qkv = ws_.qkv.rows_view(0, T);
  const Tensor q = qkv.cols_view(0, c.q_size());
  const Tensor k = qkv.cols_view(c.q_size(), c.q_size() + c.kv_size());
  const Tensor v = qkv.cols_view(c.q_size() + c.kv_size(), c.q_size() + 2 * c.kv_size());
  const Tensor attn = ws_.attn.rows_view(0, T);
  const Tensor proj = ws_.proj.rows_view(0, T);
  const Tensor gate_up = ws_.gate_up.rows_view(0, T);
  const Tensor act = ws_.act.rows_view(0, T);
  const Tensor cos_sin = ws_.cos_sin.rows_view(0, T);

  // The routing observer sees the forward from begin to end (a forward that throws never ends;
  // the next begin discards its partial pass).
  ExpertRoutingObserver* observer = c.is_moe() ? routing_observer_ : nullptr;
  if (observer) observer->on_forward_begin(batch);
  if (c.is_moe()) moe_ws_.ensure(be, c, T);

  be.embedding(ids, embed_tokens_, residual);
  be.rope_cos_sin(pos_t, inv_freq_, cos_sin);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const float eps = static_cast<float>(c.rms_norm_eps);
    // The previous layer's MLP output joins the residual stream here (fused with the norm).
    if (i == 0) {
      be.rms_norm(residual, l.input_norm, eps, hidden);
    } else {
      be.add_rms_norm(residual, proj, l.input_norm, eps, hidden);
    }
    be.linear(hidden, l.qkv, l.qkv_bias.defined() ? &l.qkv_bias : nullptr, qkv);
    be.apply_rope(q, cos_sin, c.head_dim);
    be.apply_rope(k, cos_sin, c.head_dim);
    be.store_kv(k, v, meta, kv.k(static_cast<int64_t>(i)), kv.v(static_cast<int64_t>(i)));
    be.attention(q, kv.k(static_cast<int64_t>(i)), kv.v(static_cast<int64_t>(i)), meta, ap, attn);
    be.linear(attn, l.o, l.o_bias.defined() ? &l.o_bias : nullptr, proj);
    be.add_rms_norm(residual, proj, l.post_attention_norm, eps, hidden);
    if (l.moe) {
      l.moe->forward(be, hidden, proj, moe_ws_, observer, static_cast<int64_t>(i));
    } else {
      be.linear(hidden, l.gate_up, l.gate_up_bias.defined() ? &l.gate_up_bias : nullptr, gate_up);
      be.silu_and_mul(gate_up, act);
      be.linear(act, l.down, l.down_bias.defined() ? &l.down_bias : nullptr, proj);
    }
  }
  be.add_rms_norm(residual, proj, final_norm_, static_cast<float>(c.rms_norm_eps), hidden);
  if (observer) observer->on_forward_end();

  const int64_t R = static_cast<int64_t>(logit_rows.size());
  if (R == T) return hidden;
  Tensor selected = be.empty(DType::kF32, {R, c.hidden_size});
  if (R == 0) return selected;
  Tensor rows = be.from_host(logit_rows.data(), DType::kI32, {R});
  be.gather_rows(hidden, rows, selected);
  return selected;
}

Result<std::unique_ptr<CausalLM>> load_causal_lm(const std::string& model_path, Backend& backend,
                                                 const LoadOptions& options) {
  SGLANG_ASSIGN_OR_RETURN(ModelConfig config, load_model_config(model_path));
  config.weight_dtype = options.weight_dtype;
  // auto keeps quantized GGUF tensors in their blocks (the backend multiplies them as they are);
  // a float dtype dequantizes, straight to bfloat16 or else via float32.
  std::optional<DType> dequantized;
  if (options.weight_dtype) {
    dequantized = *options.weight_dtype == DType::kBF16 ? DType::kBF16 : DType::kF32;
  }
  SGLANG_ASSIGN_OR_RETURN(auto weights, WeightStore::open(model_path, dequantized));
  if (options.progress) weights->on_progress(options.progress);
  if (!config.causal) {
    SGLANG_ASSIGN_OR_RETURN(auto encoder, XlmRobertaModel::load(config, *weights, backend));
    return std::unique_ptr<CausalLM>(std::move(encoder));
  }
  SGLANG_ASSIGN_OR_RETURN(auto model, LlamaModel::load(config, *weights, backend));
  return std::unique_ptr<CausalLM>(std::move(model));
}

Result<std::optional<DType>> parse_weight_dtype(const std::string& name) {
  if (name == "auto") return std::optional<DType>();
  if (name == "half" || name == "float16") return std::optional<DType>(DType::kF16);
  if (name == "bfloat16") return std::optional<DType>(DType::kBF16);
  if (name == "float" || name == "float32") return std::optional<DType>(DType::kF32);
  return make_error(
      ErrorCode::kInvalidArgument,
      "--dtype " + name + " is not supported (auto, half, float16, bfloat16, float, float32)");
}

}  // namespace sglang
