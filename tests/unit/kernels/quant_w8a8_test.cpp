// --quantization w8a8_int8 on the CPU backend: float matmul weights quantized at load to int8 with
// one scale per output channel (SGLang's W8A8Int8LinearMethod), stored as Q8_0 blocks that all
// carry their row's scale, multiplied by the Q8_0 kernels with int8 activations. The layout and
// the product against a double-precision reference, and the logits of a tiny random checkpoint and
// of the default model's float weights against the unquantized model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/model_runner.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/gguf_dequant.h"
#include "test_support.h"
#include "util/half.h"

namespace sglang {
namespace {

// `w` [n, k] loaded as a matmul weight under --quantization w8a8_int8; the backend's quantization
// is cleared again after it.
Tensor load_w8a8(CpuBackend& be, const std::vector<float>& w, int64_t n, int64_t k) {
  EXPECT_TRUE(be.set_weight_quantization("w8a8_int8").ok());
  Tensor q = be.load_matmul_weight({HostTensor{DType::kF32, {n, k}, w.data()}});
  EXPECT_TRUE(be.set_weight_quantization("").ok());
  return q;
}

TEST(QuantW8a8, WeightsArePerChannelInt8InQ8_0Blocks) {
  CpuBackend be(1);
  std::mt19937 rng(3);
  const int64_t n = 37, k = 96;
  std::vector<float> w(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r) {
    // Rows of very different magnitudes: each gets its own scale.
    const float s = std::ldexp(1.0f, static_cast<int>(r % 9) - 6);
    std::uniform_real_distribution<float> d(-s, s);
    for (int64_t c = 0; c < k; ++c) w[r * k + c] = d(rng);
  }
  const Tensor q = load_w8a8(be, w, n, k);
  ASSERT_EQ(q.dtype(), DType::kQ8_0);
  const auto* bytes = q.data<uint8_t>();
  const size_t row_bytes = dtype_row_bytes(DType::kQ8_0, k);
  std::vector<float> deq(static_cast<size_t>(n * k));
  ASSERT_TRUE(dequantize(ggml_type_of(DType::kQ8_0),
                         std::span(bytes, row_bytes * static_cast<size_t>(n)), n * k, deq.data())
                  .ok());
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* row = bytes + r * row_bytes;
    float amax = 0;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(w[r * k + c]));
    // One scale per row (every block's f16 d the same), amax / 127 up to its f16 rounding.
    for (int64_t b = 1; b < k / 32; ++b) ASSERT_EQ(std::memcmp(row, row + b * 34, 2), 0);
    uint16_t dh;
    std::memcpy(&dh, row, 2);
    const float d = f16_to_f32(dh);
    EXPECT_NEAR(d, amax / 127.0f, amax / 127.0f * 1e-3f);
    for (int64_t c = 0; c < k; ++c) {
      ASSERT_LE(std::fabs(deq[r * k + c] - w[r * k + c]), d / 2 + amax * 1e-3f) << r << " " << c;
    }
  }
  // Cleared: the next float weight stays float.
  EXPECT_EQ(be.load_matmul_weight({HostTensor{DType::kF32, {n, k}, w.data()}}).dtype(),
            DType::kF32);
}

TEST(QuantW8a8, LinearMatchesTheFloatWeightsWithinBothRoundings) {
  for (const cpu::CpuKernels* table : testing::supported_kernel_tables()) {
    CpuBackend be(*table);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> d(-1, 1);
    const int64_t n = 70, k = 320;
    std::vector<float> w(static_cast<size_t>(n * k));
    for (auto& v : w) v = 0.05f * d(rng);
    const Tensor q = load_w8a8(be, w, n, k);
    for (int64_t t : {1, 5, 40}) {
      std::vector<float> x(static_cast<size_t>(t * k));
      for (auto& v : x) v = 2.0f * d(rng);
      const Tensor out = be.empty(DType::kF32, {t, n});
      be.linear(be.from_host(x.data(), DType::kF32, {t, k}), q, nullptr, out);
      std::vector<float> got(static_cast<size_t>(t * n));
      be.copy_to_host(out, got.data());
      for (int64_t r = 0; r < t; ++r) {
        for (int64_t c = 0; c < n; ++c) {
          const float* xr = x.data() + r * k;
          const float* wr = w.data() + c * k;
          double ref = 0, amax_w = 0, abs_x = 0, act = 0;
          for (int64_t j = 0; j < k; ++j) {
            ref += static_cast<double>(xr[j]) * wr[j];
            amax_w = std::max(amax_w, std::fabs(static_cast<double>(wr[j])));
            abs_x += std::fabs(xr[j]);
          }
          for (int64_t b = 0; b < k / 32; ++b) {
            double amax_x = 0, abs_wb = 0;
            for (int64_t j = b * 32; j < b * 32 + 32; ++j) {
              amax_x = std::max(amax_x, std::fabs(static_cast<double>(xr[j])));
              abs_wb += std::fabs(wr[j]) + amax_w / 254;
            }
            act += amax_x / 254 * 1.01 * abs_wb;
          }
          // Weights: each within d / 2 = amax_w / 254 (+ its f16 rounding); activations: each
          // within amax_x / 254 of its block, times the quantized weight; 1e-4 of the magnitudes
          // for float32 sums.
          const double bound = abs_x * amax_w / 254 * 1.002 + act + 1e-4 * abs_x * amax_w * 2;
          ASSERT_LE(std::fabs(got[r * n + c] - ref), bound) << table->isa << " t=" << t;
        }
      }
    }
  }
}

TEST(QuantW8a8, OtherMethodsAreRefusedOnTheCpu) {
  CpuBackend be(1);
  const Status st = be.set_weight_quantization("fp8");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("not supported on the CPU backend"), std::string::npos);
}

Result<ServerArgs> parse_quantization(const std::string& method) {
  return testing::parse_server_flags("--quantization " + method);
}

// As SGLang: its argparse choices; those the CPU has no kernels for are refused at start saying so.
TEST(QuantW8a8, TheFlagTakesSglangsNamesAndRefusesTheOthers) {
  auto ok = parse_quantization("w8a8_int8");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->quantization, "w8a8_int8");
  EXPECT_EQ(ok->to_json().at("quantization"), "w8a8_int8");
  EXPECT_TRUE(parse_quantization("gguf").ok());
  auto fp8 = parse_quantization("fp8");
  ASSERT_FALSE(fp8.ok());
  EXPECT_NE(fp8.error().message.find("not supported on the CPU backend"), std::string::npos);
  auto bad = parse_quantization("int3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("invalid choice: 'int3'"), std::string::npos);
}

// Teacher-forced logits of `ids` (every position) from the model at `path`.
std::vector<float> prompt_logits(const std::string& path, const LoadOptions& options,
                                 const std::vector<int32_t>& ids, int64_t* vocab) {
  CpuBackend be;
  auto m = load_causal_lm(path, be, options);
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (!m.ok()) return {};
  const auto T = static_cast<int64_t>(ids.size());
  PagePool pool(static_cast<int32_t>((T + 15) / 16 + 1), 16);
  KvCache kv(be, (*m)->kv_cache_shape(), pool.num_pages(), 16);
  std::vector<int32_t> pages((T + 15) / 16);
  std::iota(pages.begin(), pages.end(), 0);
  ForwardBatch b;
  b.add(ids, 0, pages, LogitsMode::kAll);
  ModelRunner runner(**m);
  auto logits = runner.forward(b, kv);
  EXPECT_TRUE(logits.ok()) << logits.error().message;
  if (!logits.ok()) return {};
  *vocab = logits->cols();
  std::vector<float> out(static_cast<size_t>(logits->numel()));
  be.copy_to_host(*logits, out.data());
  return out;
}

struct Agreement {
  double worst_top20 = 0;  // max over positions of ||l_q - l||_2 / ||l||_2 over l's top 20 ids
  int greedy_same = 0, positions = 0;
};

Agreement compare(const std::vector<float>& ref, const std::vector<float>& q, int64_t vocab) {
  Agreement a;
  a.positions = static_cast<int>(ref.size() / static_cast<size_t>(vocab));
  for (int p = 0; p < a.positions; ++p) {
    const float* r = ref.data() + p * vocab;
    const float* g = q.data() + p * vocab;
    std::vector<int32_t> idx(static_cast<size_t>(vocab));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + 20, idx.end(),
                      [&](int32_t x, int32_t y) { return r[x] > r[y]; });
    double num = 0, den = 0;
    for (int i = 0; i < 20; ++i) {
      num += (g[idx[i]] - r[idx[i]]) * (g[idx[i]] - r[idx[i]]);
      den += static_cast<double>(r[idx[i]]) * r[idx[i]];
    }
    a.worst_top20 = std::max(a.worst_top20, std::sqrt(num / den));
    a.greedy_same += std::max_element(g, g + vocab) - g == idx[0];
  }
  return a;
}

// The logits of `ids` from the model at `path` loaded with `options`, and again with
// --quantization w8a8_int8 on top of them, compared (`name` labels the printed numbers).
Agreement w8a8_against_float(const std::string& path, LoadOptions options,
                             const std::vector<int32_t>& ids, const char* name) {
  int64_t vocab = 0;
  const auto ref = prompt_logits(path, options, ids, &vocab);
  options.quantization = "w8a8_int8";
  const auto got = prompt_logits(path, options, ids, &vocab);
  if (ref.empty() || ref.size() != got.size()) {
    ADD_FAILURE() << name << ": " << ref.size() << " float logits, " << got.size() << " w8a8";
    return {};
  }
  const Agreement a = compare(ref, got, vocab);
  std::printf("%s w8a8_int8: top-20 relative error %.4f, greedy %d / %d\n", name, a.worst_top20,
              a.greedy_same, a.positions);
  return a;
}

// The bound. Per-channel int8 weights move each weight by at most d / 2 with d = amax / 127,
// uniformly: an RMS of d / sqrt(12) = amax / 440, against the RMS amax / sqrt(3) of the tiny
// checkpoint's uniform weights, 0.39 % of a matmul's output; the activations' per-32 int8 rounding
// adds as much again for roughly Gaussian blocks (amax near 2.5 sigma: 2.5 / 440 = 0.57 %). Two
// layers of four matmuls and the head, the errors independent and the residual stream carrying
// them forward unamplified: sqrt(9) * sqrt(0.39^2 + 0.57^2) % = 2.1 % of the logits; 5 % allows
// 2.4x for correlation. Greedy choices agree where the margin exceeds that error.
TEST(QuantW8a8, TinyCheckpointLogitsStayNearTheFloatOnes) {
  const std::string dir = testing::tiny_checkpoint("qwen2", 1);
  const std::vector<int32_t> ids = {9707, 11, 1879, 0, 576, 3974, 13876, 5, 8580, 220, 16, 17};
  const Agreement a = w8a8_against_float(dir, {}, ids, "tiny qwen2");
  EXPECT_LT(a.worst_top20, 0.05);
  EXPECT_GE(a.greedy_same, a.positions - 2);
}

// The default model's float weights (its Q4_1 file dequantized, --dtype float32) against the same
// quantized to per-channel int8: SmolLM2's 30 layers (121 matmuls) make the bound of the tiny test
// sqrt(121) * 0.7 % = 7.7 % for independent errors; trained weights have heavier tails than
// uniform ones (amax/RMS up to ~10 in a row, d / sqrt(12) then 0.23 % of the RMS... but a few
// outlier channels), so 15 %; greedy agreement on at least 90 % of the positions.
TEST(QuantW8a8, DefaultModelLogitsStayNearTheFloatOnes) {
#if defined(__SANITIZE_ADDRESS__)
  // ~10 s of CPU in release (two loads of 135M float weights); the kernels it runs are covered
  // under ASan by the tests above.
  GTEST_SKIP() << "release only";
#endif
  const std::string path = std::string(SGLANG_SOURCE_DIR) +
                           "/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  // "The capital of France is Paris. The capital of Germany is Berlin, and the capital of Italy
  // is" in SmolLM2's vocabulary (llama.cpp's tokenizer).
  const std::vector<int32_t> ids = {504,  3575, 282,   4649, 314, 7042, 30,   378, 3575, 282,
                                    4521, 314,  11452, 28,   284, 260,  3575, 282, 7158, 314};
  LoadOptions f;
  f.weight_dtype = DType::kF32;
  const Agreement a = w8a8_against_float(path, f, ids, "SmolLM2-135M");
  EXPECT_LT(a.worst_top20, 0.15);
  EXPECT_GE(a.greedy_same * 10, a.positions * 9);
}

}  // namespace
}  // namespace sglang
