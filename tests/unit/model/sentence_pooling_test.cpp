// Encoder embedding models' pooling (model/sentence_pooling.h): modules.json / 1_Pooling as
// sentence-transformers reads them, SGLang's defaults without them, and the pooling arithmetic.
#include "model/sentence_pooling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "model/model_config.h"

namespace sglang {
namespace {

namespace fs = std::filesystem;

// all-MiniLM-L6-v2's config.json and sentence-transformers files.
constexpr const char* kMiniLmConfig = R"({
  "architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1, "hidden_size": 384, "initializer_range": 0.02,
  "intermediate_size": 1536, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
  "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 6, "pad_token_id": 0,
  "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": 30522})";
constexpr const char* kModules = R"([
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
])";
constexpr const char* kMeanPooling = R"({"word_embedding_dimension": 384,
  "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
  "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false})";

class SentencePoolingDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sglang-pooling-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "1_Pooling");
    write("config.json", kMiniLmConfig);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  Result<ModelConfig> load() { return load_model_config(dir_.string()); }
  fs::path dir_;
};

TEST_F(SentencePoolingDir, MiniLmDeclaresMeanAndNormalize) {
  write("modules.json", kModules);
  write("1_Pooling/config.json", kMeanPooling);
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->head, Head::kEmbedding);
  EXPECT_EQ(c->architecture, Architecture::kBert);
  EXPECT_FALSE(c->causal);
  EXPECT_FALSE(c->is_cross_encoder());
  EXPECT_EQ(c->pooling.type, PoolingType::kMean);
  EXPECT_TRUE(c->pooling.normalize);
  EXPECT_NE(c->pooling.source.find("modules.json"), std::string::npos);
}

TEST_F(SentencePoolingDir, WithoutModulesSGLangsDefaults) {
  // SGLang's BertModel: Pooler(LAST, normalize=True); XLMRobertaModel: Pooler(CLS, True).
  auto bert = load();
  ASSERT_TRUE(bert.ok()) << bert.error().message;
  EXPECT_EQ(bert->pooling.type, PoolingType::kLast);
  EXPECT_TRUE(bert->pooling.normalize);
  std::string xlmr = kMiniLmConfig;
  xlmr.replace(xlmr.find("BertModel"), 9, "XLMRobertaModel");
  xlmr.replace(xlmr.find("\"pad_token_id\": 0"), 17, "\"pad_token_id\": 1");
  write("config.json", xlmr);
  auto x = load();
  ASSERT_TRUE(x.ok()) << x.error().message;
  EXPECT_EQ(x->architecture, Architecture::kXlmRoberta);
  EXPECT_EQ(x->head, Head::kEmbedding);
  EXPECT_EQ(x->pooling.type, PoolingType::kCls);
  EXPECT_TRUE(x->pooling.normalize);
  EXPECT_EQ(x->position_offset, 2);
}

TEST_F(SentencePoolingDir, CLSWithoutNormalizeAndTheNewerModeString) {
  write("modules.json", R"([{"path": "", "type": "sentence_transformers.models.Transformer"},
      {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])");
  write("1_Pooling/config.json", R"({"pooling_mode_cls_token": true})");
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->pooling.type, PoolingType::kCls);
  EXPECT_FALSE(c->pooling.normalize) << "no Normalize module";
  write("1_Pooling/config.json", R"({"pooling_mode": "lasttoken"})");
  auto l = load();
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->pooling.type, PoolingType::kLast);
}

TEST_F(SentencePoolingDir, RefusesWhatItWouldServeWrongly) {
  struct Case {
    std::string modules, pooling, expect;
  };
  const std::string dense =
      R"([{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
          {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])";
  const Case cases[] = {
      {kModules, R"({"pooling_mode_max_tokens": true})", "pooling_mode_max_tokens"},
      {kModules, R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})",
       "concatenation"},
      {kModules, R"({"pooling_mode": "weightedmean"})", "'weightedmean'"},
      {kModules, R"({})", "no pooling mode"},
      {kModules, "not json", "not valid JSON"},
      {dense, kMeanPooling, "sentence_transformers.models.Dense"},
      {R"({"a": 1})", kMeanPooling, "list of modules"},
  };
  for (const Case& k : cases) {
    write("modules.json", k.modules);
    write("1_Pooling/config.json", k.pooling);
    auto c = load();
    ASSERT_FALSE(c.ok()) << k.modules << " " << k.pooling;
    EXPECT_NE(c.error().message.find(k.expect), std::string::npos) << c.error().message;
  }
}

TEST(SentencePooling, PoolsEachSequenceOfARaggedBatch) {
  // Two sequences of width 2: rows 0-2 and 3-4.
  const float hidden[] = {1, 2, 3, 4, 5, 6, /**/ 3, 4, -3, 0};
  const int64_t starts[] = {0, 3}, lengths[] = {3, 2};
  SentencePooling p;
  p.normalize = false;
  p.type = PoolingType::kCls;
  EXPECT_EQ(pool_sentences(hidden, 2, starts, lengths, p), (std::vector<float>{1, 2, 3, 4}));
  p.type = PoolingType::kLast;
  EXPECT_EQ(pool_sentences(hidden, 2, starts, lengths, p), (std::vector<float>{5, 6, -3, 0}));
  p.type = PoolingType::kMean;
  EXPECT_EQ(pool_sentences(hidden, 2, starts, lengths, p), (std::vector<float>{3, 4, 0, 2}));
  p.normalize = true;
  const auto n = pool_sentences(hidden, 2, starts, lengths, p);
  EXPECT_FLOAT_EQ(n[0], 0.6f);
  EXPECT_FLOAT_EQ(n[1], 0.8f);
  EXPECT_FLOAT_EQ(n[2], 0.0f);
  EXPECT_FLOAT_EQ(n[3], 1.0f);
  // torch's normalize divides by max(||x||, 1e-12): a zero vector stays zero, not NaN.
  const float zeros[] = {0, 0};
  const int64_t s0[] = {0}, l1[] = {1};
  const auto z = pool_sentences(zeros, 2, s0, l1, p);
  EXPECT_EQ(z, (std::vector<float>{0, 0}));
}

}  // namespace
}  // namespace sglang
