// The ops the Qwen3 / Gemma / Phi-3 decoders added, on every CPU kernel table this machine
// supports, against double-precision references: per-head RMSNorm (a weight narrower than the
// row), partial rotary, GeGLU, scale, soft-capping, and attention with soft-capped scores.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"

namespace sglang {
namespace {

class DecoderOpsTest : public ::testing::TestWithParam<const cpu::CpuKernels*> {
 protected:
  DecoderOpsTest() : be_(*GetParam()) {}

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
  std::mt19937 rng_{11};
};

TEST_P(DecoderOpsTest, PerHeadRmsNormInPlaceOnAColumnView) {
  // q of a qkv row: 3 heads of 8 inside rows of 40; each head normalised on its own (Qwen3).
  const int64_t t = 4, heads = 3, d = 8, wide = 40;
  const auto x = random_vec(t * wide, 2.0f);
  const auto w = random_vec(d, 0.3f, 1.0f);
  const Tensor xt = upload(x, {t, wide});
  const Tensor q = xt.cols_view(0, heads * d);
  const float eps = 1e-6f;
  be_.rms_norm(q, upload(w, {d}), eps, q);
  const auto got = download(xt);
  for (int64_t r = 0; r < t; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      double ss = 0;
      for (int64_t i = 0; i < d; ++i) ss += std::pow(x[r * wide + h * d + i], 2);
      const double inv = 1.0 / std::sqrt(ss / d + eps);
      for (int64_t i = 0; i < d; ++i) {
        ASSERT_NEAR(got[r * wide + h * d + i], x[r * wide + h * d + i] * inv * w[i], 1e-5)
            << r << " " << h << " " << i;
      }
    }
    for (int64_t i = heads * d; i < wide; ++i) EXPECT_EQ(got[r * wide + i], x[r * wide + i]);
  }
}

TEST_P(DecoderOpsTest, PartialRotaryRotatesTheLeadingDimsOfEachHead) {
  // head_dim 16, rotary 12 (Phi-4-mini's 0.75): dims 12..15 of each head pass unchanged.
  const int64_t t = 3, heads = 2, d = 16, rot = 12, half = rot / 2;
  const auto x = random_vec(t * heads * d);
  const auto cs = random_vec(t * rot);
  const Tensor xt = upload(x, {t, heads * d});
  be_.apply_rope(xt, upload(cs, {t, rot}), d);
  const auto got = download(xt);
  for (int64_t r = 0; r < t; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      const float* v = x.data() + r * heads * d + h * d;
      const float* g = got.data() + r * heads * d + h * d;
      for (int64_t i = 0; i < half; ++i) {
        const double c = cs[r * rot + i], s = cs[r * rot + half + i];
        ASSERT_NEAR(g[i], v[i] * c - v[i + half] * s, 1e-6);
        ASSERT_NEAR(g[i + half], v[i + half] * c + v[i] * s, 1e-6);
      }
      for (int64_t i = rot; i < d; ++i) EXPECT_EQ(g[i], v[i]);
    }
  }
}

TEST_P(DecoderOpsTest, GegluScaleAndSoftCap) {
  const int64_t t = 5, inter = 19;
  const auto gu = random_vec(t * 2 * inter, 3.0f);
  const Tensor out = be_.empty(DType::kF32, {t, inter});
  be_.gated_activation(Activation::kGeluTanh, upload(gu, {t, 2 * inter}), out);
  auto got = download(out);
  for (int64_t r = 0; r < t; ++r) {
    for (int64_t i = 0; i < inter; ++i) {
      const double g = gu[r * 2 * inter + i], u = gu[r * 2 * inter + inter + i];
      const double gelu =
          0.5 * g * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (g + 0.044715 * g * g * g)));
      ASSERT_NEAR(got[r * inter + i], gelu * u, 1e-5);
    }
  }
  const auto x = random_vec(t * inter, 40.0f);
  const Tensor xt = upload(x, {t, inter});
  be_.scale(xt, 8.0f, xt);
  got = download(xt);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], x[i] * 8.0f);
  be_.soft_cap(xt, 30.0f, xt);
  const auto capped = download(xt);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(capped[i], std::tanh(got[i] / 30.0) * 30.0, 1e-4);
    ASSERT_LE(std::abs(capped[i]), 30.0f);
  }
}

TEST_P(DecoderOpsTest, SoftCappedSlidingAttentionMatchesReference) {
  // One sequence of 9 tokens (prefix 3, 6 new) on pages of 4, window 4, scores capped at 2:
  // softmax(cap * tanh(q.k * scale / cap)) over the window, as Gemma 2's eager attention.
  const int64_t heads = 2, kv_heads = 1, d = 8, page = 4, slots = 16, prefix = 3, q_len = 6;
  const int64_t kv_len = prefix + q_len, window = 4;
  const float scale = 0.9f, cap = 2.0f;
  const auto kc = random_vec(slots * kv_heads * d, 2.0f), vc = random_vec(slots * kv_heads * d);
  const std::vector<int32_t> pages = {3, 0, 2};
  const std::vector<int32_t> info = {0, static_cast<int32_t>(q_len), static_cast<int32_t>(kv_len),
                                     0};
  const auto qv = random_vec(q_len * heads * d, 2.0f);
  AttentionMetadata meta;
  meta.seq_info = be_.from_host(info.data(), DType::kI32, {1, 4});
  meta.page_table = be_.from_host(pages.data(), DType::kI32, {3});
  meta.num_seqs = 1;
  meta.num_tokens = q_len;
  meta.max_kv_len = kv_len;
  meta.page_size = page;
  AttentionParams p{heads, kv_heads, d, scale, window};
  p.softcap = cap;
  const Tensor out = be_.empty(DType::kF32, {q_len, heads * d});
  be_.attention(upload(qv, {q_len, heads * d}), upload(kc, {slots, kv_heads * d}),
                upload(vc, {slots, kv_heads * d}), meta, p, out);
  const auto got = download(out);
  for (int64_t r = 0; r < q_len; ++r) {
    const int64_t pos = prefix + r, lo = std::max<int64_t>(0, pos - window + 1);
    for (int64_t h = 0; h < heads; ++h) {
      std::vector<double> w;
      for (int64_t j = lo; j <= pos; ++j) {
        const int64_t slot = pages[j / page] * page + j % page;
        double s = 0;
        for (int64_t e = 0; e < d; ++e) s += qv[r * heads * d + h * d + e] * kc[slot * d + e];
        w.push_back(std::tanh(s * scale / cap) * cap);
      }
      double mx = -1e30, den = 0;
      for (double x : w) mx = std::max(mx, x);
      for (double& x : w) den += (x = std::exp(x - mx));
      for (int64_t e = 0; e < d; ++e) {
        double o = 0;
        for (int64_t j = lo; j <= pos; ++j) {
          const int64_t slot = pages[j / page] * page + j % page;
          o += w[static_cast<size_t>(j - lo)] / den * vc[slot * d + e];
        }
        ASSERT_NEAR(got[r * heads * d + h * d + e], o, 1e-5) << "token " << r << " head " << h;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, DecoderOpsTest,
                         ::testing::ValuesIn(testing::supported_kernel_tables()),
                         [](const ::testing::TestParamInfo<const cpu::CpuKernels*>& param_info) {
                           return std::string(param_info.param->isa);
                         });

}  // namespace
}  // namespace sglang
