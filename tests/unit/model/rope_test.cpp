#include "model/rope.h"

#include <gtest/gtest.h>

namespace sglang {
namespace {

// Reference values printed by transformers 4.46.3's ROPE_INIT_FUNCTIONS for head_dim 128.
TEST(Rope, DefaultInvFreqMatchesTransformers) {
  ModelConfig c;
  c.head_dim = 128;
  c.rope_theta = 10000.0;
  auto inv = rope_inv_freq(c);
  ASSERT_EQ(inv.size(), 64u);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[1], 0.8659643530845642f);
  EXPECT_FLOAT_EQ(inv[20], 0.05623412877321243f);
  EXPECT_FLOAT_EQ(inv[40], 0.003162277862429619f);
  EXPECT_FLOAT_EQ(inv[63], 0.00011547819303814322f);
}

TEST(Rope, Llama3ScalingMatchesTransformers) {
  ModelConfig c;
  c.head_dim = 128;
  c.rope_theta = 500000.0;
  c.rope_scaling.type = RopeScaling::Type::kLlama3;
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 8192;
  auto inv = rope_inv_freq(c);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[1], 0.8146172165870667f);  // high frequency: unchanged
  EXPECT_FLOAT_EQ(inv[20], 0.016560440883040428f);
  EXPECT_FLOAT_EQ(inv[40], 3.428102354519069e-05f);  // smoothed band
  EXPECT_FLOAT_EQ(inv[45], 1.2297638932068367e-05f);
  EXPECT_FLOAT_EQ(inv[50], 4.411534519022098e-06f);  // low frequency: divided by 8
  EXPECT_FLOAT_EQ(inv[63], 3.068925877869333e-07f);
}

}  // namespace
}  // namespace sglang
