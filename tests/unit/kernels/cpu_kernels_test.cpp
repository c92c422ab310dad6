// Every CPU kernel table this machine supports against naive double-precision references, with
// awkward shapes (N not a multiple of the panel, odd K, strided views) and all weight dtypes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"
#include "util/half.h"

namespace sglang {
namespace {

class CpuKernelsTest : public ::testing::TestWithParam<const cpu::CpuKernels*> {
 protected:
  CpuKernelsTest() : be_(*GetParam()) {}

  std::vector<float> random_vec(size_t n, float scale = 1.0f) {
    std::uniform_real_distribution<float> d(-scale, scale);
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
  std::mt19937 rng_{42};
};

// Weights as stored: values rounded to the dtype, plus the bytes a HostTensor points at.
struct HostWeight {
  std::vector<float> values;  // what the kernel must compute with
  std::vector<uint8_t> bytes;
  HostTensor view(DType dtype, int64_t n, int64_t k) const { return {dtype, {n, k}, bytes.data()}; }
};

HostWeight make_weight(const std::vector<float>& src, DType dtype) {
  HostWeight w;
  w.values = src;
  w.bytes.resize(src.size() * dtype_size(dtype));
  for (size_t i = 0; i < src.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&w.bytes[i * 4], &src[i], 4);
    } else {
      const uint16_t h = dtype == DType::kBF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
      w.values[i] = dtype == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
      std::memcpy(&w.bytes[i * 2], &h, 2);
    }
  }
  return w;
}

TEST_P(CpuKernelsTest, LinearMatchesReferenceForAllDtypesAndShapes) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (auto [n, k] :
         std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {16, 8}, {37, 29}, {130, 67}}) {
      const HostWeight w = make_weight(random_vec(static_cast<size_t>(n * k)), dtype);
      const Tensor packed = be_.load_matmul_weight({w.view(dtype, n, k)});
      const auto bias_v = random_vec(static_cast<size_t>(n));
      const Tensor bias = upload(bias_v, {n});
      for (int64_t t : {1, 2, 5, 6, 7, 13, 40}) {
        // x is a column slice of a wider tensor: strided rows.
        const auto xw = random_vec(static_cast<size_t>(t * (k + 3)));
        const Tensor x = upload(xw, {t, k + 3}).cols_view(2, 2 + k);
        const Tensor out = be_.empty(DType::kF32, {t, n});
        be_.linear(x, packed, &bias, out);
        const auto got = download(out);
        for (int64_t r = 0; r < t; ++r) {
          for (int64_t c = 0; c < n; ++c) {
            double ref = bias_v[c];
            for (int64_t j = 0; j < k; ++j)
              ref += static_cast<double>(xw[r * (k + 3) + 2 + j]) * w.values[c * k + j];
            ASSERT_NEAR(got[r * n + c], ref, 1e-4 * (1 + std::sqrt(static_cast<double>(k))))
                << "dtype " << dtype_name(dtype) << " n=" << n << " k=" << k << " t=" << t;
          }
        }
      }
    }
  }
}

// --dtype: a weight stored as another dtype than its source computes with the source values
// rounded to nearest even (f32 -> bf16/f16), or exactly (bf16 -> f32), stacked blocks included.
TEST_P(CpuKernelsTest, WeightsConvertToTheRequestedDtype) {
  const int64_t k = 33, n1 = 7, n2 = 11, n = n1 + n2;
  const HostWeight a = make_weight(random_vec(n1 * k), DType::kF32);
  const HostWeight b = make_weight(random_vec(n2 * k), DType::kBF16);
  const auto xv = random_vec(4 * k);
  const Tensor x = upload(xv, {4, k});
  for (DType as : {DType::kF32, DType::kF16, DType::kBF16}) {
    const Tensor w =
        be_.load_matmul_weight({a.view(DType::kF32, n1, k), b.view(DType::kBF16, n2, k)}, as);
    EXPECT_EQ(w.dtype(), as);
    const Tensor out = be_.empty(DType::kF32, {4, n});
    be_.linear(x, w, nullptr, out);
    const auto got = download(out);
    for (int64_t r = 0; r < 4; ++r) {
      for (int64_t c = 0; c < n; ++c) {
        double ref = 0;
        for (int64_t j = 0; j < k; ++j) {
          const float src = c < n1 ? a.values[c * k + j] : b.values[(c - n1) * k + j];
          const float stored = as == DType::kF32    ? src
                               : as == DType::kBF16 ? bf16_to_f32(f32_to_bf16(src))
                                                    : f16_to_f32(f32_to_f16(src));
          ref += static_cast<double>(xv[r * k + j]) * stored;
        }
        ASSERT_NEAR(got[r * n + c], ref, 1e-4) << dtype_name(as) << " r=" << r << " c=" << c;
      }
    }
  }
  // Rounding really happened: f32 weights stored as bf16 differ from the f32 result.
  const Tensor exact = be_.load_matmul_weight({a.view(DType::kF32, n1, k)}, DType::kF32);
  const Tensor rounded = be_.load_matmul_weight({a.view(DType::kF32, n1, k)}, DType::kBF16);
  const Tensor o1 = be_.empty(DType::kF32, {4, n1}), o2 = be_.empty(DType::kF32, {4, n1});
  be_.linear(x, exact, nullptr, o1);
  be_.linear(x, rounded, nullptr, o2);
  EXPECT_NE(download(o1), download(o2));
}

TEST_P(CpuKernelsTest, StackedWeightsEqualSeparateOnes) {
  const int64_t k = 24;
  const HostWeight a = make_weight(random_vec(5 * k), DType::kBF16);
  const HostWeight b = make_weight(random_vec(19 * k), DType::kF32);  // mixed dtypes widen to f32
  const Tensor stacked =
      be_.load_matmul_weight({a.view(DType::kBF16, 5, k), b.view(DType::kF32, 19, k)});
  EXPECT_EQ(stacked.dim(0), 24);
  const auto xv = random_vec(3 * k);
  const Tensor x = upload(xv, {3, k});
  const Tensor out = be_.empty(DType::kF32, {3, 24});
  be_.linear(x, stacked, nullptr, out);
  const auto got = download(out);
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t c = 0; c < 24; ++c) {
      const float* wrow = c < 5 ? &a.values[c * k] : &b.values[(c - 5) * k];
      double ref = 0;
      for (int64_t j = 0; j < k; ++j) ref += static_cast<double>(xv[r * k + j]) * wrow[j];
      EXPECT_NEAR(got[r * 24 + c], ref, 1e-4);
    }
  }
}

TEST_P(CpuKernelsTest, EmbeddingReadsPackedRows) {
  const int64_t v = 50, h = 12;
  const HostWeight w = make_weight(random_vec(v * h), DType::kBF16);
  const Tensor table = be_.load_matmul_weight({w.view(DType::kBF16, v, h)});
  const std::vector<int32_t> ids = {0, 49, 17, 17, 31};
  const Tensor id_t = be_.from_host(ids.data(), DType::kI32, {5});
  const Tensor out = be_.empty(DType::kF32, {5, h});
  be_.embedding(id_t, table, out);
  const auto got = download(out);
  for (size_t t = 0; t < ids.size(); ++t) {
    for (int64_t j = 0; j < h; ++j) EXPECT_EQ(got[t * h + j], w.values[ids[t] * h + j]);
  }
}

TEST_P(CpuKernelsTest, RmsNormAndFusedAdd) {
  const int64_t t = 3, h = 37;
  const auto xv = random_vec(t * h), rv = random_vec(t * h), wv = random_vec(h);
  const float eps = 1e-5f;
  const Tensor w = upload(wv, {h});
  const Tensor out = be_.empty(DType::kF32, {t, h});
  be_.rms_norm(upload(xv, {t, h}), w, eps, out);
  auto check = [&](const std::vector<float>& in, const std::vector<float>& got) {
    for (int64_t r = 0; r < t; ++r) {
      double ss = 0;
      for (int64_t j = 0; j < h; ++j) ss += static_cast<double>(in[r * h + j]) * in[r * h + j];
      const double inv = 1.0 / std::sqrt(ss / h + eps);
      for (int64_t j = 0; j < h; ++j)
        EXPECT_NEAR(got[r * h + j], wv[j] * in[r * h + j] * inv, 1e-5);
    }
  };
  check(xv, download(out));
  const Tensor residual = upload(rv, {t, h});
  be_.add_rms_norm(residual, upload(xv, {t, h}), w, eps, out);
  std::vector<float> sum(xv.size());
  for (size_t i = 0; i < sum.size(); ++i) sum[i] = xv[i] + rv[i];
  const auto res_after = download(residual);
  for (size_t i = 0; i < sum.size(); ++i) EXPECT_FLOAT_EQ(res_after[i], sum[i]);
  check(sum, download(out));
}

TEST_P(CpuKernelsTest, RopeRotatesHalves) {
  const int64_t t = 4, heads = 3, d = 8;
  const std::vector<int32_t> pos = {0, 1, 7, 300};
  const std::vector<float> inv = {1.0f, 0.1f, 0.01f, 0.001f};
  const Tensor cs = be_.empty(DType::kF32, {t, d});
  be_.rope_cos_sin(be_.from_host(pos.data(), DType::kI32, {t}), upload(inv, {4}), cs);
  const auto xv = random_vec(t * heads * d);
  const Tensor x = upload(xv, {t, heads * d});
  be_.apply_rope(x, cs, d);
  const auto got = download(x);
  for (int64_t r = 0; r < t; ++r) {
    for (int64_t hh = 0; hh < heads; ++hh) {
      for (int64_t i = 0; i < d / 2; ++i) {
        const double ang = static_cast<double>(pos[r]) * inv[i];
        const double a = xv[r * heads * d + hh * d + i], b = xv[r * heads * d + hh * d + i + d / 2];
        EXPECT_NEAR(got[r * heads * d + hh * d + i], a * std::cos(ang) - b * std::sin(ang), 1e-4);
        EXPECT_NEAR(got[r * heads * d + hh * d + i + d / 2], b * std::cos(ang) + a * std::sin(ang),
                    1e-4);
      }
    }
  }
}

TEST_P(CpuKernelsTest, PagedAttentionMatchesReference) {
  // Two sequences: one prefill of 5 tokens after a 3-token prefix, one decode at position 9; GQA
  // 4:2, page size 4 with scattered pages; with and without a sliding window.
  const int64_t heads = 4, kv_heads = 2, d = 8, page = 4, slots = 64;
  const auto kc = random_vec(slots * kv_heads * d), vc = random_vec(slots * kv_heads * d);
  const Tensor k_cache = upload(kc, {slots, kv_heads * d});
  const Tensor v_cache = upload(vc, {slots, kv_heads * d});
  const std::vector<int32_t> pages = {5, 2, 9, 0, 7, 3};  // seq0: 5,2 ; seq1: 9,0,7
  const std::vector<int32_t> info = {0, 5, 8, 0, 5, 1, 10, 2};
  const int64_t tokens = 6;
  const auto qv = random_vec(tokens * heads * d);
  for (int64_t window : {0, 3}) {
    AttentionMetadata meta;
    meta.seq_info = be_.from_host(info.data(), DType::kI32, {2, 4});
    meta.page_table = be_.from_host(pages.data(), DType::kI32, {6});
    meta.num_seqs = 2;
    meta.num_tokens = tokens;
    meta.page_size = page;
    AttentionParams p{heads, kv_heads, d, 0.35f, window};
    const Tensor out = be_.empty(DType::kF32, {tokens, heads * d});
    be_.attention(upload(qv, {tokens, heads * d}), k_cache, v_cache, meta, p, out);
    const auto got = download(out);
    struct Tok {
      int64_t seq, pos;
    };
    const std::vector<Tok> toks = {{0, 3}, {0, 4}, {0, 5}, {0, 6}, {0, 7}, {1, 9}};
    for (int64_t r = 0; r < tokens; ++r) {
      const int32_t* sp = pages.data() + info[toks[r].seq * 4 + 3];
      for (int64_t hh = 0; hh < heads; ++hh) {
        const int64_t kvh = hh / (heads / kv_heads);
        const int64_t lo = window > 0 ? std::max<int64_t>(0, toks[r].pos - window + 1) : 0;
        std::vector<double> w;
        double mx = -1e30;
        for (int64_t j = lo; j <= toks[r].pos; ++j) {
          const int64_t slot = sp[j / page] * page + j % page;
          double s = 0;
          for (int64_t e = 0; e < d; ++e)
            s += qv[r * heads * d + hh * d + e] * kc[slot * kv_heads * d + kvh * d + e];
          w.push_back(s * 0.35);
          mx = std::max(mx, s * 0.35);
        }
        double den = 0;
        for (auto& x : w) den += (x = std::exp(x - mx));
        for (int64_t e = 0; e < d; ++e) {
          double o = 0;
          for (int64_t j = lo; j <= toks[r].pos; ++j) {
            const int64_t slot = sp[j / page] * page + j % page;
            o += w[j - lo] / den * vc[slot * kv_heads * d + kvh * d + e];
          }
          ASSERT_NEAR(got[r * heads * d + hh * d + e], o, 1e-5)
              << "token " << r << " head " << hh << " window " << window;
        }
      }
    }
  }
}

TEST_P(CpuKernelsTest, StoreKvWritesSlots) {
  const int64_t width = 6;
  const Tensor k_cache = be_.zeros(DType::kF32, {10, width});
  const Tensor v_cache = be_.zeros(DType::kF32, {10, width});
  const auto kv = random_vec(2 * 2 * width);
  const Tensor both = upload(kv, {2, 2 * width});
  const std::vector<int32_t> slots = {7, 2};
  AttentionMetadata meta;
  meta.slot_mapping = be_.from_host(slots.data(), DType::kI32, {2});
  meta.num_tokens = 2;
  be_.store_kv(both.cols_view(0, width), both.cols_view(width, 2 * width), meta, k_cache, v_cache);
  const auto kg = download(k_cache), vg = download(v_cache);
  for (int64_t j = 0; j < width; ++j) {
    EXPECT_EQ(kg[7 * width + j], kv[j]);
    EXPECT_EQ(vg[7 * width + j], kv[width + j]);
    EXPECT_EQ(kg[2 * width + j], kv[2 * width + j]);
    EXPECT_EQ(vg[2 * width + j], kv[3 * width + j]);
    EXPECT_EQ(kg[0 * width + j], 0.0f);
  }
}

TEST_P(CpuKernelsTest, SiluAndMulAddGather) {
  const int64_t t = 3, inter = 21;
  const auto gu = random_vec(t * 2 * inter, 4.0f);
  const Tensor out = be_.empty(DType::kF32, {t, inter});
  be_.silu_and_mul(upload(gu, {t, 2 * inter}), out);
  const auto got = download(out);
  for (int64_t r = 0; r < t; ++r) {
    for (int64_t i = 0; i < inter; ++i) {
      const double g = gu[r * 2 * inter + i], u = gu[r * 2 * inter + inter + i];
      EXPECT_NEAR(got[r * inter + i], g / (1 + std::exp(-g)) * u, 1e-5);
    }
  }
  const auto a = random_vec(6), b = random_vec(6);
  const Tensor sum = be_.empty(DType::kF32, {2, 3});
  be_.add(upload(a, {2, 3}), upload(b, {2, 3}), sum);
  const auto s = download(sum);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(s[i], a[i] + b[i]);
  const std::vector<int32_t> rows = {1, 1, 0};
  const Tensor g = be_.empty(DType::kF32, {3, 3});
  be_.gather_rows(upload(a, {2, 3}), be_.from_host(rows.data(), DType::kI32, {3}), g);
  const auto gg = download(g);
  EXPECT_EQ(gg[0], a[3]);
  EXPECT_EQ(gg[5], a[5]);
  EXPECT_EQ(gg[6], a[0]);
}

// silu's vectorised exp over the whole range a gate can take: within a few float ulps of the
// double formula, the overflow ends as std::exp gives them, NaN propagated, and the same result
// in the zero-padded tail as in the vector body.
TEST_P(CpuKernelsTest, SiluIsAccurateOverTheWholeRange) {
  std::vector<float> g = {-200.0f, -104.0f, -88.8f, -88.5f, -87.5f, -86.5f, -50.0f, -20.0f,
                          -1.0f,   -1e-30f, 0.0f,   1e-30f, 0.5f,   1.0f,   20.0f,  50.0f,
                          86.5f,   87.5f,   88.5f,  88.8f,  104.0f, 200.0f};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-100.0f, 100.0f);
  while (g.size() < 200) g.push_back(d(rng));
  const auto inter = static_cast<int64_t>(g.size());
  std::vector<float> gu(g);
  gu.resize(2 * g.size(), 1.0f);  // up = 1
  const Tensor out = be_.empty(DType::kF32, {1, inter});
  be_.silu_and_mul(upload(gu, {1, 2 * inter}), out);
  const auto got = download(out);
  for (int64_t i = 0; i < inter; ++i) {
    const double x = g[i], ref = x / (1.0 + std::exp(-x));
    EXPECT_NEAR(got[i], ref, 4e-7 * std::fabs(ref) + 1e-35) << "g=" << x;  // e^x overflows: -0
  }
  std::vector<float> special = {std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), std::nanf(""), 3.0f};
  special.resize(8, 1.0f);
  const Tensor so = be_.empty(DType::kF32, {1, 4});
  be_.silu_and_mul(upload(special, {1, 8}), so);
  const auto sv = download(so);
  EXPECT_EQ(sv[0], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(sv[1]));  // -inf / (1 + inf), as the formula in float
  EXPECT_TRUE(std::isnan(sv[2]));
  EXPECT_NEAR(sv[3], 3.0 / (1.0 + std::exp(-3.0)), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Isa, CpuKernelsTest,
                         ::testing::ValuesIn(testing::supported_kernel_tables()),
                         [](const auto& param_info) { return std::string(param_info.param->isa); });

}  // namespace
}  // namespace sglang
