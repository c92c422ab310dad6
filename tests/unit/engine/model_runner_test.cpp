// The model runner: the checks every forward goes through, and the per-forward input it builds
// once for every model (positions, KV slots, per-sequence metadata, logit rows) for a mixed batch
// of a chunked prefill and a decode.
#include "engine/model_runner.h"

#include <gtest/gtest.h>

#include <vector>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "test_support.h"

namespace sglang {
namespace {

std::vector<int32_t> to_host(Backend& be, const Tensor& t) {
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  be.copy_to_host(t, out.data());
  return out;
}

class ModelRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = load_causal_lm(testing::tiny_checkpoint("qwen2", 1), be_);
    ASSERT_TRUE(m.ok()) << m.error().message;
    model_ = std::move(*m);
  }
  CpuBackend be_;
  std::unique_ptr<CausalLM> model_;
};

TEST_F(ModelRunnerTest, BuildsPositionsSlotsAndRowsOnceForAMixedBatch) {
  PagePool pool(16, 4);
  KvCache kv(be_, model_->kv_cache_shape(), pool.num_pages(), 4);
  ModelRunner runner(*model_);
  ForwardBatch b;
  // A prefill chunk after a 5-token prefix (pages 7, 2), all logits; then a decode at position 3.
  const std::vector<int32_t> chunk = {1, 2, 3}, step = {4};
  const std::vector<int32_t> pages_a = {7, 2}, pages_b = {5};
  b.add(chunk, 5, pages_a, LogitsMode::kAll);
  b.add(step, 3, pages_b, LogitsMode::kLast);
  ASSERT_TRUE(runner.validate(b, kv).ok());
  const ModelInput in = runner.prepare(b, kv);
  EXPECT_EQ(in.num_tokens, 4);
  EXPECT_EQ(to_host(be_, in.positions), (std::vector<int32_t>{5, 6, 7, 3}));
  // Slot = page * page_size + position % page_size.
  EXPECT_EQ(to_host(be_, in.attention.slot_mapping), (std::vector<int32_t>{9, 10, 11, 23}));
  EXPECT_EQ(to_host(be_, in.attention.seq_info), (std::vector<int32_t>{0, 3, 8, 0, 3, 1, 4, 2}));
  EXPECT_EQ(in.attention.num_seqs, 2);
  EXPECT_EQ(in.attention.max_kv_len, 8);
  EXPECT_EQ(in.attention.page_size, 4);
  EXPECT_EQ(in.logit_rows, (std::vector<int32_t>{0, 1, 2, 3}));
  auto logits = runner.forward(b, kv);
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  EXPECT_EQ(logits->rows(), 4);
  EXPECT_EQ(logits->cols(), model_->config().vocab_size);
}

TEST_F(ModelRunnerTest, MalformedBatchesAreErrorsBeforeTheModelRuns) {
  PagePool pool(8, 2);
  KvCache kv(be_, model_->kv_cache_shape(), pool.num_pages(), 2);
  ModelRunner runner(*model_);
  const std::vector<int32_t> ids = {1, 2, 3};
  auto expect_error = [&](const ForwardBatch& b, const std::string& what) {
    auto s = runner.validate(b, kv);
    ASSERT_FALSE(s.ok()) << what;
    EXPECT_NE(s.error().message.find(what), std::string::npos) << s.error().message;
    EXPECT_FALSE(runner.forward(b, kv).ok());
  };
  expect_error(ForwardBatch{}, "empty forward batch");
  {
    ForwardBatch b;
    const std::vector<int32_t> oob = {static_cast<int32_t>(model_->config().vocab_size)};
    const std::vector<int32_t> pages = {0};
    b.add(oob, 0, pages);
    expect_error(b, "out of range for vocab size");
  }
  {
    ForwardBatch b;
    const std::vector<int32_t> pages = {0};  // 2 slots for 3 tokens
    b.add(ids, 0, pages);
    expect_error(b, "pages do not cover");
  }
  {
    ForwardBatch b;
    const std::vector<int32_t> pages = {0, 8};
    b.add(ids, 0, pages);
    expect_error(b, "page id 8 out of range");
  }
  {
    ForwardBatch b;
    const std::vector<int32_t> pages = {0, 1};
    b.add(ids, 0, pages);
    b.token_ids.push_back(1);
    expect_error(b, "do not match its sequences");
  }
  {
    ForwardBatch b;
    const std::vector<int32_t> pages = {0, 1};
    b.add(ids, 0, pages);
    b.seqs[0].first_token = 1;
    expect_error(b, "malformed");
  }
}

}  // namespace
}  // namespace sglang
