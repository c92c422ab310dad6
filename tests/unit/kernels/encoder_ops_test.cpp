// The encoder ops of every CPU kernel table this machine supports (LayerNorm with bias, the
// element-wise activations, bidirectional paged attention) against double-precision references.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"

namespace sglang {
namespace {

class EncoderOpsTest : public ::testing::TestWithParam<const cpu::CpuKernels*> {
 protected:
  EncoderOpsTest() : be_(*GetParam()) {}

  std::vector<float> random_vec(size_t n, float scale = 1.0f, float center = 0.0f) {
    std::uniform_real_distribution<float> d(center - scale, center + scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }
  Tensor upload(const std::vector<float>& v, std::vector<int64_t> shape) {
    return be_.from_host(v.data(), DType::kF32, std::move(shape));
  }
  std::vector<float> download(const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    be_.copy_to_host(t, v.data());
    return v;
  }

  CpuBackend be_;
  std::mt19937 rng_{7};
};

TEST_P(EncoderOpsTest, LayerNormMatchesReferenceOnStridedViews) {
  // Rows far from zero mean (as after a residual add) and a column view of a wider tensor on both
  // sides; then in place.
  const int64_t t = 5, h = 37, wide = 50;
  const auto x = random_vec(t * wide, 3.0f, 10.0f);
  const auto w = random_vec(h, 0.5f, 1.0f), b = random_vec(h, 0.5f);
  const Tensor xt = upload(x, {t, wide});
  const Tensor out = be_.zeros(DType::kF32, {t, wide});
  const float eps = 1e-5f;
  be_.layer_norm(xt.cols_view(3, 3 + h), upload(w, {h}), upload(b, {h}), eps,
                 out.cols_view(10, 10 + h));
  const auto got = download(out);
  std::vector<double> ref(static_cast<size_t>(t * h));
  for (int64_t r = 0; r < t; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < h; ++i) mean += x[r * wide + 3 + i];
    mean /= h;
    for (int64_t i = 0; i < h; ++i) var += std::pow(x[r * wide + 3 + i] - mean, 2);
    var /= h;
    for (int64_t i = 0; i < h; ++i) {
      ref[r * h + i] = (x[r * wide + 3 + i] - mean) / std::sqrt(var + eps) * w[i] + b[i];
      ASSERT_NEAR(got[r * wide + 10 + i], ref[r * h + i], 2e-5) << "row " << r << " col " << i;
    }
    EXPECT_EQ(got[r * wide + 9], 0.0f) << "left of the view untouched";
    EXPECT_EQ(got[r * wide + 10 + h], 0.0f) << "right of the view untouched";
  }
  // In place on a contiguous tensor.
  std::vector<float> xc(static_cast<size_t>(t * h));
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < h; ++i) xc[r * h + i] = x[r * wide + 3 + i];
  const Tensor inplace = upload(xc, {t, h});
  be_.layer_norm(inplace, upload(w, {h}), upload(b, {h}), eps, inplace);
  const auto got2 = download(inplace);
  for (size_t i = 0; i < got2.size(); ++i) ASSERT_NEAR(got2[i], ref[i], 2e-5);
}

TEST_P(EncoderOpsTest, ActivationsMatchTheirDefinitions) {
  const int64_t t = 3, n = 41;
  const auto x = random_vec(t * n, 6.0f);
  struct Case {
    Activation f;
    double (*ref)(double);
  };
  const Case cases[] = {
      {Activation::kGelu, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {Activation::kGeluTanh,
       [](double v) {
         return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
       }},
      {Activation::kRelu, [](double v) { return v > 0 ? v : 0.0; }},
      {Activation::kTanh, [](double v) { return std::tanh(v); }},
      {Activation::kSigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }},
  };
  for (const Case& c : cases) {
    const Tensor in = upload(x, {t, n});
    const Tensor out = be_.empty(DType::kF32, {t, n});
    be_.activation(c.f, in, out);
    const auto got = download(out);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_NEAR(got[i], c.ref(x[i]), 2e-6 * std::max(1.0, std::abs(c.ref(x[i]))))
          << "activation " << static_cast<int>(c.f) << " at " << x[i];
    }
    be_.activation(c.f, in, in);  // in place
    const auto again = download(in);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(again[i], got[i]);
  }
}

TEST_P(EncoderOpsTest, BidirectionalAttentionSeesTheWholeSequence) {
  // Two whole sequences (7 and 4 tokens) on scattered pages of 4 slots, GQA 4:2: with
  // causal = false every token attends to every key of its own sequence and none of the other.
  const int64_t heads = 4, kv_heads = 2, d = 8, page = 4, slots = 48;
  const auto kc = random_vec(slots * kv_heads * d), vc = random_vec(slots * kv_heads * d);
  const Tensor k_cache = upload(kc, {slots, kv_heads * d});
  const Tensor v_cache = upload(vc, {slots, kv_heads * d});
  const std::vector<int32_t> pages = {6, 1, 9, 4};  // seq0: 6, 1; seq1: 9, 4 (one used)
  const std::vector<int32_t> info = {0, 7, 7, 0, 7, 4, 4, 2};
  const int64_t lens[] = {7, 4};
  const int64_t tokens = 11;
  const auto qv = random_vec(tokens * heads * d);
  AttentionMetadata meta;
  meta.seq_info = be_.from_host(info.data(), DType::kI32, {2, 4});
  meta.page_table = be_.from_host(pages.data(), DType::kI32, {4});
  meta.num_seqs = 2;
  meta.num_tokens = tokens;
  meta.max_kv_len = 7;
  meta.page_size = page;
  AttentionParams p{heads, kv_heads, d, 0.3f, 0};
  p.causal = false;
  const Tensor out = be_.empty(DType::kF32, {tokens, heads * d});
  be_.attention(upload(qv, {tokens, heads * d}), k_cache, v_cache, meta, p, out);
  const auto got = download(out);
  for (int64_t r = 0; r < tokens; ++r) {
    const int64_t seq = r < 7 ? 0 : 1;
    const int32_t* sp = pages.data() + info[seq * 4 + 3];
    for (int64_t hh = 0; hh < heads; ++hh) {
      const int64_t kvh = hh / (heads / kv_heads);
      std::vector<double> w;
      double mx = -1e30;
      for (int64_t j = 0; j < lens[seq]; ++j) {
        const int64_t slot = sp[j / page] * page + j % page;
        double s = 0;
        for (int64_t e = 0; e < d; ++e)
          s += qv[r * heads * d + hh * d + e] * kc[slot * kv_heads * d + kvh * d + e];
        w.push_back(s * 0.3);
        mx = std::max(mx, s * 0.3);
      }
      double den = 0;
      for (auto& x : w) den += (x = std::exp(x - mx));
      for (int64_t e = 0; e < d; ++e) {
        double o = 0;
        for (int64_t j = 0; j < lens[seq]; ++j) {
          const int64_t slot = sp[j / page] * page + j % page;
          o += w[j] / den * vc[slot * kv_heads * d + kvh * d + e];
        }
        ASSERT_NEAR(got[r * heads * d + hh * d + e], o, 1e-5) << "token " << r << " head " << hh;
      }
    }
  }
  // The same call with causal = true differs for every token but each sequence's last one.
  p.causal = true;
  const Tensor causal_out = be_.empty(DType::kF32, {tokens, heads * d});
  be_.attention(upload(qv, {tokens, heads * d}), k_cache, v_cache, meta, p, causal_out);
  const auto c = download(causal_out);
  for (int64_t r : {6, 10}) {
    for (int64_t i = 0; i < heads * d; ++i)
      EXPECT_NEAR(c[r * heads * d + i], got[r * heads * d + i], 1e-6);
  }
  EXPECT_GT(std::abs(c[0] - got[0]), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Isa, EncoderOpsTest,
                         ::testing::ValuesIn(testing::supported_kernel_tables()),
                         [](const auto& param_info) { return std::string(param_info.param->isa); });

}  // namespace
}  // namespace sglang
