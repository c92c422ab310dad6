// The blocked prefill GEMM (gemm_isa.cpp, linear() of a float weight for 17 tokens or more) on
// every CPU kernel table this machine supports: K over several K blocks with a remainder, N ending
// in a partial row group, token counts ending in a partial token block, bias and strided rows;
// against a double-precision reference, and bit for bit against the register path of a few
// tokens (both sum each output over k in order with one accumulator).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"
#include "util/half.h"

namespace sglang {
namespace {

class GemmTest : public ::testing::TestWithParam<const cpu::CpuKernels*> {
 protected:
  GemmTest() : be_(*GetParam()) {}

  std::vector<float> random_vec(size_t n) {
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }
  std::vector<float> download(const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    be_.copy_to_host(t, v.data());
    return v;
  }

  CpuBackend be_;
  std::mt19937 rng_{7};
};

TEST_P(GemmTest, BlockedGemmMatchesReferenceAndTheRegisterPath) {
  // K = 600: blocks of 256, 256 and 88. N = 70: four full 16-row panels and a partial one (two
  // 32-row groups and a partial one under AVX-512).
  const int64_t n = 70, k = 600, width = k + 5;
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    std::vector<float> values = random_vec(static_cast<size_t>(n * k));
    std::vector<uint8_t> bytes(values.size() * dtype_size(dtype));
    for (size_t i = 0; i < values.size(); ++i) {
      if (dtype == DType::kF32) {
        std::memcpy(&bytes[i * 4], &values[i], 4);
        continue;
      }
      const uint16_t h = dtype == DType::kBF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
      values[i] = dtype == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
    const Tensor w = be_.load_matmul_weight({HostTensor{dtype, {n, k}, bytes.data()}});
    const auto bias_v = random_vec(static_cast<size_t>(n));
    const Tensor bias = be_.from_host(bias_v.data(), DType::kF32, {n});
    for (int64_t t : {17, 29, 40}) {
      // Rows of a wider tensor (stride k + 5, from column 3).
      const auto xw = random_vec(static_cast<size_t>(t * width));
      const Tensor xs = be_.from_host(xw.data(), DType::kF32, {t, width});
      const Tensor x = xs.cols_view(3, 3 + k);
      const Tensor out = be_.empty(DType::kF32, {t, n});
      be_.linear(x, w, &bias, out);
      const auto got = download(out);
      for (int64_t r = 0; r < t; ++r) {
        for (int64_t c = 0; c < n; ++c) {
          double ref = bias_v[c];
          for (int64_t j = 0; j < k; ++j) {
            ref += static_cast<double>(xw[r * width + 3 + j]) * values[c * k + j];
          }
          ASSERT_NEAR(got[r * n + c], ref, 1e-4 * std::sqrt(static_cast<double>(k)))
              << dtype_name(dtype) << " t=" << t << " r=" << r << " c=" << c;
        }
      }
      // The first 6 tokens alone take the register path (one block of 6): the same bits.
      const Tensor few = be_.empty(DType::kF32, {6, n});
      be_.linear(x.rows_view(0, 6), w, &bias, few);
      const auto alone = download(few);
      for (int64_t i = 0; i < 6 * n; ++i) {
        ASSERT_EQ(alone[i], got[i]) << dtype_name(dtype) << " t=" << t << " i=" << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, GemmTest, ::testing::ValuesIn(testing::supported_kernel_tables()),
                         [](const auto& param_info) { return std::string(param_info.param->isa); });

}  // namespace
}  // namespace sglang
