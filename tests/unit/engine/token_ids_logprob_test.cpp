// SGLang's token_ids_logprob through the scheduler: every returned position carries the logprobs
// of the asked ids, equal to the full log-softmax at that position (a forward over prompt +
// output with every row's logits) and to the top-logprob entries of the same ids; a request
// with max_new_tokens 0 (what /v1/score sends) gets one entry for the position after its prompt.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/model_runner.h"
#include "engine/scheduler.h"
#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"

namespace sglang {
namespace {

class TokenIdsLogprobTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = new CpuBackend(2);
    auto model = load_causal_lm(testing::tiny_checkpoint("qwen2", 1), *backend_);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = model->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete backend_;
  }

  static std::unique_ptr<Request> request(std::vector<int32_t> prompt, int64_t max_new) {
    auto r = std::make_unique<Request>();
    r->prompt = std::move(prompt);
    r->params.max_new_tokens = max_new;
    r->params.temperature = 0;
    r->params.apply_defaults();
    r->logprob.return_logprob = true;
    r->stream = std::make_shared<RequestStream>();
    return r;
  }

  static GenerationResult run(std::unique_ptr<Request> r) {
    SchedulerConfig c;
    c.max_total_tokens = 4096;
    c.chunked_prefill_size = 16;  // the prompt's input logprobs come from several chunks
    Scheduler s(*model_, nullptr, c);
    auto stream = r->stream;
    EXPECT_TRUE(s.submit(std::move(r)).ok());
    while (s.step()) {
    }
    return wait_for_result(*stream);
  }

  // Row-by-row log-softmax of one forward over `tokens` with every position's logits.
  static std::vector<std::vector<double>> full_log_softmax(const std::vector<int32_t>& tokens) {
    PagePool pool(128, 1);
    KvCache kv(*backend_, model_->kv_cache_shape(), 128, 1);
    auto pages = pool.allocate(static_cast<int64_t>(tokens.size()));
    ForwardBatch batch;
    batch.add(tokens, 0, *pages, LogitsMode::kAll);
    auto logits = ModelRunner(*model_).forward(batch, kv);
    EXPECT_TRUE(logits.ok());
    const auto vocab = static_cast<size_t>(model_->config().vocab_size);
    std::vector<float> host(static_cast<size_t>(logits->numel()));
    backend_->copy_to_host(*logits, host.data());
    std::vector<std::vector<double>> out;
    for (size_t row = 0; row < tokens.size(); ++row) {
      const float* l = host.data() + row * vocab;
      const double mx = *std::max_element(l, l + vocab);
      double sum = 0;
      for (size_t i = 0; i < vocab; ++i) sum += std::exp(l[i] - mx);
      std::vector<double> lp(vocab);
      for (size_t i = 0; i < vocab; ++i) lp[i] = l[i] - mx - std::log(sum);
      out.push_back(std::move(lp));
    }
    return out;
  }

  static inline CpuBackend* backend_ = nullptr;
  static inline CausalLM* model_ = nullptr;
};

std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t n) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& t : p) t = static_cast<int32_t>(rng() % 150000);
  return p;
}

// The asked ids' entry of `top`, if there.
const TokenLogprob* find(const std::vector<TokenLogprob>& top, int32_t id) {
  for (const auto& t : top) {
    if (t.token_id == id) return &t;
  }
  return nullptr;
}

TEST_F(TokenIdsLogprobTest, EveryPositionMatchesTheFullLogSoftmaxAndTheTopEntries) {
  std::mt19937 rng(21);
  const auto prompt = random_prompt(rng, 40);
  const GenerationResult plain = run(request(prompt, 5));
  ASSERT_EQ(plain.output_ids.size(), 5u);
  EXPECT_TRUE(plain.output_token_ids_logprobs.empty()) << "none asked, none returned";

  // Ask for the greedy outputs (each the top-1 somewhere) and two arbitrary ids.
  const std::vector<int32_t> asked = {plain.output_ids[0], plain.output_ids[1], 7, 123456};
  auto r = request(prompt, 5);
  r->logprob.logprob_start_len = 0;
  r->logprob.top_logprobs_num = 5;
  r->logprob.token_ids_logprob = asked;
  const GenerationResult got = run(std::move(r));
  ASSERT_EQ(got.output_ids, plain.output_ids);

  std::vector<int32_t> all = prompt;
  all.insert(all.end(), got.output_ids.begin(), got.output_ids.end());
  const auto ref = full_log_softmax(all);

  ASSERT_EQ(got.input_logprobs.size(), prompt.size());
  EXPECT_TRUE(got.input_logprobs[0].token_ids.empty()) << "the first token has no logits";
  int64_t matched_top = 0;
  for (size_t j = 1; j < prompt.size(); ++j) {
    const auto& ids = got.input_logprobs[j].token_ids;
    ASSERT_EQ(ids.size(), asked.size()) << "prompt position " << j;
    for (size_t k = 0; k < asked.size(); ++k) {
      EXPECT_EQ(ids[k].token_id, asked[k]);
      EXPECT_NEAR(ids[k].logprob, ref[j - 1][static_cast<size_t>(asked[k])], 1e-3);
      if (const TokenLogprob* t = find(got.input_logprobs[j].top, asked[k])) {
        EXPECT_EQ(ids[k].logprob, t->logprob);
        ++matched_top;
      }
    }
  }
  ASSERT_EQ(got.output_token_ids_logprobs.size(), got.output_ids.size());
  for (size_t i = 0; i < got.output_ids.size(); ++i) {
    const auto& ids = got.output_token_ids_logprobs[i];
    ASSERT_EQ(ids.size(), asked.size());
    for (size_t k = 0; k < asked.size(); ++k) {
      EXPECT_EQ(ids[k].token_id, asked[k]);
      EXPECT_NEAR(ids[k].logprob, ref[prompt.size() - 1 + i][static_cast<size_t>(asked[k])], 1e-3);
      if (const TokenLogprob* t = find(got.output_top_logprobs[i], asked[k])) {
        EXPECT_EQ(ids[k].logprob, t->logprob);
        ++matched_top;
      }
    }
  }
  // The first two outputs are the top-1 of their own positions at least.
  EXPECT_GE(matched_top, 2);
  EXPECT_EQ(got.output_token_ids_logprobs[0][0].logprob, got.output_logprobs[0].logprob);
  EXPECT_EQ(got.output_token_ids_logprobs[1][1].logprob, got.output_logprobs[1].logprob);
}

TEST_F(TokenIdsLogprobTest, SampledRequestsReportTheSameDistributionAsTheirTopLogprobs) {
  std::mt19937 rng(22);
  const auto prompt = random_prompt(rng, 12);
  auto r = request(prompt, 6);
  r->params.temperature = 0.7;
  r->params.sampling_seed = 3;
  r->params.apply_defaults();
  r->logprob.top_logprobs_num = 3;
  const GenerationResult first = run(std::move(r));
  std::vector<int32_t> asked;
  for (const auto& t : first.output_top_logprobs[2]) asked.push_back(t.token_id);

  r = request(prompt, 6);
  r->params.temperature = 0.7;
  r->params.sampling_seed = 3;
  r->params.apply_defaults();
  r->logprob.top_logprobs_num = 3;
  r->logprob.token_ids_logprob = asked;
  const GenerationResult got = run(std::move(r));
  ASSERT_EQ(got.output_ids, first.output_ids) << "asking ids does not change the draw";
  for (size_t k = 0; k < asked.size(); ++k) {
    EXPECT_EQ(got.output_token_ids_logprobs[2][k].logprob, first.output_top_logprobs[2][k].logprob);
  }
}

TEST_F(TokenIdsLogprobTest, MaxNewTokensZeroGivesTheNextPositionOnly) {
  std::mt19937 rng(23);
  const auto prompt = random_prompt(rng, 30);
  const std::vector<int32_t> asked = {5, 99, 5};
  auto r = request(prompt, 0);
  r->logprob.token_ids_logprob = asked;
  const GenerationResult got = run(std::move(r));
  EXPECT_TRUE(got.output_ids.empty());
  EXPECT_TRUE(got.output_logprobs.empty());
  ASSERT_EQ(got.output_token_ids_logprobs.size(), 1u);
  const auto ref = full_log_softmax(prompt);
  ASSERT_EQ(got.output_token_ids_logprobs[0].size(), asked.size());
  for (size_t k = 0; k < asked.size(); ++k) {
    EXPECT_EQ(got.output_token_ids_logprobs[0][k].token_id, asked[k]);
    EXPECT_NEAR(got.output_token_ids_logprobs[0][k].logprob,
                ref.back()[static_cast<size_t>(asked[k])], 1e-3);
  }
  // Without return_logprob nothing is computed.
  r = request(prompt, 0);
  r->logprob.return_logprob = false;
  r->logprob.token_ids_logprob = asked;
  EXPECT_TRUE(run(std::move(r)).output_token_ids_logprobs.empty());
}

TEST_F(TokenIdsLogprobTest, IdsOutsideTheVocabularyAreRefused) {
  SchedulerConfig c;
  c.max_total_tokens = 1024;
  Scheduler s(*model_, nullptr, c);
  auto r = request({1, 2, 3}, 2);
  r->logprob.token_ids_logprob = {1, static_cast<int32_t>(model_->config().vocab_size)};
  const Status st = s.validate(*r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("token_ids_logprob"), std::string::npos);
  r->logprob.token_ids_logprob = {-1};
  EXPECT_FALSE(s.validate(*r).ok());
}

}  // namespace
}  // namespace sglang
