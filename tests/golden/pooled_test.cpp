// Embedding servers against Hugging Face transformers (tools/make_golden.py, pooled.safetensors):
// the scheduler in embedding mode returns the normalised last hidden state of a decoder (SGLang's
// LAST pooling) and the score head of a LlamaForSequenceClassification reward model.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/scheduler.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "test_support.h"

namespace sglang {
namespace {

template <typename T>
std::vector<T> read_tensor(const SafetensorsFile& f, const std::string& name) {
  auto t = f.get(name);
  EXPECT_TRUE(t.ok()) << name;
  if (!t.ok()) return {};
  const T* p = static_cast<const T*>(t->data);
  return std::vector<T>(p, p + t->numel());
}

// Runs every prompt through a scheduler in embedding mode; returns the pooled outputs.
std::vector<std::vector<float>> pooled(CausalLM& model,
                                       const std::vector<std::vector<int32_t>>& prompts) {
  SchedulerConfig c;
  c.max_total_tokens = 4096;
  c.embedding = true;
  c.chunked_prefill_size = 16;  // the 40-token prompt goes in chunks
  Scheduler s(model, nullptr, c);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& p : prompts) {
    auto r = std::make_unique<Request>();
    r->prompt = p;
    r->params.max_new_tokens = 0;
    r->stream = std::make_shared<RequestStream>();
    streams.push_back(r->stream);
    EXPECT_TRUE(s.submit(std::move(r)).ok());
  }
  while (s.step()) {
  }
  std::vector<std::vector<float>> out;
  for (auto& st : streams) {
    StepOutput o = st->pop();
    EXPECT_TRUE(o.finished);
    out.push_back(o.embedding);
  }
  return out;
}

class PooledGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = SafetensorsFile::open(std::string(SGLANG_GOLDEN_DIR) + "/pooled.safetensors");
    ASSERT_TRUE(f.ok()) << f.error().message;
    file_ = std::move(*f);
  }
  std::unique_ptr<SafetensorsFile> file_;
  CpuBackend backend_{2};
};

TEST_F(PooledGolden, DecoderEmbeddingIsTheNormalisedLastHiddenState) {
  auto model = load_causal_lm(testing::tiny_checkpoint("qwen2", 1), backend_);
  ASSERT_TRUE(model.ok()) << model.error().message;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 3; ++i) {
    prompts.push_back(read_tensor<int32_t>(*file_, "embed" + std::to_string(i) + ".input_ids"));
  }
  const auto got = pooled(**model, prompts);
  for (int i = 0; i < 3; ++i) {
    const auto want = read_tensor<float>(*file_, "embed" + std::to_string(i) + ".embedding");
    ASSERT_EQ(got[i].size(), want.size());
    EXPECT_LT(testing::relative_l2(got[i].data(), want.data(), want.size()), 1e-4) << i;
    double norm = 0;
    for (float v : got[i]) norm += v * v;
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
}

TEST_F(PooledGolden, RewardModelScoresMatchTransformers) {
  auto model = load_causal_lm(testing::tiny_checkpoint("llama-reward", 4), backend_);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->output_width(), 1);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 3; ++i) {
    prompts.push_back(read_tensor<int32_t>(*file_, "reward" + std::to_string(i) + ".input_ids"));
  }
  const auto got = pooled(**model, prompts);
  for (int i = 0; i < 3; ++i) {
    const auto want = read_tensor<float>(*file_, "reward" + std::to_string(i) + ".score");
    ASSERT_EQ(got[i].size(), 1u);
    EXPECT_NEAR(got[i][0], want[0], 1e-4 * std::max(1.0f, std::fabs(want[0]))) << i;
  }
}

}  // namespace
}  // namespace sglang
