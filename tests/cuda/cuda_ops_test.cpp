// Every CudaBackend op against the CPU backend (the reference implementation) on random inputs.
// Skipped, with the reason, where no GPU is visible (cudaGetDeviceCount); so in CI (no GPU) the
// binary only proves it builds and links. tests/cuda/run_all.sh runs it on the device.
//
// Tolerances, |cuda - cpu| <= atol + rtol * |cpu|:
// - fp32 element-wise ops, norms, rope: 1e-5 + 1e-5 (fp32 both sides; sums in another order,
//   expf/tanhf/erff within a few ulp of libm's).
// - linear with f32 weights: 1e-4 + 1e-4 (true fp32 GEMM, TF32 off; K <= 512).
// - linear with bf16 weights: 3e-2 + 2e-2, issue 18's 2e-2 relative bound: the GPU also rounds the
//   activations to bf16 (2^-9 relative each), the CPU keeps them fp32.
// - attention: 1e-4 + 1e-4 for every KV dtype: both backends round the cached K/V identically, so
//   only fp32 summation order differs (outputs are weighted means of values in [-1, 1]).
// - MoE: expert ids identical (random logits have no ties), weights 1e-6 + 1e-5.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#include "util/half.h"

namespace sglang {
namespace {

class CudaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) {
      GTEST_SKIP() << "no CUDA GPU visible (cudaGetDeviceCount found none): the CUDA op tests "
                      "run on a GPU machine (tests/cuda/run_all.sh)";
    }
    gpu_ = std::make_unique<CudaBackend>(0);
  }

  std::vector<float> random(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }
  // The same host data as a tensor on each backend.
  struct Pair {
    Tensor c, g;
  };
  Pair both(const std::vector<float>& v, std::vector<int64_t> shape) {
    return {cpu_.from_host(v.data(), DType::kF32, shape),
            gpu_->from_host(v.data(), DType::kF32, shape)};
  }
  Pair both_i32(const std::vector<int32_t>& v, std::vector<int64_t> shape) {
    return {cpu_.from_host(v.data(), DType::kI32, shape),
            gpu_->from_host(v.data(), DType::kI32, shape)};
  }
  std::vector<float> host(Backend& be, const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    be.copy_to_host(t, v.data());
    return v;
  }
  void expect_close(const Pair& p, float atol, float rtol, const std::string& what) {
    const auto c = host(cpu_, p.c), g = host(*gpu_, p.g);
    ASSERT_EQ(c.size(), g.size());
    size_t bad = 0;
    float worst = 0.0f;
    for (size_t i = 0; i < c.size(); ++i) {
      const float err = std::fabs(c[i] - g[i]);
      if (!(err <= atol + rtol * std::fabs(c[i]))) ++bad;
      worst = std::max(worst, err);
    }
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << c.size()
                       << " elements out of tolerance, worst |diff| " << worst;
  }

  CpuBackend cpu_{2};
  std::unique_ptr<CudaBackend> gpu_;
  std::mt19937 rng_{1234};
};

TEST_F(CudaOpsTest, AvailableMemoryAndOutOfMemoryIsAnError) {
  EXPECT_GT(gpu_->available_memory_bytes(), size_t{1} << 30);
  try {
    (void)gpu_->empty(DType::kF32, {int64_t{1} << 48});  // 1 PiB
    FAIL() << "a 1 PiB allocation succeeded";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("needed"), std::string::npos) << msg;
    EXPECT_NE(msg.find("free"), std::string::npos) << msg;
  }
  // The backend still works after the failed allocation.
  auto p = both(random(64), {8, 8});
  gpu_->scale(p.g, 2.0f, p.g);
  cpu_.scale(p.c, 2.0f, p.c);
  expect_close(p, 0, 0, "scale after OOM");
}

TEST_F(CudaOpsTest, Linear) {
  for (DType wd : {DType::kF32, DType::kBF16, DType::kF16}) {
    const int64_t n = 300, k = 256, t = 7;
    const auto w = random(static_cast<size_t>(n * k)), b = random(static_cast<size_t>(n));
    HostTensor hw{DType::kF32, {n, k}, w.data()}, hb{DType::kF32, {n}, b.data()};
    // Two row blocks (as q/k/v stacking) and a wider output (a column view).
    HostTensor top{DType::kF32, {100, k}, w.data()},
        rest{DType::kF32, {200, k}, w.data() + 100 * k};
    const Tensor wc = cpu_.load_matmul_weight({top, rest}, wd),
                 wg = gpu_->load_matmul_weight({top, rest}, wd);
    const Tensor bc = cpu_.load_vector({hb}), bg = gpu_->load_vector({hb});
    auto x = both(random(static_cast<size_t>(t * k)), {t, k});
    Pair wide{cpu_.zeros(DType::kF32, {t, n + 20}), gpu_->zeros(DType::kF32, {t, n + 20})};
    Pair out{wide.c.cols_view(10, 10 + n), wide.g.cols_view(10, 10 + n)};
    cpu_.linear(x.c, wc, &bc, out.c);
    gpu_->linear(x.g, wg, &bg, out.g);
    const float atol = wd == DType::kF32 ? 1e-4f : 3e-2f, rtol = wd == DType::kF32 ? 1e-4f : 2e-2f;
    expect_close(wide, atol, rtol, std::string("linear ") + std::string(dtype_name(wd)));
  }
}

TEST_F(CudaOpsTest, Norms) {
  const int64_t t = 5, h = 384;
  const auto wv = random(h, 0.5f, 1.5f), bv = random(h);
  HostTensor hw{DType::kF32, {h}, wv.data()}, hb{DType::kF32, {h}, bv.data()};
  HostTensor hw_head{DType::kF32, {64}, wv.data()};
  Pair w{cpu_.load_vector({hw}), gpu_->load_vector({hw})};
  Pair bias{cpu_.load_vector({hb}), gpu_->load_vector({hb})};
  Pair w_head{cpu_.load_vector({hw_head}), gpu_->load_vector({hw_head})};
  auto x = both(random(static_cast<size_t>(t * h), -3, 3), {t, h});
  auto out = both(std::vector<float>(static_cast<size_t>(t * h)), {t, h});
  cpu_.rms_norm(x.c, w.c, 1e-6f, out.c);
  gpu_->rms_norm(x.g, w.g, 1e-6f, out.g);
  expect_close(out, 1e-5f, 1e-5f, "rms_norm");
  cpu_.rms_norm(x.c, w_head.c, 1e-6f, out.c);  // per-head (q_norm) groups
  gpu_->rms_norm(x.g, w_head.g, 1e-6f, out.g);
  expect_close(out, 1e-5f, 1e-5f, "rms_norm per head");
  auto res = both(random(static_cast<size_t>(t * h)), {t, h});
  cpu_.add_rms_norm(res.c, x.c, w.c, 1e-5f, out.c);
  gpu_->add_rms_norm(res.g, x.g, w.g, 1e-5f, out.g);
  expect_close(res, 1e-6f, 1e-6f, "add_rms_norm residual");
  expect_close(out, 1e-5f, 1e-5f, "add_rms_norm");
  cpu_.layer_norm(x.c, w.c, bias.c, 1e-5f, x.c);  // in place
  gpu_->layer_norm(x.g, w.g, bias.g, 1e-5f, x.g);
  expect_close(x, 1e-5f, 1e-5f, "layer_norm");
}

TEST_F(CudaOpsTest, Rope) {
  const int64_t t = 9, heads = 3, head_dim = 64;
  std::vector<int32_t> pos(t);
  for (int64_t i = 0; i < t; ++i) pos[i] = static_cast<int32_t>(i * 37 + 5);
  for (int64_t rotary : {head_dim, int64_t{32}}) {
    std::vector<float> inv(rotary / 2);
    for (int64_t i = 0; i < rotary / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / rotary);
    HostTensor hi{DType::kF32, {rotary / 2}, inv.data()};
    Pair f{cpu_.load_vector({hi}), gpu_->load_vector({hi})};
    auto p = both_i32(pos, {t});
    auto cs = both(std::vector<float>(static_cast<size_t>(t * rotary)), {t, rotary});
    cpu_.rope_cos_sin(p.c, f.c, cs.c);
    gpu_->rope_cos_sin(p.g, f.g, cs.g);
    expect_close(cs, 1e-6f, 1e-6f, "rope_cos_sin");
    auto x = both(random(static_cast<size_t>(t * heads * head_dim)), {t, heads * head_dim});
    cpu_.apply_rope(x.c, cs.c, head_dim);
    gpu_->apply_rope(x.g, cs.g, head_dim);
    expect_close(x, 1e-5f, 1e-5f, "apply_rope rotary " + std::to_string(rotary));
  }
}

TEST_F(CudaOpsTest, ElementWise) {
  const int64_t t = 6, c = 1000;
  auto x = both(random(static_cast<size_t>(t * 2 * c), -4, 4), {t, 2 * c});
  auto out = both(std::vector<float>(static_cast<size_t>(t * c)), {t, c});
  const Pair xv{x.c.cols_view(0, c), x.g.cols_view(0, c)};
  for (Activation f : {Activation::kGelu, Activation::kGeluTanh, Activation::kRelu,
                       Activation::kTanh, Activation::kSigmoid}) {
    cpu_.activation(f, xv.c, out.c);
    gpu_->activation(f, xv.g, out.g);
    expect_close(out, 1e-5f, 1e-5f, "activation " + std::to_string(static_cast<int>(f)));
    cpu_.gated_activation(f, x.c, out.c);
    gpu_->gated_activation(f, x.g, out.g);
    expect_close(out, 1e-5f, 1e-5f, "gated_activation " + std::to_string(static_cast<int>(f)));
  }
  cpu_.silu_and_mul(x.c, out.c);
  gpu_->silu_and_mul(x.g, out.g);
  expect_close(out, 1e-5f, 1e-5f, "silu_and_mul");
  cpu_.scale(xv.c, 0.37f, out.c);
  gpu_->scale(xv.g, 0.37f, out.g);
  expect_close(out, 0, 0, "scale");
  cpu_.soft_cap(xv.c, 3.0f, out.c);
  gpu_->soft_cap(xv.g, 3.0f, out.g);
  expect_close(out, 1e-6f, 1e-5f, "soft_cap");
  const Pair other{x.c.cols_view(c, 2 * c), x.g.cols_view(c, 2 * c)};
  cpu_.add(xv.c, other.c, out.c);
  gpu_->add(xv.g, other.g, out.g);
  expect_close(out, 0, 0, "add");
  auto gate = both(random(static_cast<size_t>(t)), {t, 1});
  cpu_.sigmoid_scale_rows(xv.c, gate.c, out.c);
  gpu_->sigmoid_scale_rows(xv.g, gate.g, out.g);
  expect_close(out, 1e-6f, 1e-5f, "sigmoid_scale_rows");
}

TEST_F(CudaOpsTest, EmbeddingAndGather) {
  const int64_t v = 50, h = 96;
  const auto table = random(static_cast<size_t>(v * h));
  HostTensor ht{DType::kF32, {v, h}, table.data()};
  for (DType d : {DType::kF32, DType::kBF16, DType::kF16}) {
    const Tensor tc = cpu_.load_matmul_weight({ht}, d), tg = gpu_->load_matmul_weight({ht}, d);
    auto ids = both_i32({3, 0, 49, 7, 3}, {5});
    auto out = both(std::vector<float>(5 * h), {5, h});
    cpu_.embedding(ids.c, tc, out.c);
    gpu_->embedding(ids.g, tg, out.g);
    expect_close(out, 0, 0, std::string("embedding ") + std::string(dtype_name(d)));
  }
  auto x = both(random(10 * 33), {10, 33});
  auto rows = both_i32({9, 2, 2, 0}, {4});
  auto out = both(std::vector<float>(4 * 33), {4, 33});
  cpu_.gather_rows(x.c, rows.c, out.c);
  gpu_->gather_rows(x.g, rows.g, out.g);
  expect_close(out, 0, 0, "gather_rows");
  // An index out of range is an error at the next synchronisation, not a fault.
  auto bad = both_i32({10}, {1});
  gpu_->gather_rows(x.g, bad.g, out.g.rows_view(0, 1));
  EXPECT_THROW(gpu_->synchronize(), std::logic_error);
  gpu_->synchronize();  // the flag is cleared
}

struct Seq {
  int64_t prefix, q_len;
};

// store_kv then attention on both backends over the same batch; pages are handed out in a
// scrambled order so the page table matters.
void run_attention_case(CpuBackend& cpu, CudaBackend& gpu, std::mt19937& rng,
                        const std::vector<Seq>& seqs, AttentionParams p, int64_t page_size,
                        DType kv_dtype, const std::string& what);

TEST_F(CudaOpsTest, Attention) {
  AttentionParams p;
  p.num_heads = 8;
  p.num_kv_heads = 2;
  p.head_dim = 64;
  p.scale = 0.125f;
  for (DType d : {DType::kF32, DType::kBF16, DType::kF16}) {
    // Prefill with a cached prefix, a fresh prefill, and decodes, in one ragged batch.
    run_attention_case(cpu_, *gpu_, rng_, {{5, 12}, {0, 9}, {40, 1}, {3, 1}}, p, 4, d,
                       std::string("mixed batch ") + std::string(dtype_name(d)));
    // Two long decodes: few (token, head) blocks, so the keys are split.
    run_attention_case(cpu_, *gpu_, rng_, {{1500, 1}, {900, 1}}, p, 16, d,
                       std::string("split-K decode ") + std::string(dtype_name(d)));
  }
  AttentionParams w = p;
  w.sliding_window = 7;
  run_attention_case(cpu_, *gpu_, rng_, {{20, 6}, {600, 1}}, w, 4, DType::kBF16, "sliding window");
  AttentionParams s = p;
  s.softcap = 5.0f;
  s.num_kv_heads = 8;
  s.head_dim = 128;
  run_attention_case(cpu_, *gpu_, rng_, {{3, 10}, {700, 1}}, s, 1, DType::kBF16,
                     "softcap, MHA, head_dim 128");
  AttentionParams b = p;
  b.causal = false;
  b.head_dim = 80;  // not a multiple of 32
  run_attention_case(cpu_, *gpu_, rng_, {{0, 11}, {0, 4}}, b, 2, DType::kF32,
                     "bidirectional, head_dim 80");
}

void run_attention_case(CpuBackend& cpu, CudaBackend& gpu, std::mt19937& rng,
                        const std::vector<Seq>& seqs, AttentionParams p, int64_t page_size,
                        DType kv_dtype, const std::string& what) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto rnd = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
  };
  const int64_t kv_cols = p.num_kv_heads * p.head_dim, q_cols = p.num_heads * p.head_dim;
  // Pages: enough for every sequence, scrambled.
  int64_t total_pages = 0, tokens = 0, max_kv = 0;
  for (const Seq& s : seqs) {
    total_pages += (s.prefix + s.q_len + page_size - 1) / page_size;
    tokens += s.q_len;
    max_kv = std::max(max_kv, s.prefix + s.q_len);
  }
  std::vector<int32_t> pages(static_cast<size_t>(total_pages));
  for (size_t i = 0; i < pages.size(); ++i)
    pages[i] = static_cast<int32_t>(i + 1);  // page 0 unused
  std::shuffle(pages.begin(), pages.end(), rng);
  const int64_t cache_rows = (total_pages + 1) * page_size;
  std::vector<int32_t> info, slots_new, slots_prefix;
  int64_t row = 0, pt = 0;
  for (const Seq& s : seqs) {
    const int64_t kv = s.prefix + s.q_len;
    info.insert(info.end(), {static_cast<int32_t>(row), static_cast<int32_t>(s.q_len),
                             static_cast<int32_t>(kv), static_cast<int32_t>(pt)});
    for (int64_t pos = 0; pos < kv; ++pos) {
      const int32_t slot =
          static_cast<int32_t>(pages[pt + pos / page_size] * page_size + pos % page_size);
      (pos < s.prefix ? slots_prefix : slots_new).push_back(slot);
    }
    row += s.q_len;
    pt += (kv + page_size - 1) / page_size;
  }
  std::vector<float> out_c, out_g;
  const auto q = rnd(static_cast<size_t>(tokens * q_cols));
  const auto k_new = rnd(static_cast<size_t>(tokens * kv_cols));
  const auto v_new = rnd(static_cast<size_t>(tokens * kv_cols));
  const auto n_prefix = static_cast<int64_t>(slots_prefix.size());
  const auto k_pre = rnd(static_cast<size_t>(n_prefix * kv_cols));
  const auto v_pre = rnd(static_cast<size_t>(n_prefix * kv_cols));
  for (Backend* be : {static_cast<Backend*>(&cpu), static_cast<Backend*>(&gpu)}) {
    const Tensor k_cache = be->zeros(kv_dtype, {cache_rows, kv_cols});
    const Tensor v_cache = be->zeros(kv_dtype, {cache_rows, kv_cols});
    AttentionMetadata m;
    m.seq_info = be->from_host(info.data(), DType::kI32, {static_cast<int64_t>(seqs.size()), 4});
    m.page_table = be->from_host(pages.data(), DType::kI32, {total_pages});
    m.num_seqs = static_cast<int64_t>(seqs.size());
    m.max_kv_len = max_kv;
    m.page_size = page_size;
    if (n_prefix > 0) {  // the cached prefix, written as an earlier forward would have
      AttentionMetadata pre = m;
      pre.slot_mapping = be->from_host(slots_prefix.data(), DType::kI32, {n_prefix});
      pre.num_tokens = n_prefix;
      be->store_kv(be->from_host(k_pre.data(), DType::kF32, {n_prefix, kv_cols}),
                   be->from_host(v_pre.data(), DType::kF32, {n_prefix, kv_cols}), pre, k_cache,
                   v_cache);
    }
    m.slot_mapping = be->from_host(slots_new.data(), DType::kI32, {tokens});
    m.num_tokens = tokens;
    be->store_kv(be->from_host(k_new.data(), DType::kF32, {tokens, kv_cols}),
                 be->from_host(v_new.data(), DType::kF32, {tokens, kv_cols}), m, k_cache, v_cache);
    const Tensor out = be->zeros(DType::kF32, {tokens, q_cols});
    be->attention(be->from_host(q.data(), DType::kF32, {tokens, q_cols}), k_cache, v_cache, m, p,
                  out);
    auto& dst = be == &cpu ? out_c : out_g;
    dst.resize(static_cast<size_t>(tokens * q_cols));
    be->copy_to_host(out, dst.data());
  }
  size_t bad = 0;
  float worst = 0.0f;
  for (size_t i = 0; i < out_c.size(); ++i) {
    const float err = std::fabs(out_c[i] - out_g[i]);
    if (!(err <= 1e-4f + 1e-4f * std::fabs(out_c[i]))) ++bad;
    worst = std::max(worst, err);
  }
  EXPECT_EQ(bad, 0u) << "attention, " << what << ": " << bad << " of " << out_c.size()
                     << " out of tolerance, worst |diff| " << worst;
}

TEST_F(CudaOpsTest, MoeRoutingAndCombine) {
  const int64_t t = 33, e = 60, k = 4, cols = 70;
  auto logits = both(random(static_cast<size_t>(t * e), -3, 3), {t, e});
  for (bool renorm : {false, true}) {
    Pair w{cpu_.empty(DType::kF32, {t, k}), gpu_->empty(DType::kF32, {t, k})};
    Pair ids{cpu_.empty(DType::kI32, {t, k}), gpu_->empty(DType::kI32, {t, k})};
    cpu_.moe_topk_softmax(logits.c, renorm, w.c, ids.c);
    gpu_->moe_topk_softmax(logits.g, renorm, w.g, ids.g);
    expect_close(w, 1e-6f, 1e-5f, "moe_topk_softmax weights");
    std::vector<int32_t> ic(static_cast<size_t>(t * k)), ig(ic.size());
    cpu_.copy_to_host(ids.c, ic.data());
    gpu_->copy_to_host(ids.g, ig.data());
    EXPECT_EQ(ic, ig) << "moe_topk_softmax expert ids";
  }
  const int64_t expert_rows = t * k;
  auto rows = both(random(static_cast<size_t>(expert_rows * cols)), {expert_rows, cols});
  std::vector<int32_t> slots(static_cast<size_t>(t * k));
  for (size_t i = 0; i < slots.size(); ++i)
    slots[i] = static_cast<int32_t>((i * 7919) % expert_rows);
  auto s = both_i32(slots, {t, k});
  auto w = both(random(static_cast<size_t>(t * k), 0, 1), {t, k});
  for (bool acc : {false, true}) {
    auto out = both(random(static_cast<size_t>(t * cols)), {t, cols});
    cpu_.moe_combine(rows.c, s.c, w.c, acc, out.c);
    gpu_->moe_combine(rows.g, s.g, w.g, acc, out.g);
    expect_close(out, 1e-6f, 1e-5f, acc ? "moe_combine accumulate" : "moe_combine");
  }
}

}  // namespace
}  // namespace sglang
