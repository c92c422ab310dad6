#include "model/model_config.h"
#include "model/causal_lm.h"

#include <gtest/gtest.h>

namespace sglang {
namespace {

// Qwen2.5-0.5B-Instruct's config.json, as published.
constexpr const char* kQwen25 = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
  "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936})";

// Llama-3.1-8B-Instruct's config.json, as published.
constexpr const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3", "use_cache": true, "vocab_size": 128256})";

// Mistral-7B-v0.1
constexpr const char* kMistral = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 32768,
  "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "vocab_size": 32000})";

TEST(ModelConfig, Qwen25) {
  auto c = parse_model_config(kQwen25, "qwen/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kQwen2);
  EXPECT_EQ(c->hidden_size, 896);
  EXPECT_EQ(c->num_attention_heads, 14);
  EXPECT_EQ(c->num_key_value_heads, 2);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->intermediate_size, 4864);
  EXPECT_EQ(c->num_hidden_layers, 24);
  EXPECT_EQ(c->vocab_size, 151936);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_TRUE(c->attention_bias);
  EXPECT_FALSE(c->o_proj_bias);
  EXPECT_EQ(c->sliding_window, 0) << "use_sliding_window is false";
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_EQ(c->bos_token_ids, std::vector<int64_t>{151643});
  EXPECT_EQ(c->max_position_embeddings, 32768);
  EXPECT_EQ(c->torch_dtype, "bfloat16");
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kNone);
}

TEST(ModelConfig, Llama31WithRopeScaling) {
  auto c = parse_model_config(kLlama31, "llama/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kLlama);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c->max_position_embeddings, 131072);
}

TEST(ModelConfig, MistralSlidingWindow) {
  auto c = parse_model_config(kMistral, "mistral/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kMistral);
  EXPECT_EQ(c->sliding_window, 4096);
  EXPECT_EQ(c->num_key_value_heads, 8);
}

TEST(ModelConfig, DefaultsFollowTransformers) {
  auto c = parse_model_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 1000})",
                              "x/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->num_key_value_heads, 4);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_EQ(c->max_position_embeddings, 2048);
  EXPECT_FALSE(c->tie_word_embeddings);
}

TEST(ModelConfig, MissingFieldNamesFieldAndFile) {
  auto c = parse_model_config(R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 1000})",
                              "/models/q/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("intermediate_size"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("/models/q/config.json"), std::string::npos)
      << c.error().message;
}

TEST(ModelConfig, UnknownArchitectureIsNamed) {
  auto c = parse_model_config(R"({"architectures": ["GPT2LMHeadModel"]})", "/m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(c.error().message.find("GPT2LMHeadModel"), std::string::npos);
  EXPECT_NE(c.error().message.find("/m/config.json"), std::string::npos);
}

TEST(ModelConfig, BadInputsAreErrors) {
  EXPECT_FALSE(parse_model_config("{not json", "a").ok());
  EXPECT_FALSE(parse_model_config("[]", "a").ok());
  auto wrong_type =
      parse_model_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": "64",
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 10})",
                         "a");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.error().message.find("hidden_size"), std::string::npos);
  auto bad_rope = parse_model_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 10,
      "rope_scaling": {"rope_type": "llama3", "factor": 8.0}})",
                                     "a");
  ASSERT_FALSE(bad_rope.ok());
  EXPECT_NE(bad_rope.error().message.find("low_freq_factor"), std::string::npos);
  auto gqa = parse_model_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 128,
      "vocab_size": 10})",
                                "a");
  EXPECT_FALSE(gqa.ok());
  auto act = parse_model_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 10,
      "hidden_act": "gelu"})",
                                "a");
  ASSERT_FALSE(act.ok());
  EXPECT_NE(act.error().message.find("hidden_act"), std::string::npos);
  // String fields of the wrong JSON type are errors naming the field, not exceptions (found by
  // fuzz_model_config in CI: a number for model_type ended the process).
  for (const char* field : {"model_type", "hidden_act"}) {
    const std::string text =
        std::string(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 10, ")") +
        field + R"(": 5})";
    auto typed = parse_model_config(text, "a");
    ASSERT_FALSE(typed.ok()) << field;
    EXPECT_NE(typed.error().message.find(field), std::string::npos) << typed.error().message;
  }
  for (const char* arch : {"NewModel", "XLMRobertaModel", "BertModel"}) {
    auto encoder = parse_model_config(
        std::string(R"({"architectures": [")") + arch + R"("], "model_type": 5})", "a");
    ASSERT_FALSE(encoder.ok()) << arch;
    EXPECT_NE(encoder.error().message.find("model_type"), std::string::npos)
        << encoder.error().message;
  }
}

}  // namespace
}  // namespace sglang

namespace sglang {
namespace {

TEST(WeightDtype, SGLangDtypeNames) {
  EXPECT_FALSE(parse_weight_dtype("auto")->has_value());
  EXPECT_EQ(**parse_weight_dtype("half"), DType::kF16);
  EXPECT_EQ(**parse_weight_dtype("float16"), DType::kF16);
  EXPECT_EQ(**parse_weight_dtype("bfloat16"), DType::kBF16);
  EXPECT_EQ(**parse_weight_dtype("float"), DType::kF32);
  EXPECT_EQ(**parse_weight_dtype("float32"), DType::kF32);
  auto bad = parse_weight_dtype("int8");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("--dtype int8 is not supported"), std::string::npos);
}

}  // namespace
}  // namespace sglang
