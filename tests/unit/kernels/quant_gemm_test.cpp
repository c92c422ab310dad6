// Weights kept in GGUF blocks (quant_gemm_isa.cpp) on every CPU kernel table this machine supports:
// linear() against a double-precision product with the dequantized weights (model/gguf_dequant.h,
// bit-exact with the gguf package), stacked weights, the embedding gather, and the fall-backs to
// float.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <span>

#include "kernels/cpu/cpu_backend.h"
#include "model/gguf_dequant.h"
#include "test_support.h"
#include "util/half.h"

namespace sglang {
namespace {

constexpr DType kQuantTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                                 DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

// Random blocks: every quant and scale byte random, the f16 scales and minimums set to moderate
// values (random bytes there would be NaN or huge).
struct QuantWeight {
  DType dtype;
  int64_t n, k;
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // the dequantized weights

  HostTensor view() const { return {dtype, {n, k}, bytes.data()}; }
};

QuantWeight make_quant(DType dtype, int64_t n, int64_t k, std::mt19937& rng) {
  QuantWeight w{dtype, n, k, {}, {}};
  w.bytes.resize(dtype_row_bytes(dtype, k) * static_cast<size_t>(n));
  for (auto& b : w.bytes) b = static_cast<uint8_t>(rng());
  std::vector<size_t> half_fields;  // offsets of the f16 fields in a block
  switch (dtype) {
    case DType::kQ8_0:
    case DType::kQ4_0:
      half_fields = {0};
      break;
    case DType::kQ6_K:
      half_fields = {208};
      break;
    default:
      half_fields = {0, 2};  // Q4_1 (d, m), Q4_K / Q5_K (d, dmin)
  }
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const size_t bb = dtype_block_bytes(dtype);
  for (size_t b = 0; b < w.bytes.size(); b += bb) {
    for (size_t off : half_fields) {
      const uint16_t h = f32_to_f16(scale(rng) / (dtype_block_elements(dtype) == 256 ? 8 : 1));
      std::memcpy(&w.bytes[b + off], &h, 2);
    }
    if (dtype == DType::kQ8_0) {
      for (size_t i = 2; i < bb; ++i) {
        if (w.bytes[b + i] == 0x80) w.bytes[b + i] = 0x81;  // -128 is never written by llama.cpp
      }
    }
  }
  w.values.resize(static_cast<size_t>(n * k));
  EXPECT_TRUE(dequantize(ggml_type_of(dtype), w.bytes, n * k, w.values.data()).ok());
  return w;
}

class QuantGemmTest : public ::testing::TestWithParam<const cpu::CpuKernels*> {
 protected:
  QuantGemmTest() : be_(*GetParam()) {}

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
  std::mt19937 rng_{7};
};

// The reference: x . w over k in double precision, from `init` (a bias).
double reference_dot(const float* x, const float* w, int64_t k, double init = 0) {
  for (int64_t j = 0; j < k; ++j) init += static_cast<double>(x[j]) * w[j];
  return init;
}

// The bound. Each token's activations are rounded to int8 per block of 32 (by every path: the
// integer decode one up to 16 tokens (4 or 8 under VNNI), and beyond the VNNI integer GEMM or the
// dequantized panels, which round them the same way so that results do not depend on the token
// count), with scale d = amax / 127, so each x[l]
// moves by at most d / 2 = amax_b / 254, and an output by at most
// sum_b amax_b / 254 * sum_{l in b} |w[l]| (1 % slack for d and 1/d being float32). Then: 1e-4
// relative to sum |w x| and to max|w| * sum |x| (the offsets and minimums are added in separate
// sums that may cancel), which also covers the integer path's float accumulation.
double error_bound(const float* x, const float* w, int64_t k, bool int8_activations) {
  double quant = 0, abs_wx = 0, max_w = 0, abs_x = 0;
  for (int64_t b = 0; b < k / 32; ++b) {
    double amax = 0, abs_w = 0;
    for (int64_t l = b * 32; l < b * 32 + 32; ++l) {
      amax = std::max(amax, std::fabs(static_cast<double>(x[l])));
      abs_w += std::fabs(w[l]);
      abs_wx += std::fabs(static_cast<double>(w[l]) * x[l]);
      max_w = std::max(max_w, std::fabs(static_cast<double>(w[l])));
      abs_x += std::fabs(x[l]);
    }
    quant += amax / 254.0 * 1.01 * abs_w;
  }
  return (int8_activations ? quant : 0.0) + 1e-4 * (abs_wx + max_w * abs_x) + 1e-6;
}

TEST_P(QuantGemmTest, LinearMatchesTheDequantizedWeightsWithinTheActivationRounding) {
  for (DType dtype : kQuantTypes) {
    const bool k_quant = dtype_block_elements(dtype) == 256;
    // N not a multiple of the 16-row chunks/panels; K whole blocks (one, odd counts); the last
    // shape large enough for the kernels to run on the whole thread team.
    const std::vector<std::pair<int64_t, int64_t>> shapes =
        k_quant
            ? std::vector<std::pair<int64_t, int64_t>>{{1, 256}, {17, 512}, {40, 768}, {70, 768}}
            : std::vector<std::pair<int64_t, int64_t>>{
                  {1, 32}, {17, 96}, {40, 288}, {150, 288}, {20, 1120}};  // 35: groups + odd tail
    for (auto [n, k] : shapes) {
      const QuantWeight w = make_quant(dtype, n, k, rng_);
      const Tensor packed = be_.load_matmul_weight({w.view()});
      ASSERT_EQ(packed.dtype(), dtype);
      const auto bias_v = random_vec(static_cast<size_t>(n));
      const Tensor bias = upload(bias_v, {n});
      for (int64_t t : {1, 2, 3, 7, 8, 9, 16, 17, 33, 70}) {
        // x is a column slice of a wider tensor: strided rows.
        const int64_t xs = k + 3;
        const auto xw = random_vec(static_cast<size_t>(t * xs), 2.0f);
        const Tensor x = upload(xw, {t, xs}).cols_view(2, 2 + k);
        const Tensor out = be_.empty(DType::kF32, {t, n});
        be_.linear(x, packed, &bias, out);
        const auto got = download(out);
        double worst_ratio = 0;
        for (int64_t r = 0; r < t; ++r) {
          const float* xr = xw.data() + r * xs + 2;
          for (int64_t c = 0; c < n; ++c) {
            const float* wr = w.values.data() + c * k;
            const double ref = reference_dot(xr, wr, k, bias_v[c]);
            const double bound = error_bound(xr, wr, k, true);
            const double err = std::fabs(got[r * n + c] - ref);
            worst_ratio = std::max(worst_ratio, err / bound);
            ASSERT_LE(err, bound) << dtype_name(dtype) << " n=" << n << " k=" << k << " t=" << t
                                  << " row " << r << " col " << c;
          }
        }
        // The bound is not vacuous: the activations are rounded (for K of more than a block).
        if (k > 32) {
          EXPECT_GT(worst_ratio, 1e-4) << dtype_name(dtype);
        }
      }
    }
  }
}

// The prefill path (AVX-512 VNNI: the integer GEMM; elsewhere the dequantized panels) for every
// format at every token count of a tile's tail (1..40), a few tiles (100) and a prompt (513): row
// counts that leave a partial row group (37 = 32 + 5, 70 = 64 + 6), K of several blocks and of
// several K blocks (1120 = 35 blocks; 1792 = 7 super-blocks), bias or none. And within one path a
// token's outputs are the same bits in a call of 40 tokens as in one of 513 (the same summation
// order whatever the token block).
TEST_P(QuantGemmTest, PrefillMatchesTheDequantizedWeightsAtEveryTokenCount) {
  std::vector<int64_t> counts;
  for (int64_t t = 1; t <= 40; ++t) counts.push_back(t);
  counts.push_back(100);
  counts.push_back(513);
  for (DType dtype : kQuantTypes) {
    const bool k_quant = dtype_block_elements(dtype) == 256;
    const std::vector<std::pair<int64_t, int64_t>> shapes =
        k_quant ? std::vector<std::pair<int64_t, int64_t>>{{37, 1792}, {70, 256}}
                : std::vector<std::pair<int64_t, int64_t>>{{37, 1120}, {70, 96}};
    for (auto [n, k] : shapes) {
      const QuantWeight w = make_quant(dtype, n, k, rng_);
      const Tensor packed = be_.load_matmul_weight({w.view()});
      const auto bias_v = random_vec(static_cast<size_t>(n));
      const Tensor bias = upload(bias_v, {n});
      const auto xv = random_vec(static_cast<size_t>(513 * k), 2.0f);
      std::vector<float> at40;
      for (int64_t t : counts) {
        const bool with_bias = t % 2 == 1;
        const Tensor out = be_.empty(DType::kF32, {t, n});
        be_.linear(upload(xv, {513, k}).rows_view(0, t), packed, with_bias ? &bias : nullptr, out);
        const auto got = download(out);
        for (int64_t r = 0; r < t; ++r) {
          const float* xr = xv.data() + r * k;
          for (int64_t c = 0; c < n; ++c) {
            const float* wr = w.values.data() + c * k;
            const double ref = reference_dot(xr, wr, k, with_bias ? bias_v[c] : 0.0);
            ASSERT_LE(std::fabs(got[r * n + c] - ref), error_bound(xr, wr, k, true))
                << dtype_name(dtype) << " n=" << n << " k=" << k << " t=" << t << " row " << r
                << " col " << c;
          }
        }
        if (t == 40) at40 = got;
        if (t == 513) {
          for (int64_t i = 0; i < 40 * n; ++i) {
            // t = 40 had no bias, 513 has.
            ASSERT_EQ(got[i], at40[i] + bias_v[i % n]) << dtype_name(dtype) << " i=" << i;
          }
        }
      }
    }
  }
}

// A token's result does not depend on how many tokens share the call (the decode path up to 16
// tokens, or 4 or 8 under VNNI; the prefill path beyond): a prompt's last tokens after a
// radix-cache hit, or a request batched with others, see the numbers it would see alone — only
// float32 summation order differs.
TEST_P(QuantGemmTest, ATokensResultDoesNotDependOnTheTokenCount) {
  for (DType dtype : kQuantTypes) {
    const int64_t n = 40, k = dtype_block_elements(dtype) == 256 ? 768 : 288;
    const QuantWeight w = make_quant(dtype, n, k, rng_);
    const Tensor packed = be_.load_matmul_weight({w.view()});
    const auto xw = random_vec(static_cast<size_t>(40 * k), 2.0f);
    const Tensor all = be_.empty(DType::kF32, {40, n});
    be_.linear(upload(xw, {40, k}), packed, nullptr, all);
    const auto many = download(all);
    for (int64_t t : {1, 3, 16}) {
      const Tensor few = be_.empty(DType::kF32, {t, n});
      be_.linear(upload(xw, {40, k}).rows_view(0, t), packed, nullptr, few);
      const auto got = download(few);
      for (int64_t i = 0; i < t * n; ++i) {
        const double scale = std::max(1.0, std::fabs(static_cast<double>(many[i])));
        ASSERT_LE(std::fabs(got[i] - many[i]), 2e-5 * scale * std::sqrt(static_cast<double>(k)))
            << dtype_name(dtype) << " t=" << t << " i=" << i;
      }
    }
  }
}

// q|k|v and gate|up: rows of one block type concatenate, each row's result the same as alone.
TEST_P(QuantGemmTest, StackedWeightsEqualSeparateOnes) {
  for (DType dtype : kQuantTypes) {
    const int64_t k = dtype_block_elements(dtype) == 256 ? 512 : 64;
    const QuantWeight a = make_quant(dtype, 5, k, rng_), b = make_quant(dtype, 19, k, rng_);
    const Tensor stacked = be_.load_matmul_weight({a.view(), b.view()});
    const Tensor wa = be_.load_matmul_weight({a.view()}), wb = be_.load_matmul_weight({b.view()});
    ASSERT_EQ(stacked.dtype(), dtype);
    ASSERT_EQ(stacked.dim(0), 24);
    for (int64_t t : {1, 4, 40}) {
      const Tensor x = upload(random_vec(static_cast<size_t>(t * k)), {t, k});
      const Tensor out = be_.empty(DType::kF32, {t, 24});
      be_.linear(x, stacked, nullptr, out);
      const Tensor oa = be_.empty(DType::kF32, {t, 5}), ob = be_.empty(DType::kF32, {t, 19});
      be_.linear(x, wa, nullptr, oa);
      be_.linear(x, wb, nullptr, ob);
      const auto got = download(out), ga = download(oa), gb = download(ob);
      for (int64_t r = 0; r < t; ++r) {
        for (int64_t c = 0; c < 24; ++c) {
          const float want = c < 5 ? ga[r * 5 + c] : gb[r * 19 + c - 5];
          ASSERT_EQ(got[r * 24 + c], want) << dtype_name(dtype) << " t=" << t << " c=" << c;
        }
      }
    }
  }
}

// Mixed block types in one stack, or a float dtype asked for: dequantized (bfloat16 by default).
TEST_P(QuantGemmTest, MixedTypesAndFloatDtypesDequantize) {
  const int64_t k = 256;
  const QuantWeight a = make_quant(DType::kQ4_1, 3, k, rng_);
  const QuantWeight b = make_quant(DType::kQ6_K, 4, k, rng_);
  const Tensor mixed = be_.load_matmul_weight({a.view(), b.view()});
  EXPECT_EQ(mixed.dtype(), DType::kBF16);
  const Tensor f32 = be_.load_matmul_weight({a.view(), b.view()}, DType::kF32);
  ASSERT_EQ(f32.dtype(), DType::kF32);
  const auto xv = random_vec(2 * k);
  const Tensor x = upload(xv, {2, k});
  const Tensor out = be_.empty(DType::kF32, {2, 7});
  be_.linear(x, f32, nullptr, out);
  const auto got = download(out);
  for (int64_t r = 0; r < 2; ++r) {
    for (int64_t c = 0; c < 7; ++c) {
      const float* wr = c < 3 ? &a.values[c * k] : &b.values[(c - 3) * k];
      EXPECT_NEAR(got[r * 7 + c], reference_dot(&xv[r * k], wr, k), 1e-4);
    }
  }
}

// The tied head doubles as the token embedding: a quantized table gathers the exact dequantized
// row.
TEST_P(QuantGemmTest, EmbeddingGathersExactDequantizedRows) {
  for (DType dtype : kQuantTypes) {
    const int64_t v = 37, h = dtype_block_elements(dtype) == 256 ? 512 : 96;
    const QuantWeight w = make_quant(dtype, v, h, rng_);
    const Tensor table = be_.load_matmul_weight({w.view()});
    const std::vector<int32_t> ids = {0, 36, 17, 17, 5};
    const Tensor id_t = be_.from_host(ids.data(), DType::kI32, {5});
    const Tensor out = be_.empty(DType::kF32, {5, h});
    be_.embedding(id_t, table, out);
    const auto got = download(out);
    for (size_t t = 0; t < ids.size(); ++t) {
      for (int64_t j = 0; j < h; ++j) {
        ASSERT_EQ(got[t * h + j], w.values[ids[t] * h + j]) << dtype_name(dtype);
      }
    }
  }
}

// The activations' rounding to int8 is the same on every ISA, bit for bit (quantize_row's vector
// paths against the scalar formula): with an identity Q4_1 weight (d = 1, m = 0) each output is
// one product d_block * q[n], exact in every kernel's float arithmetic. The blocks cover ties at
// .5 (round to even), an all-zero block, one whose scale is subnormal (1 / d overflows: the scalar
// fall-back) and random values; 19 blocks span a whole AVX-512 group and an odd tail.
TEST_P(QuantGemmTest, ActivationRoundingIsTheSameOnEveryIsa) {
  const int64_t k = 19 * 32;
  QuantWeight w{DType::kQ4_1, k, k, {}, {}};
  w.bytes.assign(dtype_row_bytes(DType::kQ4_1, k) * static_cast<size_t>(k), 0);
  const uint16_t one = f32_to_f16(1.0f);
  for (int64_t n = 0; n < k; ++n) {
    uint8_t* row = w.bytes.data() + static_cast<size_t>(n) * dtype_row_bytes(DType::kQ4_1, k);
    for (int64_t b = 0; b < k / 32; ++b) std::memcpy(row + b * 20, &one, 2);  // d = 1, m = 0
    const int64_t l = n % 32;
    row[(n / 32) * 20 + 4 + l % 16] = static_cast<uint8_t>(l < 16 ? 0x01 : 0x10);  // q[n] = 1
  }
  const Tensor packed = be_.load_matmul_weight({w.view()});
  for (int64_t t : {1, 3, 9}) {
    std::vector<float> xv = random_vec(static_cast<size_t>(t * k), 3.0f);
    for (int64_t r = 0; r < t; ++r) {
      float* x = xv.data() + r * k;
      std::fill(x, x + 32, 0.0f);                                // block 0: zeros
      for (int l = 0; l < 32; ++l) x[32 + l] = 0.5f + (l - 16);  // block 1: ties (d = 1)
      x[32] = 127.0f;
      for (int l = 0; l < 32; ++l) x[64 + l] = 1e-38f * (l - 15);  // block 2: d subnormal
    }
    const Tensor out = be_.empty(DType::kF32, {t, k});
    be_.linear(upload(xv, {t, k}), packed, nullptr, out);
    const auto got = download(out);
    for (int64_t r = 0; r < t; ++r) {
      for (int64_t b = 0; b < k / 32; ++b) {
        const float* x = xv.data() + r * k + b * 32;
        float amax = 0.0f;
        for (int l = 0; l < 32; ++l) amax = std::max(amax, std::fabs(x[l]));
        const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        for (int l = 0; l < 32; ++l) {
          const float q = std::min(127.0f, std::max(-127.0f, std::nearbyint(x[l] * id)));
          ASSERT_EQ(got[r * k + b * 32 + l], d * q)
              << "t=" << t << " row " << r << " col " << b * 32 + l;
        }
      }
    }
  }
}

// NaN or infinity in the activations reaches the outputs, as in a float product.
TEST_P(QuantGemmTest, NonFiniteActivationsPropagate) {
  const QuantWeight w = make_quant(DType::kQ4_1, 3, 64, rng_);
  const Tensor packed = be_.load_matmul_weight({w.view()});
  for (int64_t t : {1, 40}) {  // the decode and the prefill path
    auto xv = random_vec(static_cast<size_t>(t * 64));
    for (int64_t r = 0; r < t; ++r) xv[r * 64 + 40] = std::nanf("");
    const Tensor out = be_.empty(DType::kF32, {t, 3});
    be_.linear(upload(xv, {t, 64}), packed, nullptr, out);
    for (float v : download(out)) EXPECT_TRUE(std::isnan(v)) << "t=" << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, QuantGemmTest,
                         ::testing::ValuesIn(testing::supported_kernel_tables()),
                         [](const auto& param_info) { return std::string(param_info.param->isa); });

}  // namespace
}  // namespace sglang
