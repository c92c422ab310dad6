// The CPU backend's mixture-of-experts ops against naive double-precision references: top-k
// routing (softmax, order, ties, renormalisation), the shared expert's sigmoid gate and the
// weighted combination of expert rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "kernels/cpu/cpu_backend.h"

namespace sglang {
namespace {

class MoeOpsTest : public ::testing::Test {
 protected:
  std::vector<float> random_vec(size_t n, float scale = 2.0f) {
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }
  template <typename T>
  std::vector<T> download(const Tensor& t) {
    std::vector<T> v(static_cast<size_t>(t.numel()));
    be_.copy_to_host(t, v.data());
    return v;
  }

  CpuBackend be_;
  std::mt19937 rng_{7};
};

TEST_F(MoeOpsTest, TopkSoftmaxMatchesReference) {
  for (int64_t experts : {1, 4, 8, 60}) {
    for (int64_t k : {1, 2, 4}) {
      if (k > experts) continue;
      for (bool renormalize : {false, true}) {
        const int64_t tokens = 97;  // above the parallel threshold
        // The logits are a column slice of a wider tensor: strided rows.
        const auto wide = random_vec(static_cast<size_t>(tokens * (experts + 3)));
        const Tensor logits = be_.from_host(wide.data(), DType::kF32, {tokens, experts + 3})
                                  .cols_view(1, 1 + experts);
        const Tensor w = be_.empty(DType::kF32, {tokens, k});
        const Tensor ids = be_.empty(DType::kI32, {tokens, k});
        be_.moe_topk_softmax(logits, renormalize, w, ids);
        const auto got_w = download<float>(w);
        const auto got_ids = download<int32_t>(ids);
        for (int64_t t = 0; t < tokens; ++t) {
          const float* x = wide.data() + t * (experts + 3) + 1;
          std::vector<double> p(static_cast<size_t>(experts));
          double mx = x[0], sum = 0;
          for (int64_t e = 0; e < experts; ++e) mx = std::max(mx, static_cast<double>(x[e]));
          for (int64_t e = 0; e < experts; ++e) sum += p[e] = std::exp(x[e] - mx);
          for (auto& v : p) v /= sum;
          std::vector<int32_t> order(static_cast<size_t>(experts));
          std::iota(order.begin(), order.end(), 0);
          // Random logits: no ties, the order is the values'.
          std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
          double top_sum = 0;
          for (int64_t j = 0; j < k; ++j) top_sum += p[order[j]];
          for (int64_t j = 0; j < k; ++j) {
            ASSERT_EQ(got_ids[t * k + j], order[j]) << "token " << t << " rank " << j;
            const double ref = renormalize ? p[order[j]] / top_sum : p[order[j]];
            EXPECT_NEAR(got_w[t * k + j], ref, 1e-6);
          }
          if (renormalize) {
            double s = 0;
            for (int64_t j = 0; j < k; ++j) s += got_w[t * k + j];
            EXPECT_NEAR(s, 1.0, 1e-6);
          }
        }
      }
    }
  }
}

TEST_F(MoeOpsTest, TopkBreaksTiesAsTorchTopk) {
  // Expected ids printed by torch 2.5.1 (torch.topk(torch.softmax(x, 1), k)) on the CPU; equal
  // values have no documented order there, so these pin what its kernel does.
  struct Case {
    std::vector<float> row;
    int64_t k;
    std::vector<int32_t> want;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> long_row;
  for (int i = 0; i < 20; ++i) long_row.insert(long_row.end(), {0, 1, 1, 1, 0, 1, 0, 0});
  std::vector<float> longer_row(400, 0.0f);
  for (int i : {3, 17, 200, 301}) longer_row[i] = 1.0f;
  const std::vector<Case> cases = {
      {{0, 2, 1, 2, 0}, 2, {1, 3}},
      {{2, 1, 0.5f, 0, 1}, 2, {0, 1}},
      {{1, 1, 1, 1, 1, 1, 1, 1}, 3, {6, 5, 4}},
      {{0, 1, 1, 1, 0, 1, 0, 0}, 3, {3, 5, 1}},
      {long_row, 3, {65, 67, 66}},
      {longer_row, 3, {200, 17, 3}},         // k * 64 <= E: ATen's partial_sort branch
      {{0.5f, nan, 3.0f, 1.0f}, 2, {2, 3}},  // softmax of a row with NaN: all NaN
  };
  for (const Case& c : cases) {
    const auto e = static_cast<int64_t>(c.row.size());
    const Tensor x = be_.from_host(c.row.data(), DType::kF32, {1, e});
    const Tensor w = be_.empty(DType::kF32, {1, c.k});
    const Tensor ids = be_.empty(DType::kI32, {1, c.k});
    be_.moe_topk_softmax(x, false, w, ids);
    EXPECT_EQ(download<int32_t>(ids), c.want) << "row of " << e << ", k " << c.k;
  }
}

TEST_F(MoeOpsTest, SigmoidScaleRowsMatchesReferenceAndWorksInPlace) {
  const int64_t tokens = 70, cols = 19;
  const auto xv = random_vec(static_cast<size_t>(tokens * cols));
  const auto gv = random_vec(static_cast<size_t>(tokens), 6.0f);
  const Tensor x = be_.from_host(xv.data(), DType::kF32, {tokens, cols});
  const Tensor g = be_.from_host(gv.data(), DType::kF32, {tokens, 1});
  const Tensor out = be_.empty(DType::kF32, {tokens, cols});
  be_.sigmoid_scale_rows(x, g, out);
  be_.sigmoid_scale_rows(x, g, x);  // in place
  const auto got = download<float>(out);
  const auto got_inplace = download<float>(x);
  for (int64_t t = 0; t < tokens; ++t) {
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(gv[t])));
    for (int64_t c = 0; c < cols; ++c) {
      EXPECT_NEAR(got[t * cols + c], s * xv[t * cols + c], 1e-6);
      EXPECT_EQ(got_inplace[t * cols + c], got[t * cols + c]);
    }
  }
}

TEST_F(MoeOpsTest, CombineSumsWeightedRowsIntoTokenOrder) {
  const int64_t tokens = 80, k = 3, cols = 21, rows = tokens * k;
  const auto yv = random_vec(static_cast<size_t>(rows * cols));
  const auto wv = random_vec(static_cast<size_t>(tokens * k), 1.0f);
  const auto base = random_vec(static_cast<size_t>(tokens * cols));
  // Every row used once, in a shuffled layout (as the model's expert grouping does).
  std::vector<int32_t> slots(static_cast<size_t>(rows));
  std::iota(slots.begin(), slots.end(), 0);
  std::shuffle(slots.begin(), slots.end(), rng_);
  const Tensor y = be_.from_host(yv.data(), DType::kF32, {rows, cols});
  const Tensor s = be_.from_host(slots.data(), DType::kI32, {tokens, k});
  const Tensor w = be_.from_host(wv.data(), DType::kF32, {tokens, k});
  for (bool accumulate : {false, true}) {
    const Tensor out = be_.from_host(base.data(), DType::kF32, {tokens, cols});
    be_.moe_combine(y, s, w, accumulate, out);
    const auto got = download<float>(out);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t c = 0; c < cols; ++c) {
        double ref = accumulate ? base[t * cols + c] : 0.0;
        for (int64_t j = 0; j < k; ++j) {
          ref += static_cast<double>(wv[t * k + j]) * yv[slots[t * k + j] * cols + c];
        }
        EXPECT_NEAR(got[t * cols + c], ref, 1e-5) << "token " << t << " col " << c;
      }
    }
  }
}

TEST_F(MoeOpsTest, CombineRejectsASlotOutsideTheRows) {
  const std::vector<float> y(4 * 2, 1.0f), w(2, 1.0f);
  const std::vector<int32_t> slots = {0, 4};
  const Tensor out = be_.empty(DType::kF32, {2, 2});
  EXPECT_THROW(be_.moe_combine(be_.from_host(y.data(), DType::kF32, {4, 2}),
                               be_.from_host(slots.data(), DType::kI32, {2, 1}),
                               be_.from_host(w.data(), DType::kF32, {2, 1}), false, out),
               std::logic_error);
}

}  // namespace
}  // namespace sglang
