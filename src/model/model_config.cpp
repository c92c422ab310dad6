#include "model/model_config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/config_fields.h"
#include "model/gguf_model.h"
#include "model/model_registry.h"

namespace sglang {
namespace {

using nlohmann::json;

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
  ConfigFields f(r, source);
  if (type == "default") return rs;
  if (type == "linear") {
    rs.type = RopeScaling::Type::kLinear;
  } else if (type == "llama3") {
    rs.type = RopeScaling::Type::kLlama3;
  } else if (type == "longrope") {
    // Phi-3: the factor lists here; original_max_position_embeddings and the attention factor
    // come with the rest of the config (parse_decoder_config).
    rs.type = RopeScaling::Type::kLongRope;
    for (const char* name : {"short_factor", "long_factor"}) {
      if (!r.contains(name) || !r.at(name).is_array()) {
        return make_error(ErrorCode::kNotFound, std::string("missing field 'rope_scaling.") + name +
                                                    "' (a list of numbers) in " + source);
      }
      std::vector<double>& out =
          std::string(name) == "short_factor" ? rs.short_factor : rs.long_factor;
      for (const json& v : r.at(name)) {
        if (!v.is_number()) {
          return make_error(ErrorCode::kCorrupt, std::string("field 'rope_scaling.") + name +
                                                     "' in " + source + " must hold numbers");
        }
        out.push_back(v.get<double>());
      }
    }
    SGLANG_ASSIGN_OR_RETURN(rs.attention_factor, f.optional_double("attention_factor", 0.0));
    return rs;
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported 'rope_scaling.rope_type' \"" + type + "\" in " + source +
                          " (supported: default, linear, llama3, longrope)");
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

// transformers' layer_types: one "sliding_attention" / "full_attention" per layer; absent: empty.
Result<std::vector<std::string>> parse_layer_types(const json& j, int64_t num_layers,
                                                   const std::string& source) {
  std::vector<std::string> out;
  if (!j.contains("layer_types") || j.at("layer_types").is_null()) return out;
  const json& v = j.at("layer_types");
  if (!v.is_array() || static_cast<int64_t>(v.size()) != num_layers) {
    return make_error(ErrorCode::kCorrupt,
                      "field 'layer_types' in " + source + " must list one type per layer");
  }
  for (const json& t : v) {
    if (!t.is_string() ||
        (t.get<std::string>() != "sliding_attention" && t.get<std::string>() != "full_attention")) {
      return make_error(ErrorCode::kUnsupported,
                        "field 'layer_types' in " + source + " holds " + t.dump() +
                            " (supported: sliding_attention, full_attention)");
    }
    out.push_back(t.get<std::string>());
  }
  return out;
}

// Qwen2MoeConfig's fields, with its defaults; Qwen3MoeConfig's (no shared expert) when `qwen3`.
Result<MoeConfig> parse_moe_config(const ConfigFields& f, int64_t num_layers, bool qwen3,
                                   const std::string& source) {
  MoeConfig m;
  SGLANG_ASSIGN_OR_RETURN(m.num_experts, f.optional_int("num_experts", qwen3 ? 128 : 60));
  SGLANG_ASSIGN_OR_RETURN(m.num_experts_per_tok,
                          f.optional_int("num_experts_per_tok", qwen3 ? 8 : 4));
  SGLANG_ASSIGN_OR_RETURN(m.moe_intermediate_size,
                          f.optional_int("moe_intermediate_size", qwen3 ? 768 : 1408));
  if (!qwen3) {
    SGLANG_ASSIGN_OR_RETURN(m.shared_expert_intermediate_size,
                            f.optional_int("shared_expert_intermediate_size", 5632));
  }
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
  if (!j.contains("architectures") || !j.at("architectures").is_array() ||
      j.at("architectures").empty() || !j.at("architectures")[0].is_string()) {
    return make_error(ErrorCode::kNotFound, "missing field 'architectures' in " + source);
  }
  const std::string name = j.at("architectures")[0].get<std::string>();
  const ModelArchitecture* arch = find_model_architecture(name);
  if (arch == nullptr) {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported architecture '" + name + "' in field 'architectures' of " +
                          source + " (supported: " + supported_architectures() + ")");
  }
  // The parsers check each field's type before reading it; this is the backstop that keeps a
  // missed check an error naming the file rather than an uncaught exception (fuzz_model_config).
  try {
    return arch->parse_config(j, source, *arch);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kCorrupt, "malformed " + source + ": " + e.what());
  }
}

Result<ModelConfig> parse_decoder_config(const nlohmann::json& j, const std::string& source,
                                         Architecture architecture, Head head) {
  ModelConfig c;
  c.architecture_name = j.at("architectures")[0].get<std::string>();
  c.architecture = architecture;
  c.head = head;
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
  ConfigFields f(j, source);
  SGLANG_ASSIGN_OR_RETURN(c.model_type, f.optional_string("model_type", ""));
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
  // Qwen3Config's head_dim defaults to 128, Gemma's to 256, the others' to hidden_size /
  // num_attention_heads.
  const bool is_qwen3 =
      c.architecture == Architecture::kQwen3 || c.architecture == Architecture::kQwen3Moe;
  const bool is_gemma2 = c.architecture == Architecture::kGemma2;
  const bool is_gemma3 = c.architecture == Architecture::kGemma3;
  const bool is_gemma = is_gemma2 || is_gemma3;
  const bool is_phi3 = c.architecture == Architecture::kPhi3;
  SGLANG_ASSIGN_OR_RETURN(
      c.head_dim, f.optional_int("head_dim", is_qwen3   ? 128
                                             : is_gemma ? 256
                                                        : c.hidden_size / c.num_attention_heads));
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) {
    return make_error(ErrorCode::kCorrupt,
                      "field 'head_dim' in " + source + " must be positive and even");
  }

  // Defaults of transformers' LlamaConfig / Qwen2Config / MistralConfig / Qwen2MoeConfig (whose
  // attention is Qwen2's) / Qwen3Config / Qwen3MoeConfig.
  const bool is_qwen2 =
      c.architecture == Architecture::kQwen2 || c.architecture == Architecture::kQwen2Moe;
  const bool is_mistral = c.architecture == Architecture::kMistral;
  const int64_t default_max_pos = is_qwen2 || is_qwen3 ? 32768
                                  : is_mistral         ? 4096 * 32
                                  : is_gemma2          ? 8192
                                  : is_gemma3          ? 131072
                                  : is_phi3            ? 4096
                                                       : 2048;
  SGLANG_ASSIGN_OR_RETURN(c.max_position_embeddings,
                          f.optional_int("max_position_embeddings", default_max_pos));
  SGLANG_ASSIGN_OR_RETURN(c.rms_norm_eps, f.optional_double("rms_norm_eps", is_phi3 ? 1e-5 : 1e-6));
  SGLANG_ASSIGN_OR_RETURN(c.rope_theta,
                          f.optional_double("rope_theta", is_gemma3 ? 1000000.0 : 10000.0));
  SGLANG_ASSIGN_OR_RETURN(c.rope_scaling, parse_rope_scaling(j, source));
  SGLANG_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.optional_bool("tie_word_embeddings", is_gemma));
  c.rotary_dim = c.head_dim;
  if (is_phi3) {
    // Phi3Config: partial_rotary_factor (Phi-4-mini 0.75) rotates int(head_dim * factor) dims.
    SGLANG_ASSIGN_OR_RETURN(const double partial, f.optional_double("partial_rotary_factor", 1.0));
    c.rotary_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * partial);
    if (c.rotary_dim <= 0 || c.rotary_dim > c.head_dim || c.rotary_dim % 2 != 0) {
      return make_error(ErrorCode::kCorrupt, "field 'partial_rotary_factor' in " + source +
                                                 " must leave an even number of rotated dims");
    }
  }
  if (c.rope_scaling.type == RopeScaling::Type::kLongRope) {
    // transformers' _compute_longrope_parameters: the factor is max_position_embeddings over
    // original_max_position_embeddings (Phi3Config's field), the attention factor follows it.
    RopeScaling& rs = c.rope_scaling;
    SGLANG_ASSIGN_OR_RETURN(
        rs.original_max_position_embeddings,
        f.optional_int("original_max_position_embeddings", c.max_position_embeddings));
    if (rs.original_max_position_embeddings <= 0) {
      return make_error(ErrorCode::kCorrupt, "field 'original_max_position_embeddings' in " +
                                                 source + " must be positive");
    }
    const double factor = static_cast<double>(c.max_position_embeddings) /
                          static_cast<double>(rs.original_max_position_embeddings);
    if (rs.attention_factor <= 0.0) {
      rs.attention_factor =
          factor <= 1.0
              ? 1.0
              : std::sqrt(1.0 + std::log(factor) / std::log(static_cast<double>(
                                                       rs.original_max_position_embeddings)));
    }
    const auto half = static_cast<size_t>(c.rotary_dim / 2);
    if (rs.short_factor.size() != half || rs.long_factor.size() != half) {
      return make_error(ErrorCode::kCorrupt,
                        "fields 'rope_scaling.short_factor' and "
                        "'rope_scaling.long_factor' in " +
                            source + " must hold " + std::to_string(half) +
                            " values (rotary dims / 2)");
    }
  }
  if (is_qwen2) {
    // Qwen2Attention always has q/k/v bias and no o_proj bias.
    c.attention_bias = true;
    c.o_proj_bias = false;
  } else {
    // Llama and Qwen3: attention_bias puts a bias on q/k/v and o_proj alike.
    SGLANG_ASSIGN_OR_RETURN(c.attention_bias, f.optional_bool("attention_bias", false));
    c.o_proj_bias = c.attention_bias;
  }
  // Qwen3Attention: an RMSNorm over each head of q and of k (head_dim weights), before the rotary.
  c.qk_norm = is_qwen3;
  SGLANG_ASSIGN_OR_RETURN(c.mlp_bias, f.optional_bool("mlp_bias", false));

  if (is_gemma) {
    // GemmaMLP reads hidden_activation (the tanh GELU by default).
    SGLANG_ASSIGN_OR_RETURN(c.hidden_act,
                            f.optional_string("hidden_activation", "gelu_pytorch_tanh"));
    if (c.hidden_act != "gelu_pytorch_tanh" && c.hidden_act != "gelu_new" &&
        c.hidden_act != "gelu") {
      return make_error(ErrorCode::kUnsupported,
                        "unsupported field 'hidden_activation' = \"" + c.hidden_act + "\" in " +
                            source + " (supported: gelu_pytorch_tanh, gelu_new, gelu)");
    }
    SGLANG_ASSIGN_OR_RETURN(c.query_pre_attn_scalar,
                            f.optional_double("query_pre_attn_scalar", 256.0));
    if (c.query_pre_attn_scalar <= 0) {
      return make_error(ErrorCode::kCorrupt,
                        "field 'query_pre_attn_scalar' in " + source + " must be positive");
    }
    // Gemma 2 soft-caps by default (50 and 30) when the field is absent, Gemma 3 does not; an
    // explicit null is none (transformers keeps None).
    auto softcap = [&](const char* name) -> Result<double> {
      if (j.contains(name) && j.at(name).is_null()) return 0.0;
      const double fallback =
          !is_gemma2 ? 0.0 : (std::string(name) == "attn_logit_softcapping" ? 50.0 : 30.0);
      return f.optional_double(name, fallback);
    };
    SGLANG_ASSIGN_OR_RETURN(c.attn_logit_softcapping, softcap("attn_logit_softcapping"));
    SGLANG_ASSIGN_OR_RETURN(c.final_logit_softcapping, softcap("final_logit_softcapping"));
    if (c.attn_logit_softcapping < 0 || c.final_logit_softcapping < 0) {
      return make_error(ErrorCode::kCorrupt,
                        "soft-capping fields in " + source + " must not be negative");
    }
    SGLANG_ASSIGN_OR_RETURN(c.sliding_window, f.optional_int("sliding_window", 4096));
    if (c.sliding_window <= 0) {
      return make_error(ErrorCode::kCorrupt,
                        "field 'sliding_window' in " + source + " must be positive");
    }
    if (is_gemma3) {
      c.qk_norm = true;
      SGLANG_ASSIGN_OR_RETURN(c.rope_local_base_freq,
                              f.optional_double("rope_local_base_freq", 10000.0));
      SGLANG_ASSIGN_OR_RETURN(const bool bidirectional,
                              f.optional_bool("use_bidirectional_attention", false));
      if (bidirectional) {
        return make_error(ErrorCode::kUnsupported,
                          "use_bidirectional_attention in " + source + " is not supported");
      }
    }
    // layer_types as written, else transformers' default pattern: Gemma 2 alternates (layer 0
    // sliding), Gemma 3 has a full layer every sliding_window_pattern (6) layers.
    SGLANG_ASSIGN_OR_RETURN(const int64_t pattern,
                            f.optional_int("sliding_window_pattern", is_gemma2 ? 2 : 6));
    SGLANG_ASSIGN_OR_RETURN(c.layer_types, parse_layer_types(j, c.num_hidden_layers, source));
    if (c.layer_types.empty()) {
      if (pattern <= 0) {
        return make_error(ErrorCode::kCorrupt,
                          "field 'sliding_window_pattern' in " + source + " must be positive");
      }
      for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        c.layer_types.push_back((i + 1) % pattern != 0 ? "sliding_attention" : "full_attention");
      }
    }
  } else {
    SGLANG_ASSIGN_OR_RETURN(std::string act, f.optional_string("hidden_act", "silu"));
    if (act != "silu") {
      return make_error(ErrorCode::kUnsupported, "unsupported field 'hidden_act' = \"" + act +
                                                     "\" in " + source + " (supported: silu)");
    }
  }
  // Sliding window: Mistral and Phi-3 apply it when set; Qwen2 only when use_sliding_window is
  // true; Gemma per layer_types (above).
  bool use_sliding = is_mistral || is_phi3;
  if (is_qwen2 || is_qwen3) {
    SGLANG_ASSIGN_OR_RETURN(use_sliding, f.optional_bool("use_sliding_window", false));
  }
  if (use_sliding && is_qwen3) {
    // Qwen3Config's layer_types: layers from max_window_layers on slide.
    SGLANG_ASSIGN_OR_RETURN(const int64_t max_window_layers,
                            f.optional_int("max_window_layers", 28));
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      c.layer_types.push_back(i >= max_window_layers ? "sliding_attention" : "full_attention");
    }
  }
  if (use_sliding) {
    SGLANG_ASSIGN_OR_RETURN(c.sliding_window, f.optional_int("sliding_window", 0));
  }
  if (c.architecture == Architecture::kQwen2Moe || c.architecture == Architecture::kQwen3Moe) {
    SGLANG_ASSIGN_OR_RETURN(c.moe, parse_moe_config(f, c.num_hidden_layers, is_qwen3, source));
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
