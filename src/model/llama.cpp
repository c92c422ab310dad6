#include "model/llama.h"

#include <cmath>

#include "model/model_registry.h"
#include "model/rope.h"

namespace sglang {

Result<std::unique_ptr<LlamaModel>> LlamaModel::load(const ModelConfig& c, const WeightStore& w,
                                                     Backend& backend) {
  auto m = std::unique_ptr<LlamaModel>(new LlamaModel(c, backend));
  const int64_t h = c.hidden_size, q = c.q_size(), kv = c.kv_size(), inter = c.intermediate_size;
  const bool fused = c.architecture == Architecture::kPhi3;

  SGLANG_ASSIGN_OR_RETURN(EmbeddingAndHead eh, load_embedding_and_head(c, w, backend));
  m->embed_tokens_ = eh.embed_tokens;
  m->lm_head_ = eh.lm_head;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer l;
    SGLANG_ASSIGN_OR_RETURN(auto in_norm, w.get(p + "input_layernorm.weight", {h}));
    SGLANG_ASSIGN_OR_RETURN(auto post_norm, w.get(p + "post_attention_layernorm.weight", {h}));
    SGLANG_ASSIGN_OR_RETURN(auto wo, w.get(p + "self_attn.o_proj.weight", {h, q}));
    l.input_norm = backend.load_vector({in_norm});
    l.post_attention_norm = backend.load_vector({post_norm});
    if (fused) {
      // Phi-3 stores q, k, v as one qkv_proj (and gate, up as one gate_up_proj, gate first).
      SGLANG_ASSIGN_OR_RETURN(auto wqkv, w.get(p + "self_attn.qkv_proj.weight", {q + 2 * kv, h}));
      l.qkv = backend.load_matmul_weight({wqkv}, c.weight_dtype);
    } else {
      SGLANG_ASSIGN_OR_RETURN(auto wq, w.get(p + "self_attn.q_proj.weight", {q, h}));
      SGLANG_ASSIGN_OR_RETURN(auto wk, w.get(p + "self_attn.k_proj.weight", {kv, h}));
      SGLANG_ASSIGN_OR_RETURN(auto wv, w.get(p + "self_attn.v_proj.weight", {kv, h}));
      l.qkv = backend.load_matmul_weight({wq, wk, wv}, c.weight_dtype);
    }
    if (c.qk_norm) {
      SGLANG_ASSIGN_OR_RETURN(auto qn, w.get(p + "self_attn.q_norm.weight", {c.head_dim}));
      SGLANG_ASSIGN_OR_RETURN(auto kn, w.get(p + "self_attn.k_norm.weight", {c.head_dim}));
      l.q_norm = backend.load_vector({qn});
      l.k_norm = backend.load_vector({kn});
    }
    l.o = backend.load_matmul_weight({wo}, c.weight_dtype);
    if (c.is_sparse_layer(i)) {
      SGLANG_ASSIGN_OR_RETURN(l.moe, SparseMoeBlock::load(c, w, p + "mlp.", backend));
    } else if (fused) {
      SGLANG_ASSIGN_OR_RETURN(auto wgu, w.get(p + "mlp.gate_up_proj.weight", {2 * inter, h}));
      SGLANG_ASSIGN_OR_RETURN(auto wd, w.get(p + "mlp.down_proj.weight", {h, inter}));
      l.gate_up = backend.load_matmul_weight({wgu}, c.weight_dtype);
      l.down = backend.load_matmul_weight({wd}, c.weight_dtype);
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
  if (c.rope_scaling.type == RopeScaling::Type::kLongRope) {
    const std::vector<float> long_freq = rope_inv_freq_long(c);
    m->long_inv_freq_ =
        backend.from_host(long_freq.data(), DType::kF32, {static_cast<int64_t>(long_freq.size())});
  }
  return m;
}

Result<Tensor> LlamaModel::forward(const ModelInput& in, KvCache& kv) {
  SGLANG_ASSIGN_OR_RETURN(Tensor selected, run_decoder(in, kv));
  const auto R = static_cast<int64_t>(in.logit_rows.size());
  Tensor logits = backend_.empty(DType::kF32, {R, output_width()});
  if (R == 0) return logits;
  backend_.linear(selected, lm_head_, nullptr, logits);
  return logits;
}

Result<Tensor> LlamaModel::forward_hidden(const ModelInput& in, KvCache& kv) {
  return run_decoder(in, kv);
}

void LlamaModel::rope_cos_sin_longrope(const ModelInput& in, const Tensor& cos_sin) {
  // transformers' longrope_frequency_update picks the long factors once a forward's sequence
  // reaches past original_max_position_embeddings. Here each sequence decides for itself (its
  // KV length), so a sequence's logits do not depend on what it is batched with; runs of
  // sequences with the same choice share one call. Then cos and sin times the attention factor.
  const RopeScaling& rs = config_.rope_scaling;
  const auto& seqs = in.batch->seqs;
  auto is_long = [&](size_t s) {
    return seqs[s].prefix_len + seqs[s].num_new_tokens > rs.original_max_position_embeddings;
  };
  // [T, 1]: a 1-D tensor's rows are not its elements.
  const Tensor positions = in.positions.reshaped({in.num_tokens, 1});
  for (size_t s = 0; s < seqs.size();) {
    size_t e = s + 1;
    while (e < seqs.size() && is_long(e) == is_long(s)) ++e;
    const int64_t begin = seqs[s].first_token;
    const int64_t end = seqs[e - 1].first_token + seqs[e - 1].num_new_tokens;
    backend_.rope_cos_sin(positions.rows_view(begin, end), is_long(s) ? long_inv_freq_ : inv_freq_,
                          cos_sin.rows_view(begin, end));
    s = e;
  }
  if (rs.attention_factor != 1.0) {
    backend_.scale(cos_sin, static_cast<float>(rs.attention_factor), cos_sin);
  }
}

Result<Tensor> LlamaModel::run_decoder(const ModelInput& in, KvCache& kv) {
  const ModelConfig& c = config_;
  Backend& be = backend_;
  const int64_t T = in.num_tokens;
  const AttentionMetadata& meta = in.attention;

  AttentionParams ap;
  ap.num_heads = c.num_attention_heads;
  ap.num_kv_heads = c.num_key_value_heads;
  ap.head_dim = c.head_dim;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

  ws_.ensure(be, c, T);
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
  if (observer) observer->on_forward_begin(*in.batch);
  if (c.is_moe()) moe_ws_.ensure(be, c, T);

  be.embedding(in.token_ids, embed_tokens_, residual);
  if (long_inv_freq_.defined()) {
    rope_cos_sin_longrope(in, cos_sin);
  } else {
    be.rope_cos_sin(in.positions, inv_freq_, cos_sin);
  }
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
    if (l.q_norm.defined()) {
      // Qwen3: each head of q and k RMS-normed on its own (a head_dim weight), before the rotary.
      be.rms_norm(q, l.q_norm, eps, q);
      be.rms_norm(k, l.k_norm, eps, k);
    }
    be.apply_rope(q, cos_sin, c.head_dim);
    be.apply_rope(k, cos_sin, c.head_dim);
    be.store_kv(k, v, meta, kv.k(static_cast<int64_t>(i)), kv.v(static_cast<int64_t>(i)));
    ap.sliding_window = c.layer_sliding_window(static_cast<int64_t>(i));
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
  return logit_rows(be, in, hidden);
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
  const ModelArchitecture* arch = find_model_architecture(config.architecture_name);
  if (arch == nullptr) {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported architecture '" + config.architecture_name + "'");
  }
  // gguf (SGLang's name for a GGUF file's own quantization) is what auto does already.
  if (options.quantization.empty() || options.quantization == "gguf") {
    return arch->load(config, *weights, backend);
  }
  SGLANG_RETURN_IF_ERROR(backend.set_weight_quantization(options.quantization));
  auto model = arch->load(config, *weights, backend);
  // Only this model's weights: a later load (another model, a weight update without the option)
  // starts from none.
  SGLANG_RETURN_IF_ERROR(backend.set_weight_quantization(""));
  return model;
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
