// The CPU attention kernel (flash-style, kernels/cpu/attention_isa.cpp) against a double-precision
// softmax(q.K^T * scale).V on every kernel table this machine supports and every KV cache dtype:
// prefill, decode, both in one batch, GQA, sliding windows, bidirectional, odd page sizes and
// head_dims, contexts long enough for the split-over-keys decode path, and chunked prefills whose
// K/V are packed once per call.
//
// Bounds: the reference reads the same K/V values the cache holds (rounded to its dtype), so what
// is checked is the kernel's own float32 error: |out - ref| <= 2e-5 for any dtype (outputs are
// weighted means of values in [-1, 1]; float32 dots of up to 128 terms and the online softmax's
// rescaling stay well inside). Against the unrounded float32 values the cache's rounding shows:
// bf16 (8 significant bits) <= 8e-3, fp16 (11 bits) <= 1e-3, f32 <= 2e-5.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>

#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"
#include "util/half.h"

namespace sglang {
namespace {

struct Seq {
  int64_t prefix, q_len;
};

struct Case {
  const char* name;
  std::vector<Seq> seqs;
  int64_t heads, kv_heads, head_dim, page_size, window;
  bool causal;
};

float round_to(DType dtype, float x) {
  if (dtype == DType::kBF16) return bf16_to_f32(f32_to_bf16(x));
  if (dtype == DType::kF16) return f16_to_f32(f32_to_f16(x));
  return x;
}

const char* dtype_label(DType d) {
  return d == DType::kBF16 ? "bf16" : d == DType::kF16 ? "fp16" : "f32";
}

using Param = std::tuple<const cpu::CpuKernels*, DType>;

class AttentionTest : public ::testing::TestWithParam<Param> {
 protected:
  // Four threads even on a smaller machine, so the split-over-keys path runs.
  AttentionTest() : be_(*std::get<0>(GetParam()), 4) {}
  DType kv_dtype() const { return std::get<1>(GetParam()); }

  std::vector<float> random_vec(size_t n) {
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }

  // Runs one case; returns the largest error against the rounded and the unrounded reference.
  std::pair<double, double> run(const Case& c) {
    const int64_t width = c.kv_heads * c.head_dim;
    // Pages of all sequences, shuffled so that no sequence's pages are contiguous.
    std::vector<int64_t> kv_len, pages_of;
    int64_t total_pages = 0, tokens = 0;
    for (const Seq& s : c.seqs) {
      kv_len.push_back(s.prefix + s.q_len);
      pages_of.push_back((kv_len.back() + c.page_size - 1) / c.page_size);
      total_pages += pages_of.back();
      tokens += s.q_len;
    }
    std::vector<int32_t> perm(static_cast<size_t>(total_pages + 3));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng_);
    const int64_t slots = static_cast<int64_t>(perm.size()) * c.page_size;
    std::vector<int32_t> page_table(perm.begin(), perm.begin() + total_pages);
    std::vector<int32_t> info;
    int64_t first_page = 0, row = 0;
    for (size_t i = 0; i < c.seqs.size(); ++i) {
      info.insert(info.end(), {static_cast<int32_t>(row), static_cast<int32_t>(c.seqs[i].q_len),
                               static_cast<int32_t>(kv_len[i]), static_cast<int32_t>(first_page)});
      first_page += pages_of[i];
      row += c.seqs[i].q_len;
    }
    // Every position's K/V written through store_kv, as the model does.
    std::vector<std::vector<float>> k_rows(c.seqs.size()), v_rows(c.seqs.size());
    std::vector<int32_t> all_slots;
    std::vector<float> k_all, v_all;
    for (size_t i = 0; i < c.seqs.size(); ++i) {
      k_rows[i] = random_vec(static_cast<size_t>(kv_len[i] * width));
      v_rows[i] = random_vec(static_cast<size_t>(kv_len[i] * width));
      k_all.insert(k_all.end(), k_rows[i].begin(), k_rows[i].end());
      v_all.insert(v_all.end(), v_rows[i].begin(), v_rows[i].end());
      const int32_t* pt = page_table.data() + info[i * 4 + 3];
      for (int64_t p = 0; p < kv_len[i]; ++p)
        all_slots.push_back(
            static_cast<int32_t>(pt[p / c.page_size] * c.page_size + p % c.page_size));
    }
    const Tensor k_cache = be_.zeros(kv_dtype(), {slots, width});
    const Tensor v_cache = be_.zeros(kv_dtype(), {slots, width});
    {
      const int64_t n = static_cast<int64_t>(all_slots.size());
      AttentionMetadata sm;
      sm.slot_mapping = be_.from_host(all_slots.data(), DType::kI32, {n});
      sm.num_tokens = n;
      be_.store_kv(be_.from_host(k_all.data(), DType::kF32, {n, width}),
                   be_.from_host(v_all.data(), DType::kF32, {n, width}), sm, k_cache, v_cache);
    }
    const int64_t qw = c.heads * c.head_dim;
    const auto q = random_vec(static_cast<size_t>(tokens * qw));
    AttentionMetadata meta;
    meta.seq_info =
        be_.from_host(info.data(), DType::kI32, {static_cast<int64_t>(c.seqs.size()), 4});
    meta.page_table = be_.from_host(page_table.data(), DType::kI32, {total_pages});
    meta.num_seqs = static_cast<int64_t>(c.seqs.size());
    meta.num_tokens = tokens;
    meta.page_size = c.page_size;
    meta.max_kv_len = *std::max_element(kv_len.begin(), kv_len.end());
    AttentionParams p;
    p.num_heads = c.heads;
    p.num_kv_heads = c.kv_heads;
    p.head_dim = c.head_dim;
    p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    p.sliding_window = c.window;
    p.causal = c.causal;
    // A strided output view: the kernel must honour row_stride.
    const Tensor out_wide = be_.empty(DType::kF32, {tokens, qw + 5});
    const Tensor out = out_wide.cols_view(0, qw);
    be_.attention(be_.from_host(q.data(), DType::kF32, {tokens, qw}), k_cache, v_cache, meta, p,
                  out);
    std::vector<float> got(static_cast<size_t>(tokens * qw));
    be_.copy_to_host(out, got.data());

    double err_rounded = 0, err_exact = 0;
    const int64_t group = c.heads / c.kv_heads;
    // The cache's values as doubles, rounded to its dtype ([1]) and not ([0]), converted once.
    std::vector<std::vector<double>> k_ref[2], v_ref[2];
    for (int rounded = 0; rounded < 2; ++rounded) {
      for (size_t i = 0; i < c.seqs.size(); ++i) {
        for (auto [src, dst] :
             {std::pair{&k_rows[i], &k_ref[rounded]}, std::pair{&v_rows[i], &v_ref[rounded]}}) {
          dst->emplace_back(src->size());
          for (size_t e = 0; e < src->size(); ++e)
            dst->back()[e] = rounded ? round_to(kv_dtype(), (*src)[e]) : (*src)[e];
        }
      }
    }
    for (size_t i = 0; i < c.seqs.size(); ++i) {
      for (int64_t j = 0; j < c.seqs[i].q_len; ++j) {
        const int64_t pos = c.seqs[i].prefix + j, r = info[i * 4] + j;
        const int64_t last = c.causal ? pos : kv_len[i] - 1;
        const int64_t lo = c.window > 0 ? std::max<int64_t>(0, pos - c.window + 1) : 0;
        for (int64_t h = 0; h < c.heads; ++h) {
          const int64_t off = (h / group) * c.head_dim;
          for (int rounded = 0; rounded < 2; ++rounded) {
            const auto val = [&](const std::vector<double>& rows, int64_t key, int64_t e) {
              return rows[static_cast<size_t>(key * width + off + e)];
            };
            std::vector<double> w;
            double mx = -1e300;
            for (int64_t key = lo; key <= last; ++key) {
              double s = 0;
              for (int64_t e = 0; e < c.head_dim; ++e)
                s += static_cast<double>(q[static_cast<size_t>(r * qw + h * c.head_dim + e)]) *
                     val(k_ref[rounded][i], key, e);
              w.push_back(s * static_cast<double>(p.scale));
              mx = std::max(mx, w.back());
            }
            double den = 0;
            for (double& x : w) den += (x = std::exp(x - mx));
            for (int64_t e = 0; e < c.head_dim; ++e) {
              double o = 0;
              for (int64_t key = lo; key <= last; ++key)
                o += w[static_cast<size_t>(key - lo)] * val(v_ref[rounded][i], key, e);
              const double diff =
                  std::abs(got[static_cast<size_t>(r * qw + h * c.head_dim + e)] - o / den);
              double& err = rounded ? err_rounded : err_exact;
              err = std::max(err, diff);
            }
          }
        }
      }
    }
    return {err_rounded, err_exact};
  }

  double exact_bound() const {
    return kv_dtype() == DType::kBF16 ? 8e-3 : kv_dtype() == DType::kF16 ? 1e-3 : 2e-5;
  }

  CpuBackend be_;
  std::mt19937 rng_{7};
};

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      // SmolLM2-135M's attention shape: 9 query heads on 3 KV heads, head_dim 64.
      {"prefill", {{0, 150}}, 9, 3, 64, 16, 0, true},
      {"prefill_after_prefix", {{45, 70}}, 9, 3, 64, 1, 0, true},
      // Qwen2.5-0.5B's: 14 on 2 (group 7).
      {"decode_batch", {{300, 1}, {17, 1}, {1000, 1}}, 14, 2, 64, 1, 0, true},
      // Decode rows of the largest group the register-resident decode path takes (8), and of a
      // group beyond it (the general path).
      {"decode_group_8", {{200, 1}, {65, 1}, {1, 1}}, 16, 2, 64, 16, 0, true},
      {"decode_group_12", {{130, 1}, {70, 1}}, 12, 1, 64, 1, 0, true},
      {"mixed_prefill_and_decode", {{37, 70}, {300, 1}, {0, 5}, {1200, 1}}, 14, 2, 64, 16, 0, true},
      // head_dim not a multiple of the SIMD width, page size not a power of two.
      {"odd_head_dim_and_pages", {{20, 33}, {90, 1}}, 8, 2, 80, 7, 0, true},
      {"tiny_head_dim", {{3, 5}, {9, 1}}, 4, 2, 8, 4, 0, true},
      {"sliding_window", {{100, 90}, {700, 1}}, 8, 2, 64, 16, 50, true},
      {"sliding_window_decode_long", {{2500, 1}}, 4, 1, 128, 16, 1000, true},
      {"mha", {{10, 20}}, 4, 4, 32, 3, 0, true},
      // An encoder's batch: every token sees its whole sequence.
      {"bidirectional", {{0, 40}, {0, 7}}, 4, 4, 32, 1, 0, false},
      // Long contexts: the decode step splits the keys over threads and merges the parts.
      {"long_decode", {{3000, 1}}, 9, 3, 64, 16, 0, true},
      {"long_decode_batch", {{2100, 1}, {4000, 1}}, 9, 3, 64, 1, 0, true},
      // Chunked prefill: a chunk of several token blocks after a long cached prefix, so its K/V
      // are packed once per call (crossing pages and key blocks), beside other kinds of rows.
      {"chunk_after_long_prefix", {{300, 50}}, 9, 3, 64, 16, 0, true},
      {"chunks_and_decode", {{129, 30}, {0, 60}, {500, 1}}, 14, 2, 64, 1, 0, true},
      {"odd_head_dim_chunk", {{100, 40}}, 8, 2, 80, 7, 0, true},
      // The window starts inside a packed block: the keys before it are masked.
      {"sliding_window_chunk", {{400, 40}}, 8, 2, 64, 16, 150, true},
      // Few items over long ranges: packed blocks split over the threads and merged.
      {"split_packed_chunk", {{1100, 40}}, 4, 1, 64, 16, 0, true},
  };
  return kCases;
}

TEST_P(AttentionTest, MatchesDoublePrecisionReference) {
  for (const Case& c : cases()) {
    const auto [rounded, exact] = run(c);
    EXPECT_LE(rounded, 2e-5) << c.name;
    EXPECT_LE(exact, exact_bound()) << c.name;
  }
}

TEST_P(AttentionTest, StoreKvRoundsToNearestEven) {
  const int64_t width = 19;  // not a multiple of any SIMD width
  const auto kv = random_vec(3 * 2 * width);
  const Tensor both = be_.from_host(kv.data(), DType::kF32, {3, 2 * width});
  const Tensor k_cache = be_.zeros(kv_dtype(), {8, width});
  const Tensor v_cache = be_.zeros(kv_dtype(), {8, width});
  const std::vector<int32_t> slots = {6, 1, 3};
  AttentionMetadata meta;
  meta.slot_mapping = be_.from_host(slots.data(), DType::kI32, {3});
  meta.num_tokens = 3;
  be_.store_kv(both.cols_view(0, width), both.cols_view(width, 2 * width), meta, k_cache, v_cache);
  const size_t esize = dtype_size(kv_dtype());
  std::vector<uint8_t> kb(static_cast<size_t>(8 * width) * esize), vb(kb.size());
  be_.copy_to_host(k_cache, kb.data());
  be_.copy_to_host(v_cache, vb.data());
  const auto read = [&](const std::vector<uint8_t>& b, int64_t i) {
    if (kv_dtype() == DType::kF32) {
      float f;
      std::memcpy(&f, &b[static_cast<size_t>(i) * 4], 4);
      return f;
    }
    uint16_t h;
    std::memcpy(&h, &b[static_cast<size_t>(i) * 2], 2);
    return kv_dtype() == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
  };
  for (int64_t t = 0; t < 3; ++t) {
    for (int64_t j = 0; j < width; ++j) {
      EXPECT_EQ(read(kb, slots[t] * width + j),
                round_to(kv_dtype(), kv[static_cast<size_t>(t * 2 * width + j)]));
      EXPECT_EQ(read(vb, slots[t] * width + j),
                round_to(kv_dtype(), kv[static_cast<size_t>(t * 2 * width + width + j)]));
    }
  }
  EXPECT_EQ(read(kb, 0), 0.0f);  // untouched slots stay zero
}

std::vector<Param> params() {
  std::vector<Param> out;
  for (const cpu::CpuKernels* k : testing::supported_kernel_tables()) {
    for (DType d : {DType::kF32, DType::kBF16, DType::kF16}) out.emplace_back(k, d);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(IsaAndKvDtype, AttentionTest, ::testing::ValuesIn(params()),
                         [](const auto& param_info) {
                           return std::string(std::get<0>(param_info.param)->isa) + "_" +
                                  dtype_label(std::get<1>(param_info.param));
                         });

}  // namespace
}  // namespace sglang
