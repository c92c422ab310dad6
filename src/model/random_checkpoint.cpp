#include "model/random_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/safetensors_writer.h"
#include "util/half.h"
#include "util/mmap_file.h"

namespace sglang {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// Uniform in [center - half_width, center + half_width], as bf16. The uniform draw u is a multiple
// of 2^-24 and every step is a single IEEE float operation, so the result is the same everywhere.
void fill_uniform_bf16(uint8_t* dst, int64_t n, uint64_t stream, float center, float half_width) {
  auto* out = reinterpret_cast<uint16_t*>(dst);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = splitmix64(stream ^ splitmix64(static_cast<uint64_t>(i)));
    const float u = static_cast<float>(r >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    const float v = center + (2.0f * u - 1.0f) * half_width;
    out[i] = f32_to_bf16(v);
  }
}

CheckpointSpec base(const std::string& name, const std::string& arch, const std::string& type) {
  CheckpointSpec s;
  s.name = name;
  s.architecture = arch;
  s.model_type = type;
  return s;
}

CheckpointSpec qwen2(const std::string& name, int64_t hidden, int64_t layers, int64_t heads,
                     int64_t kv, int64_t inter, int64_t vocab, bool tied) {
  CheckpointSpec s = base(name, "Qwen2ForCausalLM", "qwen2");
  s.hidden_size = hidden;
  s.num_layers = layers;
  s.num_heads = heads;
  s.num_kv_heads = kv;
  s.head_dim = hidden / heads;
  s.intermediate_size = inter;
  s.vocab_size = vocab;
  s.max_position_embeddings = 32768;
  s.rms_norm_eps = 1e-6;
  s.rope_theta = 1000000.0;
  s.tie_word_embeddings = tied;
  s.qkv_bias = true;
  s.bos_token_id = 151643;
  s.eos_token_ids = {151645};
  return s;
}

CheckpointSpec llama3(const std::string& name, int64_t hidden, int64_t layers, int64_t heads,
                      int64_t kv, int64_t inter, bool tied, double factor) {
  CheckpointSpec s = base(name, "LlamaForCausalLM", "llama");
  s.hidden_size = hidden;
  s.num_layers = layers;
  s.num_heads = heads;
  s.num_kv_heads = kv;
  s.head_dim = hidden / heads;
  s.intermediate_size = inter;
  s.vocab_size = 128256;
  s.max_position_embeddings = 131072;
  s.rms_norm_eps = 1e-5;
  s.rope_theta = 500000.0;
  s.tie_word_embeddings = tied;
  s.llama3_factor = factor;
  s.bos_token_id = 128000;
  s.eos_token_ids = {128001, 128008, 128009};
  return s;
}

CheckpointSpec mistral(const std::string& name, int64_t hidden, int64_t layers, int64_t heads,
                       int64_t kv, int64_t inter, int64_t window) {
  CheckpointSpec s = base(name, "MistralForCausalLM", "mistral");
  s.hidden_size = hidden;
  s.num_layers = layers;
  s.num_heads = heads;
  s.num_kv_heads = kv;
  s.head_dim = hidden / heads;
  s.intermediate_size = inter;
  s.vocab_size = 32000;
  s.max_position_embeddings = 32768;
  s.rms_norm_eps = 1e-5;
  s.rope_theta = 10000.0;
  s.sliding_window = window;
  s.bos_token_id = 1;
  s.eos_token_ids = {2};
  return s;
}

CheckpointSpec encoder(const std::string& name, const std::string& arch, const std::string& type,
                       int64_t vocab, int64_t max_pos, int64_t type_vocab, int64_t pad,
                       double eps) {
  CheckpointSpec s = base(name, arch, type);
  s.hidden_size = 64;
  s.num_layers = 2;
  s.num_heads = 4;
  s.num_kv_heads = 4;
  s.head_dim = 16;
  s.intermediate_size = 128;
  s.vocab_size = vocab;
  s.max_position_embeddings = max_pos;
  s.type_vocab_size = type_vocab;
  s.pad_token_id = pad;
  s.layer_norm_eps = eps;
  s.num_labels = 1;
  return s;
}

bool is_encoder(const CheckpointSpec& s) {
  return s.architecture == "XLMRobertaForSequenceClassification" ||
         s.architecture == "BertForSequenceClassification" || s.architecture == "BertModel" ||
         s.architecture == "XLMRobertaModel";
}

// An embedding model's sentence-transformers files (modules.json, 1_Pooling/config.json), as
// sentence-transformers saves them: Transformer -> Pooling (`mode`) -> Normalize.
Status write_sentence_transformers_modules(const CheckpointSpec& s, const std::string& mode,
                                           const std::string& dir) {
  nlohmann::ordered_json modules = nlohmann::ordered_json::array();
  const char* kTypes[][3] = {{"0", "", "sentence_transformers.models.Transformer"},
                             {"1", "1_Pooling", "sentence_transformers.models.Pooling"},
                             {"2", "2_Normalize", "sentence_transformers.models.Normalize"}};
  for (int i = 0; i < 3; ++i) {
    modules.push_back(
        {{"idx", i}, {"name", kTypes[i][0]}, {"path", kTypes[i][1]}, {"type", kTypes[i][2]}});
  }
  nlohmann::ordered_json pooling;
  pooling["word_embedding_dimension"] = s.hidden_size;
  for (const char* m : {"cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                        "weightedmean_tokens", "lasttoken"}) {
    pooling[std::string("pooling_mode_") + m] = mode == m;
  }
  pooling["include_prompt"] = true;
  std::error_code ec;
  std::filesystem::create_directories(dir + "/1_Pooling", ec);
  std::ofstream m_out(dir + "/modules.json");
  m_out << modules.dump(2) << "\n";
  std::ofstream p_out(dir + "/1_Pooling/config.json");
  p_out << pooling.dump(2) << "\n";
  if (!m_out || !p_out)
    return make_error(ErrorCode::kInternal, "cannot write " + dir + "/modules.json");
  return {};
}

// config.json and weights of a BERT-family cross-encoder, in transformers' layout.
Status write_encoder_checkpoint(const CheckpointSpec& s, uint64_t seed, const std::string& dir) {
  const bool bert = s.architecture.rfind("Bert", 0) == 0;
  const bool embedding = s.num_labels == 0;  // BertModel / XLMRobertaModel: no head
  nlohmann::ordered_json cfg;
  cfg["architectures"] = {s.architecture};
  cfg["model_type"] = s.model_type;
  cfg["attention_probs_dropout_prob"] = 0.1;
  if (!bert) {
    cfg["bos_token_id"] = 0;
    cfg["eos_token_id"] = 2;
  }
  cfg["classifier_dropout"] = nullptr;
  cfg["hidden_act"] = "gelu";
  cfg["hidden_dropout_prob"] = 0.1;
  cfg["hidden_size"] = s.hidden_size;
  nlohmann::ordered_json id2label, label2id;
  for (int64_t i = 0; i < s.num_labels; ++i) {
    id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
    label2id["LABEL_" + std::to_string(i)] = i;
  }
  if (!embedding) cfg["id2label"] = id2label;
  cfg["initializer_range"] = 0.02;
  cfg["intermediate_size"] = s.intermediate_size;
  if (!embedding) cfg["label2id"] = label2id;
  cfg["layer_norm_eps"] = s.layer_norm_eps;
  cfg["max_position_embeddings"] = s.max_position_embeddings;
  cfg["num_attention_heads"] = s.num_heads;
  cfg["num_hidden_layers"] = s.num_layers;
  cfg["pad_token_id"] = s.pad_token_id;
  cfg["position_embedding_type"] = "absolute";
  cfg["torch_dtype"] = "bfloat16";
  cfg["type_vocab_size"] = s.type_vocab_size;
  cfg["use_cache"] = true;
  cfg["vocab_size"] = s.vocab_size;
  cfg["sglang_cpp_random_checkpoint"] = {{"shape", s.name}, {"seed", seed}};
  {
    std::ofstream out(dir + "/config.json");
    out << cfg.dump(2) << "\n";
    if (!out) return make_error(ErrorCode::kInternal, "cannot write " + dir + "/config.json");
  }

  SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float center,
                 float half_width) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const uint64_t stream = splitmix64(seed ^ fnv1a(name.data(), name.size()));
    writer.add_lazy(name, DType::kBF16, std::move(shape),
                    [=](uint8_t* dst) { fill_uniform_bf16(dst, n, stream, center, half_width); });
  };
  // Projections keep unit scale (std 1/sqrt(fan_in)); LayerNorms near identity; the last
  // projection of the head is wider so the scores of different inputs spread over a few units.
  const float sqrt3 = std::sqrt(3.0f);
  auto proj_width = [&](int64_t fan_in) { return sqrt3 / std::sqrt(static_cast<float>(fan_in)); };
  const int64_t h = s.hidden_size, inter = s.intermediate_size;
  // An embedding model (saved from BertModel / XLMRobertaModel) has its tensors at the top.
  const std::string b = embedding ? "" : bert ? "bert." : "roberta.";
  auto norm = [&](const std::string& p) {
    add(p + "weight", {h}, 1.0f, 0.25f);
    add(p + "bias", {h}, 0.0f, 0.1f);
  };
  auto linear = [&](const std::string& p, int64_t out, int64_t in, float width) {
    add(p + "weight", {out, in}, 0.0f, width);
    add(p + "bias", {out}, 0.0f, 0.1f);
  };
  add(b + "embeddings.word_embeddings.weight", {s.vocab_size, h}, 0.0f, 1.0f);
  add(b + "embeddings.position_embeddings.weight", {s.max_position_embeddings, h}, 0.0f, 0.5f);
  add(b + "embeddings.token_type_embeddings.weight", {s.type_vocab_size, h}, 0.0f, 0.5f);
  norm(b + "embeddings.LayerNorm.");
  for (int64_t i = 0; i < s.num_layers; ++i) {
    const std::string p = b + "encoder.layer." + std::to_string(i) + ".";
    for (const char* qkv : {"query", "key", "value"}) {
      linear(p + "attention.self." + qkv + ".", h, h, proj_width(h));
    }
    linear(p + "attention.output.dense.", h, h, proj_width(h));
    norm(p + "attention.output.LayerNorm.");
    linear(p + "intermediate.dense.", inter, h, proj_width(h));
    linear(p + "output.dense.", h, inter, proj_width(inter));
    norm(p + "output.LayerNorm.");
  }
  if (embedding) {
    // transformers' add_pooling_layer=True: the pooler is saved, an embedding server ignores it.
    linear("pooler.dense.", h, h, proj_width(h));
    // MiniLM's mean pooling for BERT, bge-m3's CLS pooling for XLM-RoBERTa; both normalised.
    SGLANG_RETURN_IF_ERROR(
        write_sentence_transformers_modules(s, bert ? "mean_tokens" : "cls_token", dir));
  } else if (bert) {
    linear(b + "pooler.dense.", h, h, proj_width(h));
    linear("classifier.", s.num_labels, h, 4.0f * proj_width(h));
  } else {
    linear("classifier.dense.", h, h, proj_width(h));
    linear("classifier.out_proj.", s.num_labels, h, 4.0f * proj_width(h));
  }
  return writer.write(dir + "/model.safetensors");
}

// config.json and weights of a NewModel (Alibaba-NLP/new-impl's GTE v1.5 layout), as
// gte-base-en-v1.5's config.json at toy size.
Status write_gte_checkpoint(const CheckpointSpec& s, uint64_t seed, const std::string& dir) {
  nlohmann::ordered_json cfg;
  cfg["architectures"] = {s.architecture};
  cfg["model_type"] = s.model_type;
  cfg["auto_map"] = {{"AutoConfig", "Alibaba-NLP/new-impl--configuration.NewConfig"},
                     {"AutoModel", "Alibaba-NLP/new-impl--modeling.NewModel"}};
  cfg["attention_probs_dropout_prob"] = 0.0;
  cfg["classifier_dropout"] = nullptr;
  cfg["hidden_act"] = "gelu";
  cfg["hidden_dropout_prob"] = 0.1;
  cfg["hidden_size"] = s.hidden_size;
  cfg["initializer_range"] = 0.02;
  cfg["intermediate_size"] = s.intermediate_size;
  cfg["layer_norm_eps"] = s.layer_norm_eps;
  cfg["layer_norm_type"] = "layer_norm";
  cfg["logn_attention_clip1"] = false;
  cfg["logn_attention_scale"] = false;
  cfg["max_position_embeddings"] = s.max_position_embeddings;
  cfg["num_attention_heads"] = s.num_heads;
  cfg["num_hidden_layers"] = s.num_layers;
  cfg["pack_qkv"] = true;
  cfg["pad_token_id"] = s.pad_token_id;
  cfg["position_embedding_type"] = "rope";
  cfg["rope_scaling"] = {{"factor", s.ntk_factor}, {"type", "ntk"}};
  cfg["rope_theta"] = s.rope_theta;
  cfg["torch_dtype"] = "bfloat16";
  cfg["type_vocab_size"] = s.type_vocab_size;
  cfg["unpad_inputs"] = false;
  cfg["use_memory_efficient_attention"] = false;
  cfg["vocab_size"] = s.vocab_size;
  cfg["sglang_cpp_random_checkpoint"] = {{"shape", s.name}, {"seed", seed}};
  {
    std::ofstream out(dir + "/config.json");
    out << cfg.dump(2) << "\n";
    if (!out) return make_error(ErrorCode::kInternal, "cannot write " + dir + "/config.json");
  }
  SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float center,
                 float half_width) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const uint64_t stream = splitmix64(seed ^ fnv1a(name.data(), name.size()));
    writer.add_lazy(name, DType::kBF16, std::move(shape),
                    [=](uint8_t* dst) { fill_uniform_bf16(dst, n, stream, center, half_width); });
  };
  const float sqrt3 = std::sqrt(3.0f);
  auto width = [&](int64_t fan_in) { return sqrt3 / std::sqrt(static_cast<float>(fan_in)); };
  const int64_t h = s.hidden_size, inter = s.intermediate_size;
  auto norm = [&](const std::string& p) {
    add(p + "weight", {h}, 1.0f, 0.25f);
    add(p + "bias", {h}, 0.0f, 0.1f);
  };
  add("embeddings.word_embeddings.weight", {s.vocab_size, h}, 0.0f, 1.0f);
  add("embeddings.token_type_embeddings.weight", {s.type_vocab_size, h}, 0.0f, 0.5f);
  norm("embeddings.LayerNorm.");
  for (int64_t i = 0; i < s.num_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    add(p + "attention.qkv_proj.weight", {3 * h, h}, 0.0f, width(h));
    add(p + "attention.qkv_proj.bias", {3 * h}, 0.0f, 0.1f);
    add(p + "attention.o_proj.weight", {h, h}, 0.0f, width(h));
    add(p + "attention.o_proj.bias", {h}, 0.0f, 0.1f);
    norm(p + "attn_ln.");
    add(p + "mlp.up_gate_proj.weight", {2 * inter, h}, 0.0f, width(h));
    add(p + "mlp.down_proj.weight", {h, inter}, 0.0f, width(inter));
    add(p + "mlp.down_proj.bias", {h}, 0.0f, 0.1f);
    norm(p + "mlp_ln.");
  }
  // gte-base-en-v1.5's sentence-transformers modules: CLS pooling (then Normalize).
  SGLANG_RETURN_IF_ERROR(write_sentence_transformers_modules(s, "cls_token", dir));
  return writer.write(dir + "/model.safetensors");
}

}  // namespace

std::vector<std::string> known_checkpoint_shapes() {
  return {"qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b", "llama-3.2-1b",
          "llama-3.2-3b", "llama-3.1-8b", "mistral-7b", "smollm2-135m"};
}

Result<CheckpointSpec> checkpoint_spec_like(const std::string& name) {
  // The real config.json values of each model (Hugging Face hub, as published).
  if (name == "qwen2.5-0.5b") return qwen2(name, 896, 24, 14, 2, 4864, 151936, true);
  if (name == "qwen2.5-1.5b") return qwen2(name, 1536, 28, 12, 2, 8960, 151936, true);
  if (name == "qwen2.5-7b") return qwen2(name, 3584, 28, 28, 4, 18944, 152064, false);
  if (name == "llama-3.2-1b") return llama3(name, 2048, 16, 32, 8, 8192, true, 32.0);
  if (name == "llama-3.2-3b") return llama3(name, 3072, 28, 24, 8, 8192, true, 32.0);
  if (name == "llama-3.1-8b") return llama3(name, 4096, 32, 32, 8, 14336, false, 8.0);
  if (name == "mistral-7b") return mistral(name, 4096, 32, 32, 8, 14336, 4096);
  if (name == "smollm2-135m") {
    CheckpointSpec s = llama3(name, 576, 30, 9, 3, 1536, true, 0.0);
    s.vocab_size = 49152;
    s.max_position_embeddings = 8192;
    s.rope_theta = 100000.0;
    s.bos_token_id = 1;
    s.eos_token_ids = {2};
    return s;
  }
  std::string known;
  for (const auto& k : known_checkpoint_shapes()) known += (known.empty() ? "" : ", ") + k;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown model shape '" + name + "' (known: " + known + ")");
}

Result<CheckpointSpec> checkpoint_spec_tiny(const std::string& arch) {
  if (arch.ends_with("-gguf")) {
    // The tiny checkpoint within what llama.cpp's GGUF metadata can say (tools/hf_to_gguf.py
    // refuses the rest): llama.cpp has no key for Gemma's query_pre_attn_scalar (it takes
    // head_dim) or layer pattern (a full layer every 2nd / 6th), and its qwen3moe has every
    // layer sparse.
    const std::string family = arch.substr(0, arch.size() - 5);
    if (family != "gemma2" && family != "gemma3" && family != "qwen3-moe") {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown --arch '" + arch + "' (-gguf: gemma2, gemma3, qwen3-moe)");
    }
    SGLANG_ASSIGN_OR_RETURN(CheckpointSpec s, checkpoint_spec_tiny(family));
    s.name += "-gguf";
    s.mlp_only_layers.clear();
    if (family != "qwen3-moe") s.query_pre_attn_scalar = static_cast<double>(s.head_dim);
    if (family == "gemma3") {
      s.num_layers = 6;  // five sliding layers, then a full one
      s.layer_types.assign(5, "sliding_attention");
      s.layer_types.push_back("full_attention");
    }
    return s;
  }
  if (arch == "qwen2") return qwen2("tiny-qwen2", 64, 2, 4, 2, 128, 151936, true);
  if (arch == "llama") {
    // Untied, Llama 3.1 rope scaling, and an explicit head_dim wider than hidden / heads.
    CheckpointSpec s = llama3("tiny-llama", 64, 2, 4, 2, 128, false, 8.0);
    s.head_dim = 32;
    s.explicit_head_dim = true;
    return s;
  }
  if (arch == "mistral") return mistral("tiny-mistral", 64, 2, 4, 2, 128, 48);
  if (arch == "qwen2-moe") {
    // Qwen1.5-MoE-A2.7B's layout at toy size: softmax top-k without renormalisation, a shared
    // expert; layer 1 is dense (mlp_only_layers), so both MLP kinds are exercised.
    CheckpointSpec s = qwen2("tiny-qwen2-moe", 64, 3, 4, 2, 128, 151936, false);
    s.architecture = "Qwen2MoeForCausalLM";
    s.model_type = "qwen2_moe";
    s.num_experts = 8;
    s.num_experts_per_tok = 2;
    s.moe_intermediate_size = 32;
    s.shared_expert_intermediate_size = 96;
    s.mlp_only_layers = {1};
    return s;
  }
  if (arch == "qwen3" || arch == "qwen3-moe") {
    // Qwen3's layout at toy size: per-head q/k norms, no q/k/v bias, an explicit head_dim wider
    // than hidden / heads. A 4096-token vocabulary keeps the golden data small. The MoE variant
    // is Qwen3-30B-A3B's: top-k renormalised, no shared expert; layer 1 dense (mlp_only_layers).
    const bool moe = arch == "qwen3-moe";
    CheckpointSpec s =
        qwen2(moe ? "tiny-qwen3-moe" : "tiny-qwen3", 64, moe ? 3 : 2, 4, 2, 128, 4096, !moe);
    s.architecture = moe ? "Qwen3MoeForCausalLM" : "Qwen3ForCausalLM";
    s.model_type = moe ? "qwen3_moe" : "qwen3";
    s.head_dim = 32;
    s.explicit_head_dim = true;
    s.qkv_bias = false;
    s.qk_norm = true;
    s.bos_token_id = 4000;
    s.eos_token_ids = {4001};
    if (moe) {
      s.num_experts = 8;
      s.num_experts_per_tok = 2;
      s.moe_intermediate_size = 32;
      s.norm_topk_prob = true;
      s.mlp_only_layers = {1};
    }
    return s;
  }
  if (arch == "gemma2" || arch == "gemma3") {
    // Gemma's layer at toy size: head_dim wider than hidden / heads, a window of 16 (the golden
    // prompts run past it), query_pre_attn_scalar apart from head_dim. Gemma 2: soft-caps small
    // enough to act on random weights, layers alternating sliding / full. Gemma 3: a full layer
    // every third, q/k norms, a linear-scaled global rope beside the local base.
    const bool g3 = arch == "gemma3";
    CheckpointSpec s =
        base(g3 ? "tiny-gemma3" : "tiny-gemma2", g3 ? "Gemma3ForCausalLM" : "Gemma2ForCausalLM",
             g3 ? "gemma3_text" : "gemma2");
    s.hidden_size = 64;
    s.num_layers = 3;
    s.num_heads = 4;
    s.num_kv_heads = 2;
    s.head_dim = 32;
    s.explicit_head_dim = true;
    s.intermediate_size = 128;
    s.vocab_size = 4096;
    s.max_position_embeddings = g3 ? 131072 : 8192;
    s.rms_norm_eps = 1e-6;
    s.rope_theta = g3 ? 1000000.0 : 10000.0;
    s.tie_word_embeddings = true;
    s.sliding_window = 16;
    s.query_pre_attn_scalar = 24;
    s.bos_token_id = 2;
    s.eos_token_ids = {1};
    if (g3) {
      s.qk_norm = true;
      s.rope_local_base_freq = 10000.0;
      s.linear_rope_factor = 8.0;
      s.layer_types = {"sliding_attention", "sliding_attention", "full_attention"};
    } else {
      s.attn_softcap = 5.0;
      s.final_softcap = 10.0;
      s.layer_types = {"sliding_attention", "full_attention", "sliding_attention"};
    }
    return s;
  }
  if (arch == "phi3") {
    // Phi-4-mini's features at toy size: fused qkv / gate_up, partial rotary 0.75 (12 of 16
    // dims), longrope with original_max_position_embeddings 256 (the 300-token golden prompt
    // takes the long factors, the others the short), tied embeddings.
    CheckpointSpec s = base("tiny-phi3", "Phi3ForCausalLM", "phi3");
    s.hidden_size = 64;
    s.num_layers = 2;
    s.num_heads = 4;
    s.num_kv_heads = 2;
    s.head_dim = 16;
    s.intermediate_size = 128;
    s.vocab_size = 4096;
    s.max_position_embeddings = 2048;
    s.original_max_position_embeddings = 256;
    s.partial_rotary_factor = 0.75;
    s.rms_norm_eps = 1e-5;
    s.rope_theta = 10000.0;
    s.tie_word_embeddings = true;
    s.bos_token_id = 4000;
    s.eos_token_ids = {4001};
    return s;
  }
  if (arch == "llama-reward") {
    SGLANG_ASSIGN_OR_RETURN(CheckpointSpec s, checkpoint_spec_tiny("llama"));
    s.name = "tiny-llama-reward";
    s.architecture = "LlamaForSequenceClassification";
    s.num_labels = 1;
    return s;
  }
  if (arch == "xlm-roberta-reranker") {
    // bge-reranker-v2-m3's config (type_vocab_size 1, eps 1e-5, positions from pad 1 + 1) on a
    // vocabulary that covers the xlmr-format-unigram tokenizers (en: 1002, ja: 8002 ids).
    return encoder("tiny-xlm-roberta-reranker", "XLMRobertaForSequenceClassification",
                   "xlm-roberta", 8002, 514, 1, 1, 1e-5);
  }
  if (arch == "bert" || arch == "xlm-roberta") {
    // Embedding models (no head): all-MiniLM-L6-v2's layout (BertModel, mean pooling) and bge-m3's
    // (XLMRobertaModel, CLS pooling), with their sentence-transformers modules.
    CheckpointSpec s =
        arch == "bert"
            ? encoder("tiny-bert", "BertModel", "bert", 30522, 512, 2, 0, 1e-12)
            : encoder("tiny-xlm-roberta", "XLMRobertaModel", "xlm-roberta", 8002, 514, 1, 1, 1e-5);
    s.num_labels = 0;
    return s;
  }
  if (arch == "gte") {
    // gte-base-en-v1.5's config at toy size: rope_theta 500000 with ntk factor 2, the BERT
    // vocabulary padded to 30528; type_vocab_size 1 (NewConfig's default) so the token-type
    // embedding is exercised.
    CheckpointSpec s = encoder("tiny-gte", "NewModel", "new", 30528, 512, 1, 0, 1e-12);
    s.num_labels = 0;
    s.rope_theta = 500000.0;
    s.ntk_factor = 2.0;
    return s;
  }
  if (arch == "bert-reranker") {
    return encoder("tiny-bert-reranker", "BertForSequenceClassification", "bert", 30522, 512, 2, 0,
                   1e-12);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown --arch '" + arch +
                        "' (known: qwen2, llama, mistral, llama-reward, xlm-roberta-reranker, "
                        "bert-reranker, qwen2-moe, qwen3, qwen3-moe, gemma2, gemma3, phi3, bert, "
                        "xlm-roberta, gte; "
                        "gemma2-gguf, gemma3-gguf, qwen3-moe-gguf)");
}

Status write_random_checkpoint(const CheckpointSpec& s, uint64_t seed, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kInternal, "cannot create " + dir + ": " + ec.message());
  if (s.architecture == "NewModel") return write_gte_checkpoint(s, seed, dir);
  if (is_encoder(s)) return write_encoder_checkpoint(s, seed, dir);

  nlohmann::ordered_json cfg;
  cfg["architectures"] = {s.architecture};
  cfg["model_type"] = s.model_type;
  cfg["hidden_size"] = s.hidden_size;
  cfg["intermediate_size"] = s.intermediate_size;
  cfg["num_hidden_layers"] = s.num_layers;
  cfg["num_attention_heads"] = s.num_heads;
  cfg["num_key_value_heads"] = s.num_kv_heads;
  if (s.explicit_head_dim) cfg["head_dim"] = s.head_dim;
  const bool gemma = s.architecture == "Gemma2ForCausalLM" || s.architecture == "Gemma3ForCausalLM";
  const bool phi3 = s.architecture == "Phi3ForCausalLM";
  if (gemma) {
    cfg["hidden_activation"] = "gelu_pytorch_tanh";
    cfg["query_pre_attn_scalar"] = s.query_pre_attn_scalar;
    cfg["attn_logit_softcapping"] =
        s.attn_softcap > 0 ? nlohmann::ordered_json(s.attn_softcap) : nlohmann::ordered_json();
    cfg["final_logit_softcapping"] =
        s.final_softcap > 0 ? nlohmann::ordered_json(s.final_softcap) : nlohmann::ordered_json();
    cfg["sliding_window"] = s.sliding_window;
    cfg["layer_types"] = s.layer_types;
    cfg["attention_bias"] = false;
    if (s.rope_local_base_freq > 0) cfg["rope_local_base_freq"] = s.rope_local_base_freq;
  } else {
    cfg["hidden_act"] = "silu";
  }
  cfg["max_position_embeddings"] = s.max_position_embeddings;
  cfg["rms_norm_eps"] = s.rms_norm_eps;
  cfg["rope_theta"] = s.rope_theta;
  if (phi3) {
    // longrope factors: short ones near 1, long ones larger (slower rotation past the original
    // length), one per rotated frequency.
    const int64_t half =
        static_cast<int64_t>(static_cast<double>(s.head_dim) * s.partial_rotary_factor) / 2;
    std::vector<double> short_f, long_f;
    for (int64_t i = 0; i < half; ++i) {
      short_f.push_back(1.0 + 0.05 * static_cast<double>(i));
      long_f.push_back(1.0 + 1.5 * static_cast<double>(i));
    }
    cfg["rope_scaling"] = {
        {"type", "longrope"}, {"short_factor", short_f}, {"long_factor", long_f}};
    cfg["original_max_position_embeddings"] = s.original_max_position_embeddings;
    cfg["partial_rotary_factor"] = s.partial_rotary_factor;
    cfg["sliding_window"] = nullptr;
    cfg["pad_token_id"] = s.eos_token_ids.at(0);  // Phi3Config's default 32000 is past the vocab
  } else if (s.linear_rope_factor > 0) {
    cfg["rope_scaling"] = {{"factor", s.linear_rope_factor}, {"rope_type", "linear"}};
  } else if (s.llama3_factor > 0) {
    cfg["rope_scaling"] = {{"factor", s.llama3_factor},
                           {"low_freq_factor", s.llama3_low},
                           {"high_freq_factor", s.llama3_high},
                           {"original_max_position_embeddings", s.llama3_original_max},
                           {"rope_type", "llama3"}};
  } else {
    cfg["rope_scaling"] = nullptr;
  }
  if (s.num_labels > 0) {
    nlohmann::ordered_json id2label, label2id;
    for (int64_t i = 0; i < s.num_labels; ++i) {
      id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
      label2id["LABEL_" + std::to_string(i)] = i;
    }
    cfg["id2label"] = id2label;
    cfg["label2id"] = label2id;
    cfg["pad_token_id"] = s.eos_token_ids.at(0);
  }
  if (s.architecture == "LlamaForCausalLM" || s.architecture == "LlamaForSequenceClassification") {
    cfg["attention_bias"] = false;
    cfg["mlp_bias"] = false;
  }
  if (s.architecture == "Qwen3ForCausalLM" || s.architecture == "Qwen3MoeForCausalLM") {
    cfg["attention_bias"] = false;
  }
  if (s.architecture == "Qwen2ForCausalLM" || s.architecture == "Qwen2MoeForCausalLM" ||
      s.architecture == "Qwen3ForCausalLM" || s.architecture == "Qwen3MoeForCausalLM") {
    cfg["use_sliding_window"] = false;
    cfg["sliding_window"] = 32768;
    cfg["max_window_layers"] = s.num_layers;
  }
  if (s.num_experts > 0) {
    cfg["num_experts"] = s.num_experts;
    cfg["num_experts_per_tok"] = s.num_experts_per_tok;
    cfg["moe_intermediate_size"] = s.moe_intermediate_size;
    if (s.architecture == "Qwen2MoeForCausalLM") {
      cfg["shared_expert_intermediate_size"] = s.shared_expert_intermediate_size;
    }
    cfg["norm_topk_prob"] = s.norm_topk_prob;
    cfg["decoder_sparse_step"] = s.decoder_sparse_step;
    cfg["mlp_only_layers"] = s.mlp_only_layers;
    cfg["output_router_logits"] = false;
    cfg["router_aux_loss_coef"] = 0.001;
  }
  if (s.architecture == "MistralForCausalLM") cfg["sliding_window"] = s.sliding_window;
  cfg["tie_word_embeddings"] = s.tie_word_embeddings;
  cfg["vocab_size"] = s.vocab_size;
  cfg["bos_token_id"] = s.bos_token_id;
  if (s.eos_token_ids.size() == 1) {
    cfg["eos_token_id"] = s.eos_token_ids[0];
  } else {
    cfg["eos_token_id"] = s.eos_token_ids;
  }
  cfg["torch_dtype"] = "bfloat16";
  cfg["initializer_range"] = 0.02;
  cfg["use_cache"] = true;
  cfg["sglang_cpp_random_checkpoint"] = {{"shape", s.name}, {"seed", seed}};
  {
    std::ofstream out(dir + "/config.json");
    out << cfg.dump(2) << "\n";
    if (!out) return make_error(ErrorCode::kInternal, "cannot write " + dir + "/config.json");
  }

  SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float center,
                 float half_width) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const uint64_t stream = splitmix64(seed ^ fnv1a(name.data(), name.size()));
    writer.add_lazy(name, DType::kBF16, std::move(shape),
                    [=](uint8_t* dst) { fill_uniform_bf16(dst, n, stream, center, half_width); });
  };
  // Scales: a uniform [-a, a] has std a/sqrt(3). Projections get std 1/sqrt(fan_in) so activations
  // keep unit scale through the layers; the embedding / LM head get std 4/sqrt(hidden), so the
  // final logits have std ~4 and the top-1/top-2 margins are clear (about 0.8 on average for a 150k
  // vocabulary).
  const float sqrt3 = std::sqrt(3.0f);
  auto proj_width = [&](int64_t fan_in) { return sqrt3 / std::sqrt(static_cast<float>(fan_in)); };
  const int64_t h = s.hidden_size, q = s.num_heads * s.head_dim, kv = s.num_kv_heads * s.head_dim;
  const int64_t inter = s.intermediate_size;
  const float embed_width = 4.0f * sqrt3 / std::sqrt(static_cast<float>(h));
  add("model.embed_tokens.weight", {s.vocab_size, h}, 0.0f, embed_width);
  if (s.num_labels > 0) {
    add("score.weight", {s.num_labels, h}, 0.0f, proj_width(h));
  } else if (!s.tie_word_embeddings) {
    add("lm_head.weight", {s.vocab_size, h}, 0.0f, embed_width);
  }
  // Gemma's norms hold offsets from 1 (the model multiplies by 1 + w).
  const float norm_center = gemma ? 0.0f : 1.0f;
  add("model.norm.weight", {h}, norm_center, 0.25f);
  for (int64_t i = 0; i < s.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {h}, norm_center, 0.25f);
    add(p + "post_attention_layernorm.weight", {h}, norm_center, 0.25f);
    if (gemma) {
      add(p + "pre_feedforward_layernorm.weight", {h}, norm_center, 0.25f);
      add(p + "post_feedforward_layernorm.weight", {h}, norm_center, 0.25f);
    }
    if (phi3) {
      add(p + "self_attn.qkv_proj.weight", {q + 2 * kv, h}, 0.0f, proj_width(h));
    } else {
      add(p + "self_attn.q_proj.weight", {q, h}, 0.0f, proj_width(h));
      add(p + "self_attn.k_proj.weight", {kv, h}, 0.0f, proj_width(h));
      add(p + "self_attn.v_proj.weight", {kv, h}, 0.0f, proj_width(h));
    }
    add(p + "self_attn.o_proj.weight", {h, q}, 0.0f, proj_width(q));
    if (s.qk_norm) {
      add(p + "self_attn.q_norm.weight", {s.head_dim}, norm_center, 0.25f);
      add(p + "self_attn.k_norm.weight", {s.head_dim}, norm_center, 0.25f);
    }
    if (phi3) {
      add(p + "mlp.gate_up_proj.weight", {2 * inter, h}, 0.0f, proj_width(h));
      add(p + "mlp.down_proj.weight", {h, inter}, 0.0f, proj_width(inter));
      continue;
    }
    if (s.qkv_bias) {
      add(p + "self_attn.q_proj.bias", {q}, 0.0f, 0.5f);
      add(p + "self_attn.k_proj.bias", {kv}, 0.0f, 0.5f);
      add(p + "self_attn.v_proj.bias", {kv}, 0.0f, 0.5f);
    }
    const bool dense = s.num_experts == 0 ||
                       std::find(s.mlp_only_layers.begin(), s.mlp_only_layers.end(), i) !=
                           s.mlp_only_layers.end() ||
                       (i + 1) % s.decoder_sparse_step != 0;
    auto add_mlp = [&](const std::string& mp, int64_t width) {
      add(mp + "gate_proj.weight", {width, h}, 0.0f, proj_width(h));
      add(mp + "up_proj.weight", {width, h}, 0.0f, proj_width(h));
      add(mp + "down_proj.weight", {h, width}, 0.0f, proj_width(width));
    };
    if (dense) {
      add_mlp(p + "mlp.", inter);
      continue;
    }
    // Router logits of std ~1: routing probabilities spread over several experts.
    add(p + "mlp.gate.weight", {s.num_experts, h}, 0.0f, proj_width(h));
    for (int64_t e = 0; e < s.num_experts; ++e) {
      add_mlp(p + "mlp.experts." + std::to_string(e) + ".", s.moe_intermediate_size);
    }
    if (s.shared_expert_intermediate_size > 0) {
      add_mlp(p + "mlp.shared_expert.", s.shared_expert_intermediate_size);
      add(p + "mlp.shared_expert_gate.weight", {1, h}, 0.0f, proj_width(h));
    }
  }
  return writer.write(dir + "/model.safetensors");
}

Result<uint64_t> file_fingerprint(const std::string& path) {
  SGLANG_ASSIGN_OR_RETURN(auto file, MmapFile::open(path));
  auto bytes = file->bytes();
  return fnv1a(bytes.data(), bytes.size());
}

}  // namespace sglang
