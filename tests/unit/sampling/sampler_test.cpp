#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>

namespace sglang {
namespace {

SamplingParams params(double temperature = 1.0, int64_t top_k = kTopKAll, double top_p = 1.0,
                      double min_p = 0.0) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.apply_defaults();
  return p;
}

std::vector<double> softmax(const std::vector<float>& l, double t) {
  double mx = *std::max_element(l.begin(), l.end());
  std::vector<double> p(l.size());
  double s = 0;
  for (size_t i = 0; i < l.size(); ++i) s += p[i] = std::exp((l[i] - mx) / t);
  for (double& v : p) v /= s;
  return p;
}

// Frequencies of each token over `draws` sampling positions.
std::vector<double> frequencies(const std::vector<float>& logits, const SamplingParams& p,
                                int draws, uint64_t seed = 1) {
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) {
    std::vector<float> l = logits;
    f[static_cast<size_t>(sample_from_logits(l, p, seed, i, false, 0).token_id)] += 1.0 / draws;
  }
  return f;
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 0.5f, 2.9f, 0.0f, -3.0f};

TEST(Sampler, TopK1IsGreedyArgmax) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> l = kLogits;
    EXPECT_EQ(sample_from_logits(l, params(0.7, 1), seed, 3, false, 0).token_id, 1);
  }
  std::vector<float> l = kLogits;
  EXPECT_EQ(sample_from_logits(l, params(0.0), 5, 0, false, 0).token_id, 1) << "temperature 0";
}

TEST(Sampler, GreedyArgmaxIsTheFirstLargestAtEveryLengthAndPosition) {
  // The vectorised argmax against the plain first-maximum scan, on a real vocabulary's length
  // and on lengths around its lane width, with the maximum at every position, ties and -inf.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-20.0f, 20.0f);
  auto reference = [](const std::vector<float>& x) {
    size_t best = 0;
    for (size_t i = 1; i < x.size(); ++i) {
      if (x[i] > x[best]) best = i;
    }
    return static_cast<int32_t>(best);
  };
  const SamplingParams greedy = params(0.0);
  for (size_t n : {1u, 2u, 15u, 16u, 17u, 31u, 33u, 100u, 49152u, 151936u}) {
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<float> x(n);
      for (float& v : x) v = u(rng);
      if (trial == 1) x.assign(n, -std::numeric_limits<float>::infinity());
      if (trial == 2 && n > 3) x[n / 2] = x[n - 1] = x[1] = 30.0f;  // ties: the first wins
      if (trial == 3) x[n - 1] = 40.0f;                             // in the scalar tail
      std::vector<float> l = x;
      const SampleResult fast = sample_from_logits(l, greedy, 0, 0, false, 0);
      EXPECT_EQ(fast.token_id, reference(x)) << "n " << n << " trial " << trial;
      // The logprob path (log-softmax over the row) picks the same token.
      l = x;
      const SampleResult full = sample_from_logits(l, greedy, 0, 0, true, 2);
      EXPECT_EQ(full.token_id, fast.token_id);
      if (trial == 0) {
        EXPECT_EQ(full.top.front().token_id, fast.token_id);
      }
    }
  }
}

TEST(Sampler, FrequenciesFollowTemperatureSoftmax) {
  for (double t : {0.5, 1.0, 2.0}) {
    const auto want = softmax(kLogits, t);
    const auto got = frequencies(kLogits, params(t), 40000);
    for (size_t i = 0; i < want.size(); ++i) {
      const double sd = std::sqrt(want[i] * (1 - want[i]) / 40000);
      EXPECT_NEAR(got[i], want[i], 5 * sd + 1e-4) << "t=" << t << " token " << i;
    }
  }
}

TEST(Sampler, TopKTopPMinPKeepTheRightSets) {
  const auto probs = softmax(kLogits, 1.0);
  // top_k = 2: tokens 1 and 5 only, in proportion.
  auto f = frequencies(kLogits, params(1.0, 2), 20000);
  const double z = probs[1] + probs[5];
  for (size_t i = 0; i < f.size(); ++i) {
    const double want = (i == 1 || i == 5) ? probs[i] / z : 0.0;
    EXPECT_NEAR(f[i], want, 0.02) << "top_k token " << i;
  }
  // top_p: sorted 1 (p1), 5, 2, 0, ...; a token is kept while the mass before it is <= top_p.
  const double top_p = probs[1] + 0.5 * probs[5];  // keeps 1 and 5, not 2
  f = frequencies(kLogits, params(1.0, kTopKAll, top_p), 20000);
  EXPECT_GT(f[5], 0.2);
  EXPECT_EQ(f[2], 0.0);
  EXPECT_EQ(f[0], 0.0);
  // min_p = 0.5: tokens with p >= 0.5 * p_max (1, 5, 2) only.
  f = frequencies(kLogits, params(1.0, kTopKAll, 1.0, 0.5), 20000);
  for (size_t i = 0; i < f.size(); ++i) {
    const bool kept = probs[i] >= 0.5 * probs[1];
    if (kept) {
      EXPECT_GT(f[i], 0.05) << i;
    } else {
      EXPECT_EQ(f[i], 0.0) << i;
    }
  }
  // min_p also applies together with top_k (the sorted path).
  f = frequencies(kLogits, params(1.0, 4, 1.0, 0.5), 20000);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_GT(f[2], 0.05);
}

TEST(Sampler, SeededDrawsRepeatAndPositionsDiffer) {
  const SamplingParams p = params(1.5);
  std::vector<int32_t> a, b, c;
  for (int i = 0; i < 50; ++i) {
    std::vector<float> l1 = kLogits, l2 = kLogits, l3 = kLogits;
    a.push_back(sample_from_logits(l1, p, 42, i, false, 0).token_id);
    b.push_back(sample_from_logits(l2, p, 42, i, false, 0).token_id);
    c.push_back(sample_from_logits(l3, p, 43, i, false, 0).token_id);
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::map<int32_t, int> distinct;
  for (int32_t t : a) ++distinct[t];
  EXPECT_GT(distinct.size(), 2u) << "different positions must give different draws";
}

TEST(Sampler, PenaltiesFollowSGLangFormulas) {
  PenaltyState st;
  st.add_output_token(1);
  st.add_output_token(1);
  st.add_output_token(3);
  SamplingParams p;
  p.frequency_penalty = 0.5;
  std::vector<float> l = kLogits;
  apply_logit_processors(l, p, st, 3, {});
  EXPECT_FLOAT_EQ(l[1], 3.0f - 0.5f * 2);
  EXPECT_FLOAT_EQ(l[3], -1.0f - 0.5f);
  EXPECT_FLOAT_EQ(l[2], 2.5f);

  p = {};
  p.presence_penalty = 0.25;
  l = kLogits;
  apply_logit_processors(l, p, st, 3, {});
  EXPECT_FLOAT_EQ(l[1], 3.0f - 0.25f);
  EXPECT_FLOAT_EQ(l[3], -1.0f - 0.25f);
  EXPECT_FLOAT_EQ(l[0], 1.0f);

  p = {};
  p.repetition_penalty = 2.0;
  l = kLogits;
  apply_logit_processors(l, p, st, 3, {});
  EXPECT_FLOAT_EQ(l[1], 1.5f);   // positive: divided
  EXPECT_FLOAT_EQ(l[3], -2.0f);  // negative: multiplied
  EXPECT_FLOAT_EQ(l[5], 2.9f);   // not in the output

  p = {};
  p.logit_bias[7] = 10.0;
  l = kLogits;
  apply_logit_processors(l, p, st, 3, {});
  EXPECT_FLOAT_EQ(l[7], 7.0f);

  // min_new_tokens: stop tokens are impossible until the output is long enough.
  p = {};
  p.min_new_tokens = 4;
  const std::vector<int64_t> stops = {1, 5};
  l = kLogits;
  apply_logit_processors(l, p, st, 3, stops);
  EXPECT_TRUE(std::isinf(l[1]) && l[1] < 0);
  EXPECT_TRUE(std::isinf(l[5]) && l[5] < 0);
  l = kLogits;
  apply_logit_processors(l, p, st, 4, stops);
  EXPECT_FLOAT_EQ(l[1], 3.0f);
}

TEST(Sampler, LogprobsAreSGLangs) {
  // Greedy: log_softmax of the logits.
  std::vector<float> l = kLogits;
  const SampleResult g = sample_from_logits(l, params(0.0), 1, 0, true, 3);
  const auto probs = softmax(kLogits, 1.0);
  EXPECT_NEAR(g.logprob, std::log(probs[1]), 1e-5);
  ASSERT_EQ(g.top.size(), 3u);
  EXPECT_EQ(g.top[0].token_id, 1);
  EXPECT_EQ(g.top[1].token_id, 5);
  EXPECT_EQ(g.top[2].token_id, 2);
  EXPECT_NEAR(g.top[2].logprob, std::log(probs[2]), 1e-5);

  // Sampled with top_p: temperature-scaled probabilities renormalised over the top_p set.
  const double t = 0.8;
  const auto pt = softmax(kLogits, t);
  const double top_p = pt[1] + 0.5 * pt[5];
  l = kLogits;
  const SampleResult s = sample_from_logits(l, params(t, kTopKAll, top_p), 3, 0, true, 3);
  const double mass = pt[1] + pt[5];
  ASSERT_TRUE(s.token_id == 1 || s.token_id == 5);
  EXPECT_NEAR(s.logprob, std::log(pt[static_cast<size_t>(s.token_id)] / mass), 1e-5);
  ASSERT_EQ(s.top.size(), 3u);
  EXPECT_EQ(s.top[2].token_id, 2);
  EXPECT_EQ(s.top[2].logprob, std::numeric_limits<float>::lowest()) << "outside top_p: clamped";

  // logprob_of a given token (input logprobs).
  l = kLogits;
  const SampleResult in = logprob_of(l, params(0.0), 3, 0);
  EXPECT_NEAR(in.logprob, std::log(probs[3]), 1e-5);
}

}  // namespace
}  // namespace sglang
