// config.json of the newer decoder families (Qwen3, Qwen3-MoE, Gemma 2, Gemma 3, Phi-3) with
// transformers' defaults, and the model registry: one table names what is served, and the error
// for anything else lists it.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "model/model_config.h"
#include "model/model_registry.h"

namespace sglang {
namespace {

Result<ModelConfig> parse(const nlohmann::json& j) {
  return parse_model_config(j.dump(), "m/config.json");
}

TEST(ModelRegistry, UnsupportedArchitectureListsTheTable) {
  auto c = parse({{"architectures", {"FalconForCausalLM"}}, {"hidden_size", 8}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnsupported);
  const std::string& m = c.error().message;
  EXPECT_NE(m.find("unsupported architecture 'FalconForCausalLM'"), std::string::npos) << m;
  EXPECT_NE(m.find("(supported: " + supported_architectures() + ")"), std::string::npos) << m;
  for (const char* name :
       {"LlamaForCausalLM", "Qwen3ForCausalLM", "Qwen3MoeForCausalLM", "Gemma2ForCausalLM",
        "Gemma3ForCausalLM", "Phi3ForCausalLM", "XLMRobertaForSequenceClassification"}) {
    EXPECT_NE(find_model_architecture(name), nullptr) << name;
    EXPECT_NE(m.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(find_model_architecture("Qwen3ForSequenceClassificationX"), nullptr);
}

// Qwen3-0.6B's config.json, as published.
const nlohmann::json kQwen3 = nlohmann::json::parse(R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
  "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
  "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
  "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
  "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");

TEST(DecoderConfig, Qwen3) {
  auto c = parse(kQwen3);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kQwen3);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_FALSE(c->attention_bias) << "no q/k/v bias, unlike Qwen2";
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->q_size(), 2048) << "explicit head_dim: q is wider than hidden_size";
  EXPECT_EQ(c->sliding_window, 0);
  EXPECT_EQ(c->layer_sliding_window(5), 0);
  // Without head_dim, Qwen3Config's default is 128 (not hidden / heads).
  nlohmann::json j = kQwen3;
  j.erase("head_dim");
  EXPECT_EQ(parse(j)->head_dim, 128);
  // use_sliding_window: layers from max_window_layers on slide.
  j = kQwen3;
  j["use_sliding_window"] = true;
  j["sliding_window"] = 4096;
  j["max_window_layers"] = 20;
  auto s = parse(j);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->layer_sliding_window(19), 0);
  EXPECT_EQ(s->layer_sliding_window(20), 4096);
}

TEST(DecoderConfig, Qwen3MoeHasNoSharedExpert) {
  nlohmann::json j = kQwen3;
  j["architectures"] = {"Qwen3MoeForCausalLM"};
  j["model_type"] = "qwen3_moe";
  j["num_experts"] = 128;
  j["num_experts_per_tok"] = 8;
  j["moe_intermediate_size"] = 768;
  j["norm_topk_prob"] = true;
  j["shared_expert_intermediate_size"] = 5632;  // not a Qwen3-MoE field: ignored
  auto c = parse(j);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kQwen3Moe);
  EXPECT_TRUE(c->is_moe());
  EXPECT_TRUE(c->moe.norm_topk_prob);
  EXPECT_EQ(c->moe.shared_expert_intermediate_size, 0);
  EXPECT_TRUE(c->qk_norm);
  j.erase("norm_topk_prob");
  EXPECT_FALSE(parse(j)->moe.norm_topk_prob) << "Qwen3MoeConfig's default";
}

// gemma-2-2b's sizes with its config's Gemma fields.
const nlohmann::json kGemma2 = nlohmann::json::parse(R"({
  "architectures": ["Gemma2ForCausalLM"], "attn_logit_softcapping": 50.0,
  "final_logit_softcapping": 30.0, "head_dim": 256, "hidden_act": "gelu_pytorch_tanh",
  "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 2304, "intermediate_size": 9216,
  "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": 8,
  "num_hidden_layers": 26, "num_key_value_heads": 4, "query_pre_attn_scalar": 256,
  "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096, "vocab_size": 256000})");

TEST(DecoderConfig, Gemma2) {
  auto c = parse(kGemma2);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kGemma2);
  EXPECT_TRUE(c->tie_word_embeddings) << "Gemma's default";
  EXPECT_EQ(c->hidden_act, "gelu_pytorch_tanh");
  EXPECT_DOUBLE_EQ(c->attn_logit_softcapping, 50.0);
  EXPECT_DOUBLE_EQ(c->final_logit_softcapping, 30.0);
  EXPECT_DOUBLE_EQ(c->query_pre_attn_scalar, 256.0);
  // Alternating from layer 0 (transformers' default layer_types).
  EXPECT_EQ(c->layer_sliding_window(0), 4096);
  EXPECT_EQ(c->layer_sliding_window(1), 0);
  EXPECT_EQ(c->layer_sliding_window(24), 4096);
  EXPECT_FALSE(c->qk_norm);
  nlohmann::json j = kGemma2;
  j["final_logit_softcapping"] = nullptr;
  EXPECT_DOUBLE_EQ(parse(j)->final_logit_softcapping, 0.0) << "null: no capping";
  j["hidden_activation"] = "swish";
  EXPECT_EQ(parse(j).error().code, ErrorCode::kUnsupported);
  j = kGemma2;
  j["layer_types"] = {"full_attention"};
  EXPECT_EQ(parse(j).error().code, ErrorCode::kCorrupt) << "one type per layer";
}

// gemma-3-1b-it's text config.
const nlohmann::json kGemma3 = nlohmann::json::parse(R"({
  "architectures": ["Gemma3ForCausalLM"], "attn_logit_softcapping": null,
  "final_logit_softcapping": null, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
  "hidden_size": 1152, "intermediate_size": 6912, "max_position_embeddings": 32768,
  "model_type": "gemma3_text", "num_attention_heads": 4, "num_hidden_layers": 26,
  "num_key_value_heads": 1, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06,
  "rope_local_base_freq": 10000, "rope_scaling": null, "rope_theta": 1000000,
  "sliding_window": 512, "sliding_window_pattern": 6, "vocab_size": 262144})");

TEST(DecoderConfig, Gemma3) {
  auto c = parse(kGemma3);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kGemma3);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_DOUBLE_EQ(c->attn_logit_softcapping, 0.0);
  EXPECT_DOUBLE_EQ(c->final_logit_softcapping, 0.0);
  EXPECT_DOUBLE_EQ(c->rope_local_base_freq, 10000.0);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1000000.0);
  // Every sixth layer is global.
  for (int64_t i = 0; i < 26; ++i) {
    EXPECT_EQ(c->layer_sliding_window(i), (i + 1) % 6 == 0 ? 0 : 512) << i;
  }
  nlohmann::json j = kGemma3;
  j["use_bidirectional_attention"] = true;
  EXPECT_EQ(parse(j).error().code, ErrorCode::kUnsupported);
}

// Phi-4-mini's shape: partial rotary 0.75, longrope (factor lists of 48 here made up).
nlohmann::json phi4_mini() {
  nlohmann::json j = nlohmann::json::parse(R"({
    "architectures": ["Phi3ForCausalLM"], "hidden_act": "silu", "hidden_size": 3072,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "model_type": "phi3",
    "num_attention_heads": 24, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "original_max_position_embeddings": 4096, "partial_rotary_factor": 0.75,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 262144,
    "tie_word_embeddings": true, "vocab_size": 200064})");
  j["rope_scaling"] = {{"type", "longrope"},
                       {"short_factor", std::vector<double>(48, 1.0)},
                       {"long_factor", std::vector<double>(48, 2.0)}};
  return j;
}

TEST(DecoderConfig, Phi3LongRopeAndPartialRotary) {
  auto c = parse(phi4_mini());
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kPhi3);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->rotary_dim, 96);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLongRope);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 4096);
  // transformers: sqrt(1 + ln(131072 / 4096) / ln(4096)).
  EXPECT_NEAR(c->rope_scaling.attention_factor, std::sqrt(1 + std::log(32.0) / std::log(4096.0)),
              1e-12);
  EXPECT_EQ(c->sliding_window, 262144);
  nlohmann::json j = phi4_mini();
  j["rope_scaling"]["long_factor"] = std::vector<double>(64, 2.0);
  EXPECT_EQ(parse(j).error().code, ErrorCode::kCorrupt) << "one factor per rotated frequency";
}

}  // namespace
}  // namespace sglang
