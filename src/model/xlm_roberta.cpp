#include "model/xlm_roberta.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "model/config_fields.h"
#include "util/logging.h"

namespace sglang {
namespace {

using nlohmann::json;

Result<Activation> hidden_activation(const std::string& name) {
  // transformers' ACT2FN names the encoders use.
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  return make_error(ErrorCode::kUnsupported, "unsupported hidden_act '" + name +
                                                 "' (supported: gelu, gelu_new, "
                                                 "gelu_pytorch_tanh, relu)");
}

Result<std::optional<Activation>> score_activation(const std::string& name) {
  if (name == "identity") return std::optional<Activation>();
  if (name == "sigmoid") return std::optional<Activation>(Activation::kSigmoid);
  if (name == "tanh") return std::optional<Activation>(Activation::kTanh);
  if (name == "relu") return std::optional<Activation>(Activation::kRelu);
  if (name == "gelu") return std::optional<Activation>(Activation::kGelu);
  return make_error(ErrorCode::kUnsupported, "unsupported score activation '" + name + "'");
}

}  // namespace

Result<ModelConfig> parse_encoder_config(const json& j, const std::string& source) {
  ModelConfig c;
  c.architecture_name = j.at("architectures")[0].get<std::string>();
  const std::string& an = c.architecture_name;
  const bool embedding = an == "BertModel" || an == "XLMRobertaModel" || an == "RobertaModel";
  const std::string family = embedding ? an.substr(0, an.size() - std::string("Model").size())
                                       : an.substr(0, an.find("For"));
  if (!embedding && an != family + "ForSequenceClassification") {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported architecture '" + an + "' in field 'architectures' of " +
                          source +
                          " (encoders are served as cross-encoders: "
                          "XLMRobertaForSequenceClassification, RobertaForSequenceClassification, "
                          "BertForSequenceClassification; or as embedding models: BertModel, "
                          "XLMRobertaModel, RobertaModel)");
  }
  c.architecture = family == "Bert"      ? Architecture::kBert
                   : family == "Roberta" ? Architecture::kRoberta
                                         : Architecture::kXlmRoberta;
  c.head = embedding ? Head::kEmbedding : Head::kSequenceClassification;
  c.causal = false;
  if (embedding) {
    // Without a modules.json, what SGLang serves (Pooler(..., normalize=True)): BertModel's last
    // token (models/bert.py), XLMRobertaModel's first (models/roberta.py).
    c.pooling.type = family == "Bert" ? PoolingType::kLast : PoolingType::kCls;
    c.pooling.normalize = true;
    c.pooling.source = "SGLang's default for " + an;
  }
  const ConfigFields f(j, source);
  SGLANG_ASSIGN_OR_RETURN(c.model_type, f.optional_string("model_type", ""));
  // transformers' PretrainedConfig: num_labels is the size of id2label (2 when absent).
  c.num_labels = 2;
  if (j.contains("id2label") && j["id2label"].is_object()) {
    c.num_labels = static_cast<int64_t>(j["id2label"].size());
  }
  if (j.contains("num_labels") && j["num_labels"].is_number_integer()) {
    c.num_labels = j["num_labels"].get<int64_t>();
  }

  // Defaults of transformers' BertConfig / RobertaConfig / XLMRobertaConfig.
  SGLANG_ASSIGN_OR_RETURN(c.hidden_size, f.required_int("hidden_size"));
  SGLANG_ASSIGN_OR_RETURN(c.num_hidden_layers, f.required_int("num_hidden_layers"));
  SGLANG_ASSIGN_OR_RETURN(c.num_attention_heads, f.required_int("num_attention_heads"));
  SGLANG_ASSIGN_OR_RETURN(c.intermediate_size, f.required_int("intermediate_size"));
  SGLANG_ASSIGN_OR_RETURN(c.vocab_size, f.required_int("vocab_size"));
  SGLANG_ASSIGN_OR_RETURN(c.max_position_embeddings,
                          f.optional_int("max_position_embeddings", 512));
  SGLANG_ASSIGN_OR_RETURN(c.type_vocab_size, f.optional_int("type_vocab_size", 2));
  SGLANG_ASSIGN_OR_RETURN(c.pad_token_id, f.optional_int("pad_token_id", family == "Bert" ? 0 : 1));
  SGLANG_ASSIGN_OR_RETURN(c.layer_norm_eps, f.optional_double("layer_norm_eps", 1e-12));
  SGLANG_ASSIGN_OR_RETURN(c.hidden_act, f.optional_string("hidden_act", "gelu"));
  if (c.hidden_size <= 0 || c.num_hidden_layers <= 0 || c.num_attention_heads <= 0 ||
      c.intermediate_size <= 0 || c.vocab_size <= 0 || c.max_position_embeddings <= 0 ||
      c.type_vocab_size <= 0 || c.num_labels <= 0) {
    return make_error(ErrorCode::kCorrupt, "sizes in " + source + " must be positive");
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    return make_error(ErrorCode::kCorrupt, "field 'hidden_size' in " + source +
                                               " must be a multiple of 'num_attention_heads'");
  }
  c.num_key_value_heads = c.num_attention_heads;
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (auto act = hidden_activation(c.hidden_act); !act.ok()) return act.error();
  SGLANG_ASSIGN_OR_RETURN(std::string pos_type,
                          f.optional_string("position_embedding_type", "absolute"));
  if (pos_type != "absolute") {
    // As SGLang's BertEmbedding / RobertaEmbedding.
    return make_error(ErrorCode::kUnsupported,
                      "Only 'absolute' position_embedding_type is supported (" + source + " has '" +
                          pos_type + "')");
  }
  // RoBERTa counts positions from padding_idx + 1 (the padding index itself is a pad's position).
  if (family != "Bert") {
    if (c.pad_token_id < 0 || c.pad_token_id >= c.max_position_embeddings) {
      return make_error(ErrorCode::kCorrupt, "field 'pad_token_id' in " + source +
                                                 " must index the position embeddings");
    }
    c.position_offset = c.pad_token_id + 1;
  }
  // SGLang's get_cross_encoder_activation_function: the sentence-transformers activation named
  // in config.json (restricted to torch.nn.modules), else identity (bge-reranker's raw logits).
  SGLANG_ASSIGN_OR_RETURN(std::string act_path,
                          f.optional_string("sbert_ce_default_activation_function", ""));
  if (!act_path.empty()) {
    const std::string kPrefix = "torch.nn.modules.";
    if (act_path.rfind(kPrefix, 0) != 0) {
      return make_error(ErrorCode::kUnsupported,
                        "Loading of activation functions is restricted to torch.nn.modules for "
                        "security reasons (" +
                            source + " names '" + act_path + "')");
    }
    const std::string cls = act_path.substr(act_path.rfind('.') + 1);
    if (cls == "Identity") {
      c.score_activation = "identity";
    } else if (cls == "Sigmoid") {
      c.score_activation = "sigmoid";
    } else if (cls == "Tanh") {
      c.score_activation = "tanh";
    } else if (cls == "ReLU") {
      c.score_activation = "relu";
    } else if (cls == "GELU") {
      c.score_activation = "gelu";
    } else {
      return make_error(ErrorCode::kUnsupported,
                        "unsupported sbert_ce_default_activation_function '" + act_path + "' in " +
                            source + " (supported: Identity, Sigmoid, Tanh, ReLU, GELU)");
    }
  }
  c.rms_norm_eps = c.layer_norm_eps;
  for (const char* name : {"bos_token_id", "eos_token_id"}) {
    if (j.contains(name) && j.at(name).is_number_integer()) {
      (std::string(name) == "bos_token_id" ? c.bos_token_ids : c.eos_token_ids)
          .push_back(j.at(name).get<int64_t>());
    }
  }
  if (j.contains("torch_dtype") && j.at("torch_dtype").is_string()) {
    c.torch_dtype = j.at("torch_dtype").get<std::string>();
  } else if (j.contains("dtype") && j.at("dtype").is_string()) {
    c.torch_dtype = j.at("dtype").get<std::string>();
  }
  return c;
}

Result<std::unique_ptr<XlmRobertaModel>> XlmRobertaModel::load(const ModelConfig& c,
                                                               const WeightStore& w,
                                                               Backend& backend) {
  auto m = std::unique_ptr<XlmRobertaModel>(new XlmRobertaModel(c, backend));
  SGLANG_ASSIGN_OR_RETURN(m->hidden_act_, hidden_activation(c.hidden_act));
  SGLANG_ASSIGN_OR_RETURN(m->score_act_, score_activation(c.score_activation));
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const bool bert = c.architecture == Architecture::kBert;
  const bool embedding = c.head == Head::kEmbedding;
  // A cross-encoder's body sits under bert. / roberta.; an embedding model (BertModel,
  // XLMRobertaModel saved as such) has its tensors at the top, unless it was saved from a wrapper.
  std::string base = bert ? "bert." : "roberta.";
  if (embedding && w.contains("embeddings.word_embeddings.weight")) base.clear();
  auto vec = [&](const std::string& name, int64_t n) -> Result<Tensor> {
    SGLANG_ASSIGN_OR_RETURN(auto t, w.get(name, {n}));
    return backend.load_vector({t});
  };
  auto mat = [&](const std::string& name, int64_t rows, int64_t cols) -> Result<Tensor> {
    SGLANG_ASSIGN_OR_RETURN(auto t, w.get(name, {rows, cols}));
    return backend.load_matmul_weight({t}, c.weight_dtype);
  };

  const std::string e = base + "embeddings.";
  SGLANG_ASSIGN_OR_RETURN(m->word_embeddings_, mat(e + "word_embeddings.weight", c.vocab_size, h));
  SGLANG_ASSIGN_OR_RETURN(m->position_embeddings_,
                          mat(e + "position_embeddings.weight", c.max_position_embeddings, h));
  SGLANG_ASSIGN_OR_RETURN(m->token_type_embeddings_,
                          mat(e + "token_type_embeddings.weight", c.type_vocab_size, h));
  SGLANG_ASSIGN_OR_RETURN(m->embed_norm_, vec(e + "LayerNorm.weight", h));
  SGLANG_ASSIGN_OR_RETURN(m->embed_norm_bias_, vec(e + "LayerNorm.bias", h));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = base + "encoder.layer." + std::to_string(i) + ".";
    Layer l;
    SGLANG_ASSIGN_OR_RETURN(auto wq, w.get(p + "attention.self.query.weight", {h, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wk, w.get(p + "attention.self.key.weight", {h, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wv, w.get(p + "attention.self.value.weight", {h, h}));
    SGLANG_ASSIGN_OR_RETURN(auto bq, w.get(p + "attention.self.query.bias", {h}));
    SGLANG_ASSIGN_OR_RETURN(auto bk, w.get(p + "attention.self.key.bias", {h}));
    SGLANG_ASSIGN_OR_RETURN(auto bv, w.get(p + "attention.self.value.bias", {h}));
    l.qkv = backend.load_matmul_weight({wq, wk, wv}, c.weight_dtype);
    l.qkv_bias = backend.load_vector({bq, bk, bv});
    SGLANG_ASSIGN_OR_RETURN(l.attn_out, mat(p + "attention.output.dense.weight", h, h));
    SGLANG_ASSIGN_OR_RETURN(l.attn_out_bias, vec(p + "attention.output.dense.bias", h));
    SGLANG_ASSIGN_OR_RETURN(l.attn_norm, vec(p + "attention.output.LayerNorm.weight", h));
    SGLANG_ASSIGN_OR_RETURN(l.attn_norm_bias, vec(p + "attention.output.LayerNorm.bias", h));
    SGLANG_ASSIGN_OR_RETURN(l.up, mat(p + "intermediate.dense.weight", inter, h));
    SGLANG_ASSIGN_OR_RETURN(l.up_bias, vec(p + "intermediate.dense.bias", inter));
    SGLANG_ASSIGN_OR_RETURN(l.down, mat(p + "output.dense.weight", h, inter));
    SGLANG_ASSIGN_OR_RETURN(l.down_bias, vec(p + "output.dense.bias", h));
    SGLANG_ASSIGN_OR_RETURN(l.out_norm, vec(p + "output.LayerNorm.weight", h));
    SGLANG_ASSIGN_OR_RETURN(l.out_norm_bias, vec(p + "output.LayerNorm.bias", h));
    m->layers_.push_back(std::move(l));
  }
  // An embedding model pools the final hidden states: its pooler.dense (BertModel's
  // add_pooling_layer) is not read, as SGLang's BertModel skips it and sentence-transformers
  // never calls it.
  if (embedding) {
    SGLANG_LOG_INFO("Embedding pooling: {}{} ({})", pooling_type_name(c.pooling.type),
                    c.pooling.normalize ? ", normalized" : "", c.pooling.source);
    return m;
  }
  // The head: dense + tanh, then the num_labels projection (transformers' names).
  const std::string dense = bert ? base + "pooler.dense." : "classifier.dense.";
  const std::string out = bert ? "classifier." : "classifier.out_proj.";
  SGLANG_ASSIGN_OR_RETURN(m->head_dense_, mat(dense + "weight", h, h));
  SGLANG_ASSIGN_OR_RETURN(m->head_dense_bias_, vec(dense + "bias", h));
  SGLANG_ASSIGN_OR_RETURN(m->head_out_, mat(out + "weight", c.num_labels, h));
  SGLANG_ASSIGN_OR_RETURN(m->head_out_bias_, vec(out + "bias", c.num_labels));
  return m;
}

void XlmRobertaModel::ensure_workspace(int64_t tokens) {
  if (tokens <= ws_.capacity) return;
  const ModelConfig& c = config_;
  const int64_t cap = std::max<int64_t>(tokens, 2 * ws_.capacity);
  ws_.capacity = cap;
  ws_.hidden = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.sum = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.qkv = backend_.empty(DType::kF32, {cap, 3 * c.hidden_size});
  ws_.attn = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.proj = backend_.empty(DType::kF32, {cap, c.hidden_size});
  ws_.inter = backend_.empty(DType::kF32, {cap, c.intermediate_size});
}

std::vector<int32_t> XlmRobertaModel::position_ids(const ForwardBatch& batch) const {
  std::vector<int32_t> pos(batch.token_ids.size());
  const auto pad = static_cast<int32_t>(config_.pad_token_id);
  for (const auto& s : batch.seqs) {
    int32_t counted = 0;
    for (int64_t j = 0; j < s.num_new_tokens; ++j) {
      const auto t = static_cast<size_t>(s.first_token + j);
      if (config_.position_offset == 0) {
        pos[t] = static_cast<int32_t>(j);  // BERT
      } else if (batch.token_ids[t] == pad) {
        pos[t] = pad;
      } else {
        pos[t] = pad + ++counted;
      }
    }
  }
  return pos;
}

Status XlmRobertaModel::check_batch(const ForwardBatch& batch) const {
  // The model runner has checked the batch's layout, token ids and pages.
  auto bad = [](const std::string& m) { return make_error(ErrorCode::kInvalidArgument, m); };
  if (!batch.token_type_ids.empty()) {
    if (batch.token_type_ids.size() != batch.token_ids.size()) {
      return bad("token_type_ids do not match the batch's tokens");
    }
    for (int32_t t : batch.token_type_ids) {
      if (t < 0 || t >= config_.type_vocab_size) {
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
  for (int32_t p : position_ids(batch)) {
    if (p >= config_.max_position_embeddings) {
      return bad("the sequence is longer than the model's " +
                 std::to_string(config_.max_position_embeddings - config_.position_offset) +
                 " positions");
    }
  }
  return {};
}

Result<Tensor> XlmRobertaModel::forward(const ModelInput& in, KvCache& kv) {
  SGLANG_ASSIGN_OR_RETURN(Tensor hidden, run_encoder(in, kv));
  if (config_.head == Head::kEmbedding) return pool(*in.batch, hidden, config_.pooling);
  const Tensor first = first_tokens(*in.batch, hidden);
  Backend& be = backend_;
  const int64_t rows = first.rows();
  Tensor scores = be.empty(DType::kF32, {rows, config_.num_labels});
  if (rows == 0) return scores;
  Tensor pooled = be.empty(DType::kF32, {rows, config_.hidden_size});
  be.linear(first, head_dense_, &head_dense_bias_, pooled);
  be.activation(Activation::kTanh, pooled, pooled);
  be.linear(pooled, head_out_, &head_out_bias_, scores);
  if (score_act_) be.activation(*score_act_, scores, scores);
  return scores;
}

Result<Tensor> XlmRobertaModel::forward_hidden(const ModelInput& in, KvCache& kv) {
  SGLANG_ASSIGN_OR_RETURN(Tensor hidden, run_encoder(in, kv));
  if (config_.head == Head::kEmbedding) {
    SentencePooling raw = config_.pooling;
    raw.normalize = false;
    return pool(*in.batch, hidden, raw);
  }
  return first_tokens(*in.batch, hidden);
}

Tensor XlmRobertaModel::first_tokens(const ForwardBatch& batch, const Tensor& hidden) {
  // Each sequence's first token (<s> / [CLS]) is what the head reads.
  std::vector<int32_t> first_rows;
  for (const auto& s : batch.seqs) {
    if (s.logits == LogitsMode::kLast) first_rows.push_back(static_cast<int32_t>(s.first_token));
  }
  Backend& be = backend_;
  const auto R = static_cast<int64_t>(first_rows.size());
  Tensor first = be.empty(DType::kF32, {R, config_.hidden_size});
  if (R == 0) return first;
  Tensor rows = be.from_host(first_rows.data(), DType::kI32, {R});
  be.gather_rows(hidden, rows, first);
  return first;
}

Tensor XlmRobertaModel::pool(const ForwardBatch& batch, const Tensor& hidden,
                             const SentencePooling& pooling) {
  // Pooled on the host: the hidden states come back once (the vectors leave the device next
  // anyway), and a mean over ragged sequences needs no backend op of its own.
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

Result<Tensor> XlmRobertaModel::run_encoder(const ModelInput& in, KvCache& kv) {
  const ForwardBatch& batch = *in.batch;
  const ModelConfig& c = config_;
  Backend& be = backend_;
  const int64_t T = in.num_tokens, H = c.hidden_size;

  // The runner's metadata serves as it is (prefix 0: each sequence's KV length is its tokens); the
  // encoder's own are its position ids, its token types and the first token of each sequence.
  const std::vector<int32_t> positions = position_ids(batch);
  const std::vector<int32_t> zero_types(batch.token_type_ids.empty() ? static_cast<size_t>(T) : 0);
  const std::vector<int32_t>& types =
      batch.token_type_ids.empty() ? zero_types : batch.token_type_ids;
  const Tensor& ids = in.token_ids;
  Tensor pos_t = be.from_host(positions.data(), DType::kI32, {T});
  Tensor types_t = be.from_host(types.data(), DType::kI32, {T});
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
  const Tensor inter = ws_.inter.rows_view(0, T);
  const float eps = static_cast<float>(c.layer_norm_eps);

  // Embeddings: word + position + token type, then LayerNorm.
  be.embedding(ids, word_embeddings_, sum);
  be.embedding(pos_t, position_embeddings_, proj);
  be.add(sum, proj, sum);
  be.embedding(types_t, token_type_embeddings_, proj);
  be.add(sum, proj, sum);
  be.layer_norm(sum, embed_norm_, embed_norm_bias_, eps, hidden);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const auto layer = static_cast<int64_t>(i);
    be.linear(hidden, l.qkv, &l.qkv_bias, qkv);
    be.store_kv(k, v, meta, kv.k(layer), kv.v(layer));
    be.attention(q, kv.k(layer), kv.v(layer), meta, ap, attn);
    // Post-LN: each sublayer's output joins the residual stream, then the LayerNorm.
    be.linear(attn, l.attn_out, &l.attn_out_bias, proj);
    be.add(proj, hidden, sum);
    be.layer_norm(sum, l.attn_norm, l.attn_norm_bias, eps, hidden);
    be.linear(hidden, l.up, &l.up_bias, inter);
    be.activation(hidden_act_, inter, inter);
    be.linear(inter, l.down, &l.down_bias, proj);
    be.add(proj, hidden, sum);
    be.layer_norm(sum, l.out_norm, l.out_norm_bias, eps, hidden);
  }

  return hidden;
}

}  // namespace sglang
