// Qwen2MoeForCausalLM: its config.json fields (which layers are sparse), the tiny random
// checkpoint, and the routing the model reports to an observer. Numerics against transformers:
// tests/golden.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/model_runner.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/model_config.h"
#include "test_support.h"

namespace sglang {
namespace {

// Qwen1.5-MoE-A2.7B's config.json, as published.
constexpr const char* kQwen15Moe = R"({
  "architectures": ["Qwen2MoeForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "decoder_sparse_step": 1, "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 2048,
  "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 8192,
  "max_window_layers": 21, "model_type": "qwen2_moe", "moe_intermediate_size": 1408,
  "norm_topk_prob": false, "num_attention_heads": 16, "num_experts": 60, "num_experts_per_tok": 4,
  "num_hidden_layers": 24, "num_key_value_heads": 16, "output_router_logits": false,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001,
  "shared_expert_intermediate_size": 5632, "sliding_window": 32768, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "transformers_version": "4.40.0.dev0", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936})";

// kQwen15Moe with some fields replaced.
std::string with(const nlohmann::json& fields) {
  nlohmann::json j = nlohmann::json::parse(kQwen15Moe);
  j.update(fields);
  return j.dump();
}

TEST(Qwen2MoeConfig, Qwen15MoeA27B) {
  auto c = parse_model_config(kQwen15Moe, "moe/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture, Architecture::kQwen2Moe);
  EXPECT_TRUE(c->is_moe());
  EXPECT_TRUE(c->attention_bias) << "Qwen2's attention: q/k/v bias";
  EXPECT_FALSE(c->o_proj_bias);
  EXPECT_EQ(c->sliding_window, 0);
  EXPECT_EQ(c->moe.num_experts, 60);
  EXPECT_EQ(c->moe.num_experts_per_tok, 4);
  EXPECT_EQ(c->moe.moe_intermediate_size, 1408);
  EXPECT_EQ(c->moe.shared_expert_intermediate_size, 5632);
  EXPECT_FALSE(c->moe.norm_topk_prob);
  EXPECT_EQ(c->intermediate_size, 5632);
  for (int64_t l = 0; l < 24; ++l) EXPECT_TRUE(c->is_sparse_layer(l)) << l;
}

TEST(Qwen2MoeConfig, SparseLayersFollowDecoderSparseStepAndMlpOnlyLayers) {
  // As transformers' Qwen2MoeDecoderLayer: sparse iff not in mlp_only_layers and (i+1) % step == 0.
  auto c = parse_model_config(with({{"decoder_sparse_step", 2},
                                    {"mlp_only_layers", nlohmann::json::array({3, 7})},
                                    {"num_hidden_layers", 8}}),
                              "moe/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  std::vector<int64_t> sparse;
  for (int64_t l = 0; l < 8; ++l) {
    if (c->is_sparse_layer(l)) sparse.push_back(l);
  }
  EXPECT_EQ(sparse, (std::vector<int64_t>{1, 5}));
}

TEST(Qwen2MoeConfig, DefaultsAreQwen2MoeConfigs) {
  // Only the required fields: the MoE fields take transformers' Qwen2MoeConfig defaults.
  auto c = parse_model_config(R"({"architectures": ["Qwen2MoeForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
      "vocab_size": 1000})",
                              "moe/config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->moe.num_experts, 60);
  EXPECT_EQ(c->moe.num_experts_per_tok, 4);
  EXPECT_EQ(c->moe.moe_intermediate_size, 1408);
  EXPECT_EQ(c->moe.shared_expert_intermediate_size, 5632);
  EXPECT_EQ(c->moe.decoder_sparse_step, 1);
  EXPECT_TRUE(c->moe.mlp_only_layers.empty());
  EXPECT_EQ(c->max_position_embeddings, 32768);
}

TEST(Qwen2MoeConfig, BadMoeFieldsAreErrorsNamingTheField) {
  struct Case {
    std::string json, field;
  };
  const std::vector<Case> cases = {
      {with({{"num_experts_per_tok", 61}}), "num_experts_per_tok"},
      {with({{"moe_intermediate_size", 0}}), "moe_intermediate_size"},
      {with({{"decoder_sparse_step", 0}}), "decoder_sparse_step"},
      {with({{"mlp_only_layers", nlohmann::json::array({24})}}), "mlp_only_layers"},
      {with({{"mlp_only_layers", "all"}}), "mlp_only_layers"},
      {with({{"norm_topk_prob", 1}}), "norm_topk_prob"},
      {with({{"num_experts", -1}}), "num_experts"},
  };
  for (const auto& c : cases) {
    auto r = parse_model_config(c.json, "moe/config.json");
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_NE(r.error().message.find(c.field), std::string::npos) << r.error().message;
  }
}

TEST(Qwen2MoeConfig, TinyCheckpointHasADenseMiddleLayer) {
  auto c = load_model_config(testing::tiny_checkpoint("qwen2-moe", 5));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->architecture_name, "Qwen2MoeForCausalLM");
  EXPECT_EQ(c->model_type, "qwen2_moe");
  EXPECT_EQ(c->moe.num_experts, 8);
  EXPECT_EQ(c->moe.num_experts_per_tok, 2);
  EXPECT_EQ(c->num_hidden_layers, 3);
  EXPECT_TRUE(c->is_sparse_layer(0));
  EXPECT_FALSE(c->is_sparse_layer(1));
  EXPECT_TRUE(c->is_sparse_layer(2));
}

// Keeps what the model reports.
struct RoutingLog final : ExpertRoutingObserver {
  int begins = 0, ends = 0;
  std::vector<int64_t> layers;
  std::vector<std::vector<int32_t>> ids;
  int64_t tokens = 0, top_k = 0;
  void on_forward_begin(const ForwardBatch&) override { ++begins; }
  void on_select_experts(int64_t layer, const int32_t* e, int64_t n, int64_t k) override {
    layers.push_back(layer);
    ids.emplace_back(e, e + n * k);
    tokens = n;
    top_k = k;
  }
  void on_forward_end() override { ++ends; }
};

TEST(Qwen2MoeModel, ReportsEachSparseLayersRoutingOncePerForward) {
  CpuBackend be;
  auto model = load_causal_lm(testing::tiny_checkpoint("qwen2-moe", 5), be);
  ASSERT_TRUE(model.ok()) << model.error().message;
  RoutingLog log;
  (*model)->set_expert_routing_observer(&log);
  PagePool pool(64, 1);
  KvCache kv(be, (*model)->kv_cache_shape(), pool.num_pages(), 1);
  const std::vector<int32_t> prompt = {9707, 11, 1879, 0, 151643, 42, 7};
  auto pages = *pool.allocate(pool.pages_for(static_cast<int64_t>(prompt.size())));
  ForwardBatch b;
  b.add(prompt, 0, pages);
  auto logits = ModelRunner(**model).forward(b, kv);
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  EXPECT_EQ(log.begins, 1);
  EXPECT_EQ(log.ends, 1);
  EXPECT_EQ(log.layers, (std::vector<int64_t>{0, 2})) << "layer 1 is dense";
  EXPECT_EQ(log.tokens, 7);
  EXPECT_EQ(log.top_k, 2);
  for (const auto& layer_ids : log.ids) {
    for (int64_t t = 0; t < 7; ++t) {
      const int32_t a = layer_ids[t * 2], c = layer_ids[t * 2 + 1];
      EXPECT_TRUE(a >= 0 && a < 8 && c >= 0 && c < 8 && a != c) << a << " " << c;
    }
  }
  // The routing spreads over experts (random weights route tokens differently).
  std::set<int32_t> used(log.ids[0].begin(), log.ids[0].end());
  EXPECT_GT(used.size(), 2u);

  // An invalid batch fails before the forward: nothing reported. Without an observer, nothing.
  ForwardBatch bad;
  const std::vector<int32_t> oob = {200000};
  bad.add(oob, 0, pages);
  EXPECT_FALSE(ModelRunner(**model).forward(bad, kv).ok());
  EXPECT_EQ(log.begins, 1);
  (*model)->set_expert_routing_observer(nullptr);
  ASSERT_TRUE(ModelRunner(**model).forward(b, kv).ok());
  EXPECT_EQ(log.begins, 1);
}

TEST(Qwen2MoeModel, DenseModelsIgnoreTheObserver) {
  CpuBackend be;
  auto model = load_causal_lm(testing::tiny_checkpoint("qwen2", 1), be);
  ASSERT_TRUE(model.ok()) << model.error().message;
  RoutingLog log;
  (*model)->set_expert_routing_observer(&log);
  PagePool pool(16, 1);
  KvCache kv(be, (*model)->kv_cache_shape(), pool.num_pages(), 1);
  const std::vector<int32_t> prompt = {1, 2, 3};
  auto pages = *pool.allocate(3);
  ForwardBatch b;
  b.add(prompt, 0, pages);
  ASSERT_TRUE(ModelRunner(**model).forward(b, kv).ok());
  EXPECT_EQ(log.begins, 0);
  EXPECT_TRUE(log.layers.empty());
}

TEST(Qwen2MoeModel, MissingExpertWeightIsAnErrorNamingIt) {
  // A config that asks for more experts than the checkpoint holds.
  const std::string src = testing::tiny_checkpoint("qwen2-moe", 5);
  const std::string dir = testing::scratch_dir("qwen2-moe-missing");
  std::filesystem::copy_file(src + "/model.safetensors", dir + "/model.safetensors");
  std::ifstream in(src + "/config.json");
  nlohmann::json cfg = nlohmann::json::parse(in);
  ASSERT_EQ(cfg["num_experts"], 8);
  cfg["num_experts"] = 9;
  std::ofstream(dir + "/config.json") << cfg.dump();
  CpuBackend be;
  auto model = load_causal_lm(dir, be);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("gate.weight"), std::string::npos) << model.error().message;
}

}  // namespace
}  // namespace sglang
