// config.json of the BERT-family cross-encoders -> ModelConfig (model/xlm_roberta.cpp).
#include <gtest/gtest.h>

#include "model/model_config.h"

namespace sglang {
namespace {

// The fields of BAAI/bge-reranker-v2-m3's config.json.
constexpr const char* kBgeRerankerV2M3 = R"({
  "architectures": ["XLMRobertaForSequenceClassification"], "attention_probs_dropout_prob": 0.1,
  "bos_token_id": 0, "classifier_dropout": null, "eos_token_id": 2, "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1, "hidden_size": 1024, "id2label": {"0": "LABEL_0"},
  "initializer_range": 0.02, "intermediate_size": 4096, "label2id": {"LABEL_0": 0},
  "layer_norm_eps": 1e-05, "max_position_embeddings": 8194, "model_type": "xlm-roberta",
  "num_attention_heads": 16, "num_hidden_layers": 24, "output_past": true, "pad_token_id": 1,
  "position_embedding_type": "absolute", "torch_dtype": "float32", "type_vocab_size": 1,
  "use_cache": true, "vocab_size": 250002})";

std::string with(const std::string& base, const std::string& from, const std::string& to) {
  std::string s = base;
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(EncoderConfig, BgeRerankerV2M3) {
  auto c = parse_model_config(kBgeRerankerV2M3, "bge/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kXlmRoberta);
  EXPECT_FALSE(c->causal);
  EXPECT_TRUE(c->is_cross_encoder());
  EXPECT_EQ(c->num_labels, 1);
  EXPECT_EQ(c->hidden_size, 1024);
  EXPECT_EQ(c->num_attention_heads, 16);
  EXPECT_EQ(c->num_key_value_heads, 16);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->type_vocab_size, 1);
  EXPECT_DOUBLE_EQ(c->layer_norm_eps, 1e-5);
  EXPECT_EQ(c->pad_token_id, 1);
  EXPECT_EQ(c->position_offset, 2);  // RoBERTa: positions from padding_idx + 1
  EXPECT_EQ(c->max_position_embeddings, 8194);
  EXPECT_EQ(c->hidden_act, "gelu");
  EXPECT_EQ(c->score_activation, "identity");  // SGLang: raw logits for bge-reranker
}

TEST(EncoderConfig, BertDefaultsAndSentenceTransformersActivation) {
  // A BERT cross-encoder without the optional fields takes BertConfig's defaults.
  auto c = parse_model_config(
      R"({"architectures": ["BertForSequenceClassification"], "hidden_size": 384,
          "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
          "vocab_size": 30522, "num_labels": 1,
          "sbert_ce_default_activation_function": "torch.nn.modules.activation.Sigmoid"})",
      "ce/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kBert);
  EXPECT_EQ(c->pad_token_id, 0);
  EXPECT_EQ(c->position_offset, 0);
  EXPECT_EQ(c->type_vocab_size, 2);
  EXPECT_EQ(c->max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c->layer_norm_eps, 1e-12);
  EXPECT_EQ(c->score_activation, "sigmoid");
  // Without id2label or num_labels, transformers' default of two labels.
  auto two = parse_model_config(with(kBgeRerankerV2M3, R"("id2label": {"0": "LABEL_0"},)", ""),
                                "x/config.json");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->num_labels, 2);
}

TEST(EncoderConfig, RefusesWhatItCannotServe) {
  struct Case {
    std::string from, to, expect;
    ErrorCode code;
  };
  const Case cases[] = {
      // Encoders are served as cross-encoders or embedding models, not masked LMs.
      {"XLMRobertaForSequenceClassification", "XLMRobertaForMaskedLM", "unsupported architecture",
       ErrorCode::kUnsupported},
      {R"("position_embedding_type": "absolute")", R"("position_embedding_type": "relative_key")",
       "Only 'absolute' position_embedding_type", ErrorCode::kUnsupported},
      {R"("hidden_act": "gelu")", R"("hidden_act": "swish")", "hidden_act",
       ErrorCode::kUnsupported},
      // As SGLang: activations come from torch.nn.modules only.
      {R"("use_cache": true)", R"("sbert_ce_default_activation_function": "os.system")",
       "restricted to torch.nn.modules", ErrorCode::kUnsupported},
      {R"("use_cache": true)",
       R"("sbert_ce_default_activation_function": "torch.nn.modules.activation.Softmax")",
       "unsupported sbert_ce_default_activation_function", ErrorCode::kUnsupported},
      {R"("hidden_size": 1024)", R"("hidden_size": 1000)", "multiple of", ErrorCode::kCorrupt},
      {R"("vocab_size": 250002)", R"("vocab_size": "big")", "must be an integer",
       ErrorCode::kCorrupt},
      {R"("hidden_size": 1024,)", "", "missing field 'hidden_size'", ErrorCode::kNotFound},
  };
  for (const Case& k : cases) {
    auto c = parse_model_config(with(kBgeRerankerV2M3, k.from, k.to), "bge/config.json");
    ASSERT_FALSE(c.ok()) << k.to;
    EXPECT_EQ(c.error().code, k.code) << k.to;
    EXPECT_NE(c.error().message.find(k.expect), std::string::npos) << c.error().message;
  }
}

}  // namespace
}  // namespace sglang
