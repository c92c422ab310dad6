#include "model/gemma.h"

#include <cmath>

#include "model/rope.h"

namespace sglang {
namespace {

// A Gemma RMSNorm weight: the checkpoint holds w, the norm multiplies by (1 + w) in float32
// (transformers' Gemma2RMSNorm: output * (1.0 + self.weight.float())), so the backend's plain
// RMSNorm gets 1 + w.
Tensor load_offset_norm(Backend& be, const HostTensor& w) {
  Tensor t = be.load_vector({w});
  std::vector<float> host(static_cast<size_t>(t.numel()));
  be.copy_to_host(t, host.data());
  for (float& v : host) v = 1.0f + v;
  return be.from_host(host.data(), DType::kF32, {t.numel()});
}

}  // namespace

Result<std::unique_ptr<GemmaModel>> GemmaModel::load(const ModelConfig& c, const WeightStore& w,
                                                     Backend& backend) {
  auto m = std::unique_ptr<GemmaModel>(new GemmaModel(c, backend));
  const int64_t h = c.hidden_size, q = c.q_size(), kv = c.kv_size(), inter = c.intermediate_size;
  if (c.attention_bias) {
    return make_error(ErrorCode::kUnsupported, "Gemma with attention_bias is not supported");
  }
  m->act_ = c.hidden_act == "gelu" ? Activation::kGelu : Activation::kGeluTanh;

  SGLANG_ASSIGN_OR_RETURN(EmbeddingAndHead eh, load_embedding_and_head(c, w, backend));
  m->embed_tokens_ = eh.embed_tokens;
  m->lm_head_ = eh.lm_head;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer l;
    auto norm = [&](const std::string& name, int64_t n) -> Result<Tensor> {
      SGLANG_ASSIGN_OR_RETURN(auto t, w.get(p + name, {n}));
      return load_offset_norm(backend, t);
    };
    SGLANG_ASSIGN_OR_RETURN(l.input_norm, norm("input_layernorm.weight", h));
    SGLANG_ASSIGN_OR_RETURN(l.post_attention_norm, norm("post_attention_layernorm.weight", h));
    SGLANG_ASSIGN_OR_RETURN(l.pre_feedforward_norm, norm("pre_feedforward_layernorm.weight", h));
    SGLANG_ASSIGN_OR_RETURN(l.post_feedforward_norm, norm("post_feedforward_layernorm.weight", h));
    SGLANG_ASSIGN_OR_RETURN(auto wq, w.get(p + "self_attn.q_proj.weight", {q, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wk, w.get(p + "self_attn.k_proj.weight", {kv, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wv, w.get(p + "self_attn.v_proj.weight", {kv, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wo, w.get(p + "self_attn.o_proj.weight", {h, q}));
    l.qkv = backend.load_matmul_weight({wq, wk, wv}, c.weight_dtype);
    l.o = backend.load_matmul_weight({wo}, c.weight_dtype);
    if (c.qk_norm) {
      SGLANG_ASSIGN_OR_RETURN(l.q_norm, norm("self_attn.q_norm.weight", c.head_dim));
      SGLANG_ASSIGN_OR_RETURN(l.k_norm, norm("self_attn.k_norm.weight", c.head_dim));
    }
    SGLANG_ASSIGN_OR_RETURN(auto wg, w.get(p + "mlp.gate_proj.weight", {inter, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wu, w.get(p + "mlp.up_proj.weight", {inter, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wd, w.get(p + "mlp.down_proj.weight", {h, inter}));
    l.gate_up = backend.load_matmul_weight({wg, wu}, c.weight_dtype);
    l.down = backend.load_matmul_weight({wd}, c.weight_dtype);
    l.sliding = c.layer_sliding_window(i) > 0;
    m->layers_.push_back(std::move(l));
  }
  SGLANG_ASSIGN_OR_RETURN(auto final_norm, w.get("model.norm.weight", {h}));
  m->final_norm_ = load_offset_norm(backend, final_norm);
  const std::vector<float> inv_freq = rope_inv_freq(c);
  m->inv_freq_ =
      backend.from_host(inv_freq.data(), DType::kF32, {static_cast<int64_t>(inv_freq.size())});
  if (c.rope_local_base_freq > 0) {
    const std::vector<float> local = rope_inv_freq_unscaled(c, c.rope_local_base_freq);
    m->inv_freq_local_ =
        backend.from_host(local.data(), DType::kF32, {static_cast<int64_t>(local.size())});
  }
  return m;
}

Result<Tensor> GemmaModel::forward(const ModelInput& in, KvCache& kv) {
  SGLANG_ASSIGN_OR_RETURN(Tensor selected, run_decoder(in, kv));
  const auto R = static_cast<int64_t>(in.logit_rows.size());
  Tensor logits = backend_.empty(DType::kF32, {R, output_width()});
  if (R == 0) return logits;
  backend_.linear(selected, lm_head_, nullptr, logits);
  // Gemma 2: logits / cap, tanh, * cap.
  if (config_.final_logit_softcapping > 0) {
    backend_.soft_cap(logits, static_cast<float>(config_.final_logit_softcapping), logits);
  }
  return logits;
}

Result<Tensor> GemmaModel::forward_hidden(const ModelInput& in, KvCache& kv) {
  return run_decoder(in, kv);
}

Result<Tensor> GemmaModel::run_decoder(const ModelInput& in, KvCache& kv) {
  const ModelConfig& c = config_;
  Backend& be = backend_;
  const int64_t T = in.num_tokens;
  const AttentionMetadata& meta = in.attention;

  AttentionParams ap;
  ap.num_heads = c.num_attention_heads;
  ap.num_kv_heads = c.num_key_value_heads;
  ap.head_dim = c.head_dim;
  ap.scale = static_cast<float>(std::pow(c.query_pre_attn_scalar, -0.5));
  ap.softcap = static_cast<float>(c.attn_logit_softcapping);

  ws_.ensure(be, c, T, inv_freq_local_.defined());
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
  const Tensor cos_sin_local =
      inv_freq_local_.defined() ? ws_.cos_sin_local.rows_view(0, T) : cos_sin;

  be.embedding(in.token_ids, embed_tokens_, residual);
  // transformers multiplies by sqrt(hidden_size) rounded to the activations' dtype (float32).
  be.scale(residual, static_cast<float>(std::sqrt(static_cast<double>(c.hidden_size))), residual);
  be.rope_cos_sin(in.positions, inv_freq_, cos_sin);
  if (inv_freq_local_.defined()) be.rope_cos_sin(in.positions, inv_freq_local_, cos_sin_local);
  const float eps = static_cast<float>(c.rms_norm_eps);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const auto layer = static_cast<int64_t>(i);
    // The previous layer's post-feedforward-normed MLP output joins the residual stream here.
    if (i == 0) {
      be.rms_norm(residual, l.input_norm, eps, hidden);
    } else {
      be.add_rms_norm(residual, proj, l.input_norm, eps, hidden);
    }
    be.linear(hidden, l.qkv, nullptr, qkv);
    if (l.q_norm.defined()) {
      be.rms_norm(q, l.q_norm, eps, q);
      be.rms_norm(k, l.k_norm, eps, k);
    }
    const Tensor& cs = l.sliding ? cos_sin_local : cos_sin;
    be.apply_rope(q, cs, c.head_dim);
    be.apply_rope(k, cs, c.head_dim);
    be.store_kv(k, v, meta, kv.k(layer), kv.v(layer));
    ap.sliding_window = c.layer_sliding_window(layer);
    be.attention(q, kv.k(layer), kv.v(layer), meta, ap, attn);
    be.linear(attn, l.o, nullptr, proj);
    be.rms_norm(proj, l.post_attention_norm, eps, proj);
    be.add_rms_norm(residual, proj, l.pre_feedforward_norm, eps, hidden);
    be.linear(hidden, l.gate_up, nullptr, gate_up);
    be.gated_activation(act_, gate_up, act);
    be.linear(act, l.down, nullptr, proj);
    be.rms_norm(proj, l.post_feedforward_norm, eps, proj);
  }
  be.add_rms_norm(residual, proj, final_norm_, eps, hidden);
  return logit_rows(be, in, hidden);
}

}  // namespace sglang
