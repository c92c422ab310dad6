#include "model/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/gguf_model.h"
#include "model/xlm_roberta.h"

namespace sglang {
namespace {

using nlohmann::json;

class FieldReader {
 public:
  FieldReader(const json& j, const std::string& source) : j_(j), source_(source) {}

  Error missing(const std::string& field) const {
    return make_error(ErrorCode::kNotFound, "missing field '" + field + "' in " + source_);
  }
  Error wrong_type(const std::string& field, const char* want) const {
    return make_error(ErrorCode::kCorrupt, "field '" + field + "' in " + source_ + " must be " +
                                               want + ", got " + j_.at(field).dump());
  }

  Result<int64_t> required_int(const std::string& field) const {
    if (!j_.contains(field) || j_.at(field).is_null()) return missing(field);
    return int_value(field);
  }
  Result<int64_t> optional_int(const std::string& field, int64_t fallback) const {
    if (!j_.contains(field) || j_.at(field).is_null()) return fallback;
    return int_value(field);
  }
  Result<double> optional_double(const std::string& field, double fallback) const {
    if (!j_.contains(field) || j_.at(field).is_null()) return fallback;
    if (!j_.at(field).is_number()) return wrong_type(field, "a number");
    return j_.at(field).get<double>();
  }
  Result<bool> optional_bool(const std::string& field, bool fallback) const {
    if (!j_.contains(field) || j_.at(field).is_null()) return fallback;
    if (!j_.at(field).is_boolean()) return wrong_type(field, "a boolean");
    return j_.at(field).get<bool>();
  }
  // An int or a list of ints (Llama 3.1's eos_token_id is a list).
  Result<std::vector<int64_t>> optional_int_list(const std::string& field) const {
    std::vector<int64_t> out;
    if (!j_.contains(field) || j_.at(field).is_null()) return out;
    const json& v = j_.at(field);
    if (v.is_number_integer()) {
      out.push_back(v.get<int64_t>());
    } else if (v.is_array()) {
      for (const json& e : v) {
        if (!e.is_number_integer()) return wrong_type(field, "an integer or a list of integers");
        out.push_back(e.get<int64_t>());
      }
    } else {
      return wrong_type(field, "an integer or a list of integers");
    }
    return out;
  }

 private:
  Result<int64_t> int_value(const std::string& field) const {
    const json& v = j_.at(field);
    if (!v.is_number_integer()) return wrong_type(field, "an integer");
    return v.get<int64_t>();
  }
  const json& j_;
  const std::string& source_;
};

Result<RopeScaling> parse_rope_scaling(const json& j, const std::string& source) {
  RopeScaling rs;
  if (!j.contains("rope_scaling") || j.at("rope_scaling").is_null()) return rs;
  const json& r = j.at("rope_scaling");
  if (!r.is_object()) {
    return make_error(ErrorCode::kCorrupt,
                      "field 'rope_scaling' in " + source + " must be an object");
  }
  // transformers accepts both "rope_type" and the older "type".
  std::string type;
  if (r.contains("rope_type") && r.at("rope_type").is_string()) {
    type = r.at("rope_type").get<std::string>();
  } else if (r.contains("type") && r.at("type").is_string()) {
    type = r.at("type").get<std::string>();
  } else {
    return make_error(ErrorCode::kNotFound, "missing field 'rope_scaling.rope_type' in " + source);
  }
  FieldReader f(r, source);
  if (type == "default") return rs;
  if (type == "linear") {
    rs.type = RopeScaling::Type::kLinear;
  } else if (type == "llama3") {
    rs.type = RopeScaling::Type::kLlama3;
  } else {
    return make_error(ErrorCode::kUnsupported, "unsupported 'rope_scaling.rope_type' \"" + type +
                                                   "\" in " + source +
                                                   " (supported: default, linear, llama3)");
  }
  if (!r.contains("factor")) {
    return make_error(ErrorCode::kNotFound, "missing field 'rope_scaling.factor' in " + source);
  }
  SGLANG_ASSIGN_OR_RETURN(rs.factor, f.optional_double("factor", 1.0));
  if (rs.type == RopeScaling::Type::kLlama3) {
    for (const char* name :
         {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
      if (!r.contains(name)) {
        return make_error(ErrorCode::kNotFound,
                          std::string("missing field 'rope_scaling.") + name + "' in " + source);
      }
    }
    SGLANG_ASSIGN_OR_RETURN(rs.low_freq_factor, f.optional_double("low_freq_factor", 1.0));
    SGLANG_ASSIGN_OR_RETURN(rs.high_freq_factor, f.optional_double("high_freq_factor", 4.0));
    SGLANG_ASSIGN_OR_RETURN(rs.original_max_position_embeddings,
                            f.optional_int("original_max_position_embeddings", 8192));
  }
  return rs;
}

// Qwen2MoeConfig's fields, with its defaults.
Result<MoeConfig> parse_moe_config(const FieldReader& f, int64_t num_layers,
                                   const std::string& source) {
  MoeConfig m;
  SGLANG_ASSIGN_OR_RETURN(m.num_experts, f.optional_int("num_experts", 60));
  SGLANG_ASSIGN_OR_RETURN(m.num_experts_per_tok, f.optional_int("num_experts_per_tok", 4));
  SGLANG_ASSIGN_OR_RETURN(m.moe_intermediate_size, f.optional_int("moe_intermediate_size", 1408));
  SGLANG_ASSIGN_OR_RETURN(m.shared_expert_intermediate_size,
                          f.optional_int("shared_expert_intermediate_size", 5632));
  SGLANG_ASSIGN_OR_RETURN(m.norm_topk_prob, f.optional_bool("norm_topk_prob", false));
  SGLANG_ASSIGN_OR_RETURN(m.decoder_sparse_step, f.optional_int("decoder_sparse_step", 1));
  SGLANG_ASSIGN_OR_RETURN(m.mlp_only_layers, f.optional_int_list("mlp_only_layers"));
  auto bad = [&](const std::string& what) {
    return make_error(ErrorCode::kCorrupt, what + " in " + source);
  };
  if (m.num_experts < 0) return bad("field 'num_experts' must not be negative");
  if (m.num_experts == 0) return m;  // as transformers: every layer dense
  if (m.num_experts_per_tok <= 0 || m.num_experts_per_tok > m.num_experts) {
    return bad("field 'num_experts_per_tok' must be between 1 and num_experts");
  }
  if (m.moe_intermediate_size <= 0) return bad("field 'moe_intermediate_size' must be positive");
  if (m.shared_expert_intermediate_size < 0) {
    return bad("field 'shared_expert_intermediate_size' must not be negative");
  }
  if (m.decoder_sparse_step <= 0) return bad("field 'decoder_sparse_step' must be positive");
  for (int64_t l : m.mlp_only_layers) {
    if (l < 0 || l >= num_layers) {
      return bad("field 'mlp_only_layers' names layer " + std::to_string(l) + ", outside 0.." +
                 std::to_string(num_layers - 1));
    }
  }
  return m;
}

}  // namespace

bool ModelConfig::is_sparse_layer(int64_t layer) const {
  if (!is_moe()) return false;
  for (int64_t l : moe.mlp_only_layers) {
    if (l == layer) return false;
  }
  return (layer + 1) % moe.decoder_sparse_step == 0;
}

Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kCorrupt, source + " is not a valid JSON object");
  }
  ModelConfig c;
  if (!j.contains("architectures") || !j.at("architectures").is_array() ||
      j.at("architectures").empty() || !j.at("architectures")[0].is_string()) {
    return make_error(ErrorCode::kNotFound, "missing field 'architectures' in " + source);
  }
  c.architecture_name = j.at("architectures")[0].get<std::string>();
  const std::string& an = c.architecture_name;
  const std::string kCls = "ForSequenceClassification";
  if (an.size() > kCls.size() && an.compare(an.size() - kCls.size(), kCls.size(), kCls) == 0) {
    c.head = Head::kSequenceClassification;
  }
  const std::string family = an.substr(0, an.find("For"));
  // The BERT family: cross-encoders (*ForSequenceClassification) and, with no head, embedding
  // models (BertModel, XLMRobertaModel, RobertaModel).
  if (family == "XLMRoberta" || family == "Roberta" || family == "Bert" || an == "BertModel" ||
      an == "XLMRobertaModel" || an == "RobertaModel") {
    return parse_encoder_config(j, source);
  }
  if (family == "Llama") {
    c.architecture = Architecture::kLlama;
  } else if (family == "Qwen2") {
    c.architecture = Architecture::kQwen2;
  } else if (family == "Mistral") {
    c.architecture = Architecture::kMistral;
  } else if (family == "Qwen2Moe") {
    c.architecture = Architecture::kQwen2Moe;
  }
  const bool known_head = an == family + "ForCausalLM" || an == family + kCls;
  if (!known_head ||
      (family != "Llama" && family != "Qwen2" && family != "Mistral" && family != "Qwen2Moe")) {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported architecture '" + an + "' in field 'architectures' of " +
                          source +
                          " (supported: LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM, "
                          "Qwen2MoeForCausalLM and their ForSequenceClassification variants, "
                          "XLMRobertaForSequenceClassification, RobertaForSequenceClassification, "
                          "BertForSequenceClassification, BertModel, XLMRobertaModel, "
                          "RobertaModel)");
  }
  if (c.head == Head::kSequenceClassification) {
    // transformers' PretrainedConfig: num_labels is the size of id2label (2 when absent).
    c.num_labels = 2;
    if (j.contains("id2label") && j["id2label"].is_object()) {
      c.num_labels = static_cast<int64_t>(j["id2label"].size());
    }
    if (j.contains("num_labels") && j["num_labels"].is_number_integer()) {
      c.num_labels = j["num_labels"].get<int64_t>();
    }
    if (c.num_labels <= 0) {
      return make_error(ErrorCode::kCorrupt, "num_labels in " + source + " must be positive");
    }
  }
  c.model_type = j.value("model_type", std::string());

  FieldReader f(j, source);
  SGLANG_ASSIGN_OR_RETURN(c.hidden_size, f.required_int("hidden_size"));
  SGLANG_ASSIGN_OR_RETURN(c.num_hidden_layers, f.required_int("num_hidden_layers"));
  SGLANG_ASSIGN_OR_RETURN(c.num_attention_heads, f.required_int("num_attention_heads"));
  SGLANG_ASSIGN_OR_RETURN(c.intermediate_size, f.required_int("intermediate_size"));
  SGLANG_ASSIGN_OR_RETURN(c.vocab_size, f.required_int("vocab_size"));
  SGLANG_ASSIGN_OR_RETURN(c.num_key_value_heads,
                          f.optional_int("num_key_value_heads", c.num_attention_heads));
  if (c.hidden_size <= 0 || c.num_hidden_layers <= 0 || c.num_attention_heads <= 0 ||
      c.intermediate_size <= 0 || c.vocab_size <= 0 || c.num_key_value_heads <= 0) {
    return make_error(ErrorCode::kCorrupt, "sizes in " + source + " must be positive");
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return make_error(ErrorCode::kCorrupt, "field 'num_attention_heads' in " + source +
                                               " must be a multiple of 'num_key_value_heads'");
  }
  SGLANG_ASSIGN_OR_RETURN(c.head_dim,
                          f.optional_int("head_dim", c.hidden_size / c.num_attention_heads));
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) {
    return make_error(ErrorCode::kCorrupt,
                      "field 'head_dim' in " + source + " must be positive and even");
  }

  // Defaults of transformers' LlamaConfig / Qwen2Config / MistralConfig / Qwen2MoeConfig (whose
  // attention is Qwen2's).
  const bool is_qwen2 =
      c.architecture == Architecture::kQwen2 || c.architecture == Architecture::kQwen2Moe;
  const bool is_mistral = c.architecture == Architecture::kMistral;
  const int64_t default_max_pos = is_qwen2 ? 32768 : (is_mistral ? 4096 * 32 : 2048);
  SGLANG_ASSIGN_OR_RETURN(c.max_position_embeddings,
                          f.optional_int("max_position_embeddings", default_max_pos));
  SGLANG_ASSIGN_OR_RETURN(c.rms_norm_eps, f.optional_double("rms_norm_eps", 1e-6));
  SGLANG_ASSIGN_OR_RETURN(c.rope_theta, f.optional_double("rope_theta", 10000.0));
  SGLANG_ASSIGN_OR_RETURN(c.rope_scaling, parse_rope_scaling(j, source));
  SGLANG_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.optional_bool("tie_word_embeddings", false));
  if (is_qwen2) {
    // Qwen2Attention always has q/k/v bias and no o_proj bias.
    c.attention_bias = true;
    c.o_proj_bias = false;
  } else {
    SGLANG_ASSIGN_OR_RETURN(c.attention_bias, f.optional_bool("attention_bias", false));
    c.o_proj_bias = c.attention_bias;
  }
  SGLANG_ASSIGN_OR_RETURN(c.mlp_bias, f.optional_bool("mlp_bias", false));

  std::string act = j.value("hidden_act", std::string("silu"));
  if (act != "silu") {
    return make_error(ErrorCode::kUnsupported, "unsupported field 'hidden_act' = \"" + act +
                                                   "\" in " + source + " (supported: silu)");
  }
  // Sliding window: Mistral applies it when set; Qwen2 only when use_sliding_window is true.
  bool use_sliding = is_mistral;
  if (is_qwen2) {
    SGLANG_ASSIGN_OR_RETURN(use_sliding, f.optional_bool("use_sliding_window", false));
  }
  if (use_sliding) {
    SGLANG_ASSIGN_OR_RETURN(c.sliding_window, f.optional_int("sliding_window", 0));
  }
  if (c.architecture == Architecture::kQwen2Moe) {
    SGLANG_ASSIGN_OR_RETURN(c.moe, parse_moe_config(f, c.num_hidden_layers, source));
  }
  SGLANG_ASSIGN_OR_RETURN(c.bos_token_ids, f.optional_int_list("bos_token_id"));
  SGLANG_ASSIGN_OR_RETURN(c.eos_token_ids, f.optional_int_list("eos_token_id"));
  if (j.contains("torch_dtype") && j.at("torch_dtype").is_string()) {
    c.torch_dtype = j.at("torch_dtype").get<std::string>();
  } else if (j.contains("dtype") && j.at("dtype").is_string()) {  // transformers >= 4.56 name
    c.torch_dtype = j.at("dtype").get<std::string>();
  }
  return c;
}

Result<ModelConfig> load_model_config(const std::string& model_dir) {
  SGLANG_ASSIGN_OR_RETURN(std::string gguf_path, find_gguf_file(model_dir));
  if (!gguf_path.empty()) {
    SGLANG_ASSIGN_OR_RETURN(auto gguf, GgufFile::open(gguf_path));
    SGLANG_ASSIGN_OR_RETURN(auto config, hf_config_from_gguf(*gguf));
    return parse_model_config(config.dump(), gguf_path);
  }
  std::string path = model_dir + "/config.json";
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  SGLANG_ASSIGN_OR_RETURN(ModelConfig c, parse_model_config(ss.str(), path));
  if (c.head == Head::kEmbedding) {
    // The folder's sentence-transformers modules choose the pooling (model/sentence_pooling.h).
    SGLANG_ASSIGN_OR_RETURN(c.pooling, read_sentence_pooling(model_dir, c.pooling));
  }
  return c;
}

}  // namespace sglang
