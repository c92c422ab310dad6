// NewModel (GTE v1.5) config.json parsing: new-impl's NewConfig defaults, and the variants the
// encoder does not implement refused by name rather than served wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/gte.h"

namespace sglang {
namespace {

nlohmann::json base_config() {
  return {{"architectures", {"NewModel"}},
          {"model_type", "new"},
          {"hidden_size", 64},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"intermediate_size", 128},
          {"vocab_size", 1000}};
}

TEST(GteConfig, DefaultsAreNewConfigs) {
  auto c = parse_gte_config(base_config(), "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kGte);
  EXPECT_EQ(c->head, Head::kEmbedding);
  EXPECT_FALSE(c->causal);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->max_position_embeddings, 2048);
  EXPECT_EQ(c->type_vocab_size, 1);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_EQ(c->layer_norm_type, "layer_norm");
  EXPECT_EQ(c->ntk_factor, 0.0);
  EXPECT_EQ(c->pooling.type, PoolingType::kCls);
  EXPECT_TRUE(c->pooling.normalize);
}

TEST(GteConfig, NtkScalingAndRmsNormAreRead) {
  auto j = base_config();
  j["rope_scaling"] = {{"type", "ntk"}, {"factor", 8.0}, {"mixed_b", 0.5}};
  j["layer_norm_type"] = "rms_norm";
  auto c = parse_gte_config(j, "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_DOUBLE_EQ(c->ntk_factor, 8.0);
  EXPECT_DOUBLE_EQ(c->ntk_mixed_b, 0.5);
  EXPECT_EQ(c->layer_norm_type, "rms_norm");
}

TEST(GteConfig, UnimplementedVariantsAreRefusedByName) {
  const std::pair<const char*, nlohmann::json> cases[] = {
      {"position_embedding_type", "absolute"},
      {"logn_attention_scale", true},
      {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}},
      {"layer_norm_type", "group_norm"},
      {"hidden_act", "swiglu"},
  };
  for (const auto& [field, value] : cases) {
    auto j = base_config();
    j[field] = value;
    auto c = parse_gte_config(j, "config.json");
    ASSERT_FALSE(c.ok()) << field;
    EXPECT_EQ(c.error().code, ErrorCode::kUnsupported) << field << ": " << c.error().message;
  }
}

}  // namespace
}  // namespace sglang
