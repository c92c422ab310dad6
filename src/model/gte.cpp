#include "model/gte.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "model/config_fields.h"
#include "util/logging.h"

namespace sglang {
namespace {

using nlohmann::json;

Result<Activation> gated_activation_of(const std::string& name) {
  // transformers' ACT2FN names the published GTE configs use.
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  return make_error(ErrorCode::kUnsupported,
                    "unsupported hidden_act '" + name +
                        "' for NewModel (supported: gelu, gelu_new, gelu_pytorch_tanh)");
}

// new-impl's rotary frequencies over head_dim d: 1 / base^(2i/d); with "ntk" scaling (its
// NTKScalingRotaryEmbedding, whose cache is built for max_position_embeddings * factor at load, so
// the scaled frequencies apply at every length): without mixed_b, base * factor and each frequency
// divided by factor^(2/d); with it, the unscaled frequencies divided by
// exp(a * k^mixed_b), k = 1..d/2, a = log(factor) / (d/2)^mixed_b.
std::vector<float> gte_inv_freq(const ModelConfig& c) {
  const int64_t d = c.head_dim;
  const double factor = c.ntk_factor > 0 ? c.ntk_factor : 1.0;
  const bool scaled = factor > 1.0;
  const bool mixed = scaled && c.ntk_mixed_b > 0;
  const double base = c.rope_theta * (scaled && !mixed ? factor : 1.0);
  std::vector<float> out(static_cast<size_t>(d / 2));
  for (int64_t i = 0; i < d / 2; ++i) {
    // torch: arange(0, d, 2).float() / d, then base ** that, in float32.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(d);
    float f = 1.0f / std::pow(static_cast<float>(base), exponent);
    if (scaled && !mixed) {
      f = f / std::pow(static_cast<float>(factor), 2.0f / static_cast<float>(d));
    } else if (mixed) {
      const double a = std::log(factor) / std::pow(static_cast<double>(d / 2), c.ntk_mixed_b);
      f = f / static_cast<float>(std::exp(a * std::pow(static_cast<double>(i + 1), c.ntk_mixed_b)));
    }
    out[static_cast<size_t>(i)] = f;
  }
  return out;
}

}  // namespace

Result<ModelConfig> parse_gte_config(const json& j, const std::string& source) {
  ModelConfig c;
  c.architecture_name = j.at("architectures")[0].get<std::string>();
  c.architecture = Architecture::kGte;
  c.head = Head::kEmbedding;
  c.causal = false;
  const ConfigFields f(j, source);
  SGLANG_ASSIGN_OR_RETURN(c.model_type, f.optional_string("model_type", ""));
  // Without a modules.json: the published GTE v1.5 models' pooling (CLS, then Normalize).
  c.pooling.type = PoolingType::kCls;
  c.pooling.normalize = true;
  c.pooling.source = "the GTE models' CLS pooling";
  // Defaults of new-impl's NewConfig.
  SGLANG_ASSIGN_OR_RETURN(c.hidden_size, f.optional_int("hidden_size", 768));
  SGLANG_ASSIGN_OR_RETURN(c.num_hidden_layers, f.optional_int("num_hidden_layers", 12));
  SGLANG_ASSIGN_OR_RETURN(c.num_attention_heads, f.optional_int("num_attention_heads", 12));
  SGLANG_ASSIGN_OR_RETURN(c.intermediate_size, f.optional_int("intermediate_size", 3072));
  SGLANG_ASSIGN_OR_RETURN(c.vocab_size, f.optional_int("vocab_size", 30528));
  SGLANG_ASSIGN_OR_RETURN(c.max_position_embeddings,
                          f.optional_int("max_position_embeddings", 2048));
  SGLANG_ASSIGN_OR_RETURN(c.type_vocab_size, f.optional_int("type_vocab_size", 1));
  SGLANG_ASSIGN_OR_RETURN(c.pad_token_id, f.optional_int("pad_token_id", -1));
  SGLANG_ASSIGN_OR_RETURN(c.layer_norm_eps, f.optional_double("layer_norm_eps", 1e-12));
  SGLANG_ASSIGN_OR_RETURN(c.hidden_act, f.optional_string("hidden_act", "gelu"));
  SGLANG_ASSIGN_OR_RETURN(c.rope_theta, f.optional_double("rope_theta", 10000.0));
  SGLANG_ASSIGN_OR_RETURN(c.layer_norm_type, f.optional_string("layer_norm_type", "layer_norm"));
  if (c.hidden_size <= 0 || c.num_hidden_layers <= 0 || c.num_attention_heads <= 0 ||
      c.intermediate_size <= 0 || c.vocab_size <= 0 || c.max_position_embeddings <= 0 ||
      c.type_vocab_size < 0) {
    return make_error(ErrorCode::kCorrupt, "sizes in " + source + " must be positive");
  }
  if (c.hidden_size % c.num_attention_heads != 0 ||
      (c.hidden_size / c.num_attention_heads) % 2 != 0) {
    return make_error(ErrorCode::kCorrupt, "field 'hidden_size' in " + source +
                                               " must be an even head size times "
                                               "'num_attention_heads'");
  }
  c.num_key_value_heads = c.num_attention_heads;
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.rotary_dim = c.head_dim;
  c.rms_norm_eps = c.layer_norm_eps;
  if (auto act = gated_activation_of(c.hidden_act); !act.ok()) return act.error();
  if (c.layer_norm_type != "layer_norm" && c.layer_norm_type != "rms_norm") {
    return make_error(ErrorCode::kUnsupported, "unsupported layer_norm_type '" + c.layer_norm_type +
                                                   "' in " + source +
                                                   " (supported: layer_norm, rms_norm)");
  }
  SGLANG_ASSIGN_OR_RETURN(std::string pos_type,
                          f.optional_string("position_embedding_type", "rope"));
  if (pos_type != "rope") {
    return make_error(ErrorCode::kUnsupported, "NewModel with position_embedding_type '" +
                                                   pos_type + "' is not supported (" + source +
                                                   "; supported: rope)");
  }
  for (const char* flag : {"logn_attention_scale"}) {
    if (j.contains(flag) && j.at(flag).is_boolean() && j.at(flag).get<bool>()) {
      return make_error(ErrorCode::kUnsupported,
                        std::string(flag) + " in " + source + " is not supported");
    }
  }
  if (j.contains("rope_scaling") && !j.at("rope_scaling").is_null()) {
    const json& rs = j.at("rope_scaling");
    std::string type;
    const ConfigFields r(rs, source);
    if (rs.is_object()) {
      SGLANG_ASSIGN_OR_RETURN(std::string rope_type, r.optional_string("rope_type", ""));
      SGLANG_ASSIGN_OR_RETURN(type, r.optional_string("type", rope_type));
    }
    if (type != "ntk" || !rs.contains("factor") || !rs.at("factor").is_number()) {
      return make_error(ErrorCode::kUnsupported, "NewModel rope_scaling " + rs.dump() + " in " +
                                                     source +
                                                     " is not supported (ntk with a factor)");
    }
    c.ntk_factor = rs.at("factor").get<double>();
    SGLANG_ASSIGN_OR_RETURN(c.ntk_mixed_b, r.optional_double("mixed_b", 0.0));
  }
  for (const char* name : {"bos_token_id", "eos_token_id"}) {
    if (j.contains(name) && j.at(name).is_number_integer()) {
      (std::string(name) == "bos_token_id" ? c.bos_token_ids : c.eos_token_ids)
          .push_back(j.at(name).get<int64_t>());
    }
  }
  if (j.contains("torch_dtype") && j.at("torch_dtype").is_string()) {
    c.torch_dtype = j.at("torch_dtype").get<std::string>();
  }
  return c;
}

Result<std::unique_ptr<GteModel>> GteModel::load(const ModelConfig& c, const WeightStore& w,
                                                 Backend& backend) {
  auto m = std::unique_ptr<GteModel>(new GteModel(c, backend));
  SGLANG_ASSIGN_OR_RETURN(m->act_, gated_activation_of(c.hidden_act));
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const bool rms = c.layer_norm_type == "rms_norm";
  // Saved from NewModel the tensors sit at the top; from a wrapper (NewForMaskedLM) under "new.".
  const std::string base = w.contains("embeddings.word_embeddings.weight") ? "" : "new.";
  auto vec = [&](const std::string& name, int64_t n) -> Result<Tensor> {
    SGLANG_ASSIGN_OR_RETURN(auto t, w.get(name, {n}));
    return backend.load_vector({t});
  };
  auto mat = [&](const std::string& name, int64_t rows, int64_t cols) -> Result<Tensor> {
    SGLANG_ASSIGN_OR_RETURN(auto t, w.get(name, {rows, cols}));
    return backend.load_matmul_weight({t}, c.weight_dtype);
  };
  // A norm of the layers: LayerNorm (weight, bias) or RMSNorm (weight only).
  auto layer_norm = [&](const std::string& p, Tensor& weight, Tensor& bias) -> Status {
    SGLANG_ASSIGN_OR_RETURN(weight, vec(p + "weight", h));
    if (!rms) {
      SGLANG_ASSIGN_OR_RETURN(bias, vec(p + "bias", h));
    }
    return {};
  };

  const std::string e = base + "embeddings.";
  SGLANG_ASSIGN_OR_RETURN(m->word_embeddings_, mat(e + "word_embeddings.weight", c.vocab_size, h));
  if (c.type_vocab_size > 0) {
    SGLANG_ASSIGN_OR_RETURN(m->token_type_embeddings_,
                            mat(e + "token_type_embeddings.weight", c.type_vocab_size, h));
  }
  // The embeddings' norm is nn.LayerNorm whatever layer_norm_type says.
  SGLANG_ASSIGN_OR_RETURN(m->embed_norm_, vec(e + "LayerNorm.weight", h));
  SGLANG_ASSIGN_OR_RETURN(m->embed_norm_bias_, vec(e + "LayerNorm.bias", h));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = base + "encoder.layer." + std::to_string(i) + ".";
    Layer l;
    if (w.contains(p + "attention.qkv_proj.weight")) {  // pack_qkv
      SGLANG_ASSIGN_OR_RETURN(l.qkv, mat(p + "attention.qkv_proj.weight", 3 * h, h));
      SGLANG_ASSIGN_OR_RETURN(l.qkv_bias, vec(p + "attention.qkv_proj.bias", 3 * h));
    } else {
      std::vector<HostTensor> ws, bs;
      for (const char* n : {"q_proj", "k_proj", "v_proj"}) {
        SGLANG_ASSIGN_OR_RETURN(auto wt, w.get(p + "attention." + n + ".weight", {h, h}));
        SGLANG_ASSIGN_OR_RETURN(auto bt, w.get(p + "attention." + n + ".bias", {h}));
        ws.push_back(wt);
        bs.push_back(bt);
      }
      l.qkv = backend.load_matmul_weight(ws, c.weight_dtype);
      l.qkv_bias = backend.load_vector(bs);
    }
    SGLANG_ASSIGN_OR_RETURN(l.o, mat(p + "attention.o_proj.weight", h, h));
    SGLANG_ASSIGN_OR_RETURN(l.o_bias, vec(p + "attention.o_proj.bias", h));
    SGLANG_RETURN_IF_ERROR(layer_norm(p + "attn_ln.", l.attn_norm, l.attn_norm_bias));
    // up_gate_proj is [up; gate] (NewGatedMLP splits up first); the backend's gated activation
    // reads [gate | up], so the two row blocks are loaded swapped.
    SGLANG_ASSIGN_OR_RETURN(auto up_gate, w.get(p + "mlp.up_gate_proj.weight", {2 * inter, h}));
    if (dtype_is_quantized(up_gate.dtype)) {
      return make_error(ErrorCode::kUnsupported, "NewModel weights must be float tensors");
    }
    const size_t half_bytes = up_gate.nbytes() / 2;
    HostTensor up = up_gate, gate = up_gate;
    up.shape = gate.shape = {inter, h};
    gate.data = static_cast<const uint8_t*>(up_gate.data) + half_bytes;
    l.gate_up = backend.load_matmul_weight({gate, up}, c.weight_dtype);
    SGLANG_ASSIGN_OR_RETURN(l.down, mat(p + "mlp.down_proj.weight", h, inter));
    SGLANG_ASSIGN_OR_RETURN(l.down_bias, vec(p + "mlp.down_proj.bias", h));
    SGLANG_RETURN_IF_ERROR(layer_norm(p + "mlp_ln.", l.mlp_norm, l.mlp_norm_bias));
    m->layers_.push_back(std::move(l));
  }
  const std::vector<float> inv_freq = gte_inv_freq(c);
  m->inv_freq_ =
      backend.from_host(inv_freq.data(), DType::kF32, {static_cast<int64_t>(inv_freq.size())});
  SGLANG_LOG_INFO("Embedding pooling: {}{} ({})", pooling_type_name(c.pooling.type),
                  c.pooling.normalize ? ", normalized" : "", c.pooling.source);
  return m;
}

void GteModel::ensure_workspace(int64_t tokens) {
  if (tokens <= ws_.capacity) return;
  const ModelConfig& c = config_;
  const int64_t cap = std::max<int64_t>(tokens, 2 * ws_.capacity);
  ws_.capacity = cap;
  ws_.hidden = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.sum = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.qkv = backend_.empty(DType::kF32, {cap, 3 * c.hidden_size});
  ws_.attn = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.proj = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.gate_up = backend_.empty(DType::kF32, {cap, 2 * c.intermediate_size});
  ws_.act = backend_.empty(DType::kF32, {cap, c.intermediate_size});
  ws_.cos_sin = backend_.empty(DType::kF32, {cap, c.head_dim});
}

Status GteModel::check_batch(const ForwardBatch& batch) const {
  auto bad = [](const std::string& m) { return make_error(ErrorCode::kInvalidArgument, m); };
  if (!batch.token_type_ids.empty()) {
    if (batch.token_type_ids.size() != batch.token_ids.size()) {
      return bad("token_type_ids do not match the batch's tokens");
    }
    for (int32_t t : batch.token_type_ids) {
      if (t < 0 || t >= std::max<int64_t>(config_.type_vocab_size, 1)) {
        return bad("token type id " + std::to_string(t) + " is out of range for type_vocab_size " +
                   std::to_string(config_.type_vocab_size));
      }
    }
  }
  for (const auto& s : batch.seqs) {
    if (s.prefix_len != 0) {
      return bad("an encoder sees each sequence whole in one forward (prefix_len must be 0)");
    }
    if (s.logits == LogitsMode::kAll) {
      return bad("an encoder gives one output per sequence, not one per token");
    }
  }
  return {};
}

Result<Tensor> GteModel::forward(const ModelInput& in, KvCache& kv) {
  SGLANG_ASSIGN_OR_RETURN(Tensor hidden, run_encoder(in, kv));
  return pool(*in.batch, hidden, config_.pooling);
}

Result<Tensor> GteModel::forward_hidden(const ModelInput& in, KvCache& kv) {
  SGLANG_ASSIGN_OR_RETURN(Tensor hidden, run_encoder(in, kv));
  SentencePooling raw = config_.pooling;
  raw.normalize = false;
  return pool(*in.batch, hidden, raw);
}

Tensor GteModel::pool(const ForwardBatch& batch, const Tensor& hidden,
                      const SentencePooling& pooling) {
  // On the host, as XlmRobertaModel::pool: the vectors leave the device next anyway.
  std::vector<int64_t> starts, lengths;
  for (const auto& s : batch.seqs) {
    if (s.logits != LogitsMode::kLast) continue;
    starts.push_back(s.first_token);
    lengths.push_back(s.num_new_tokens);
  }
  Backend& be = backend_;
  const int64_t H = config_.hidden_size;
  const auto R = static_cast<int64_t>(starts.size());
  if (R == 0) return be.empty(DType::kF32, {0, H});
  host_hidden_.resize(static_cast<size_t>(hidden.numel()));
  be.copy_to_host(hidden, host_hidden_.data());
  const std::vector<float> pooled =
      pool_sentences(host_hidden_.data(), H, starts, lengths, pooling);
  return be.from_host(pooled.data(), DType::kF32, {R, H});
}

void GteModel::norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& out) {
  const float eps = static_cast<float>(config_.layer_norm_eps);
  if (b.defined()) {
    backend_.layer_norm(x, w, b, eps, out);
  } else {
    backend_.rms_norm(x, w, eps, out);
  }
}

Result<Tensor> GteModel::run_encoder(const ModelInput& in, KvCache& kv) {
  const ForwardBatch& batch = *in.batch;
  const ModelConfig& c = config_;
  Backend& be = backend_;
  const int64_t T = in.num_tokens, H = c.hidden_size;
  const AttentionMetadata& meta = in.attention;

  AttentionParams ap;
  ap.num_heads = c.num_attention_heads;
  ap.num_kv_heads = c.num_key_value_heads;
  ap.head_dim = c.head_dim;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  ap.causal = false;

  ensure_workspace(T);
  const Tensor hidden = ws_.hidden.rows_view(0, T);
  const Tensor sum = ws_.sum.rows_view(0, T);
  const Tensor qkv = ws_.qkv.rows_view(0, T);
  const Tensor q = qkv.cols_view(0, H);
  const Tensor k = qkv.cols_view(H, 2 * H);
  const Tensor v = qkv.cols_view(2 * H, 3 * H);
  const Tensor attn = ws_.attn.rows_view(0, T);
  const Tensor proj = ws_.proj.rows_view(0, T);
  const Tensor gate_up = ws_.gate_up.rows_view(0, T);
  const Tensor act = ws_.act.rows_view(0, T);
  const Tensor cos_sin = ws_.cos_sin.rows_view(0, T);

  // Embeddings: word (+ token type), then LayerNorm. Positions enter through the rotary only:
  // each sequence counts from 0 (prefix 0), new-impl's position_ids.
  be.embedding(in.token_ids, word_embeddings_, sum);
  if (token_type_embeddings_.defined()) {
    const std::vector<int32_t> zero_types(batch.token_type_ids.empty() ? static_cast<size_t>(T)
                                                                       : 0);
    const std::vector<int32_t>& types =
        batch.token_type_ids.empty() ? zero_types : batch.token_type_ids;
    Tensor types_t = be.from_host(types.data(), DType::kI32, {T});
    be.embedding(types_t, token_type_embeddings_, proj);
    be.add(sum, proj, sum);
  }
  be.layer_norm(sum, embed_norm_, embed_norm_bias_, static_cast<float>(c.layer_norm_eps), hidden);
  be.rope_cos_sin(in.positions, inv_freq_, cos_sin);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const auto layer = static_cast<int64_t>(i);
    be.linear(hidden, l.qkv, &l.qkv_bias, qkv);
    be.apply_rope(q, cos_sin, c.head_dim);
    be.apply_rope(k, cos_sin, c.head_dim);
    be.store_kv(k, v, meta, kv.k(layer), kv.v(layer));
    be.attention(q, kv.k(layer), kv.v(layer), meta, ap, attn);
    // Post-LN: each sublayer's output joins the residual stream, then the norm.
    be.linear(attn, l.o, &l.o_bias, proj);
    be.add(proj, hidden, sum);
    norm(sum, l.attn_norm, l.attn_norm_bias, hidden);
    be.linear(hidden, l.gate_up, nullptr, gate_up);
    be.gated_activation(act_, gate_up, act);
    be.linear(act, l.down, &l.down_bias, proj);
    be.add(proj, hidden, sum);
    norm(sum, l.mlp_norm, l.mlp_norm_bias, hidden);
  }
  return hidden;
}

}  // namespace sglang
