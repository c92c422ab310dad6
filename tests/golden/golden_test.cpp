// The model against Hugging Face transformers (float32) on the tiny random checkpoints; reference
// data made by tools/make_golden.py. Also: chunked prefill, prefill + decode and batching all give
// the logits of one plain prefill. Every test runs on each CPU kernel table this machine supports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <ostream>
#include <random>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/model_runner.h"
#include "engine/offline_generator.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "test_support.h"

namespace sglang {
namespace {

struct GoldenModel {
  std::string file;  // tests/golden/data/<file>.safetensors
  std::string arch;
  uint64_t seed;
};

// Sliding windows (Mistral 48, Gemma 16) are shorter than the longest prompts (300 tokens);
// tiny-phi3's longrope switches to its long factors past 256 positions (the 300-token prompt).
const GoldenModel kModels[] = {{"tiny-qwen2", "qwen2", 1},     {"tiny-llama", "llama", 2},
                               {"tiny-mistral", "mistral", 3}, {"tiny-qwen2-moe", "qwen2-moe", 5},
                               {"tiny-qwen3", "qwen3", 11},    {"tiny-qwen3-moe", "qwen3-moe", 12},
                               {"tiny-gemma2", "gemma2", 13},  {"tiny-gemma3", "gemma3", 14},
                               {"tiny-phi3", "phi3", 15}};

struct Param {
  GoldenModel model;
  const cpu::CpuKernels* kernels;
};

std::vector<Param> all_params() {
  std::vector<Param> out;
  for (const auto& m : kModels) {
    for (const auto* k : testing::supported_kernel_tables()) out.push_back({m, k});
  }
  return out;
}

template <typename T>
std::vector<T> read(const SafetensorsFile& f, const std::string& name) {
  auto t = f.get(name);
  EXPECT_TRUE(t.ok()) << name;
  if (!t.ok()) return {};
  const T* p = static_cast<const T*>(t->data);
  return std::vector<T>(p, p + t->numel());
}

class GoldenTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const Param& p = GetParam();
    backend_ = testing::make_test_backend(*p.kernels);  // SGLANG_TEST_DEVICE=cuda: on the GPU
    auto model = load_causal_lm(testing::tiny_checkpoint(p.model.arch, p.model.seed), *backend_);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = std::move(*model);
    auto golden =
        SafetensorsFile::open(std::string(SGLANG_GOLDEN_DIR) + "/" + p.model.file + ".safetensors");
    ASSERT_TRUE(golden.ok()) << golden.error().message;
    golden_ = std::move(*golden);
    num_prompts_ = std::stoi(golden_->metadata().at("num_prompts"));
    vocab_ = model_->config().vocab_size;
  }

  // Runs `batch` on a fresh cache; returns the logits on the host.
  std::vector<float> run(const ForwardBatch& batch, KvCache& kv) {
    auto out = ModelRunner(*model_).forward(batch, kv);
    EXPECT_TRUE(out.ok()) << out.error().message;
    if (!out.ok()) return {};
    std::vector<float> host(static_cast<size_t>(out->numel()));
    backend_->copy_to_host(*out, host.data());
    return host;
  }

  // Logits of every prompt position, computed as prefill chunks of `chunk` tokens (0: one prefill),
  // with the sequence's pages taken in a shuffled order to exercise the page table.
  std::vector<float> logits_by_chunks(const std::vector<int32_t>& ids, int64_t chunk,
                                      int64_t page_size) {
    const int64_t n = static_cast<int64_t>(ids.size());
    PagePool pool(n / page_size + 8, page_size);
    KvCache kv(*backend_, model_->kv_cache_shape(), pool.num_pages(), page_size);
    auto pages = *pool.allocate(pool.pages_for(n));
    std::mt19937 rng(7);
    std::shuffle(pages.begin(), pages.end(), rng);
    std::vector<float> all;
    const int64_t step = chunk > 0 ? chunk : n;
    for (int64_t start = 0; start < n; start += step) {
      const int64_t len = std::min(step, n - start);
      ForwardBatch b;
      b.add(std::span<const int32_t>(ids).subspan(static_cast<size_t>(start),
                                                  static_cast<size_t>(len)),
            start, pages, LogitsMode::kAll);
      auto part = run(b, kv);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<CausalLM> model_;
  std::unique_ptr<SafetensorsFile> golden_;
  int num_prompts_ = 0;
  int64_t vocab_ = 0;
};

TEST_P(GoldenTest, LogitsMatchTransformers) {
  double worst_last = 0, worst_top = 0, worst_lse = 0;
  for (int i = 0; i < num_prompts_; ++i) {
    const std::string p = "p" + std::to_string(i) + ".";
    const auto ids = read<int32_t>(*golden_, p + "input_ids");
    const auto top_ids = read<int32_t>(*golden_, p + "topk_ids");
    const auto top_logits = read<float>(*golden_, p + "topk_logits");
    const auto lse = read<float>(*golden_, p + "logsumexp");
    const auto last = read<float>(*golden_, p + "last_logits");
    const size_t n = ids.size(), k = top_ids.size() / n;
    ASSERT_EQ(static_cast<int64_t>(last.size()), vocab_);

    const auto logits = logits_by_chunks(ids, 0, 1);
    ASSERT_EQ(logits.size(), n * static_cast<size_t>(vocab_));
    // The full last-position vector.
    const double err_last =
        testing::relative_l2(logits.data() + (n - 1) * vocab_, last.data(), last.size());
    EXPECT_LE(err_last, 1e-3) << "prompt " << i;
    // Top-20 values and logsumexp at every position.
    std::vector<float> ours_top(top_ids.size()), ours_lse(n);
    for (size_t t = 0; t < n; ++t) {
      const float* row = logits.data() + t * vocab_;
      for (size_t j = 0; j < k; ++j) ours_top[t * k + j] = row[top_ids[t * k + j]];
      const float mx = *std::max_element(row, row + vocab_);
      double s = 0;
      for (int64_t v = 0; v < vocab_; ++v) s += std::exp(static_cast<double>(row[v] - mx));
      ours_lse[t] = static_cast<float>(mx + std::log(s));
    }
    const double err_top =
        testing::relative_l2(ours_top.data(), top_logits.data(), top_logits.size());
    const double err_lse = testing::relative_l2(ours_lse.data(), lse.data(), lse.size());
    EXPECT_LE(err_top, 1e-3) << "prompt " << i;
    EXPECT_LE(err_lse, 1e-3) << "prompt " << i;
    worst_last = std::max(worst_last, err_last);
    worst_top = std::max(worst_top, err_top);
    worst_lse = std::max(worst_lse, err_lse);
  }
  std::printf(
      "worst relative L2 vs transformers: last-position logits %.2e, top-20 %.2e, logsumexp %.2e\n",
      worst_last, worst_top, worst_lse);
}

TEST_P(GoldenTest, GreedyContinuationMatchesTransformers) {
  for (int i = 0; i < num_prompts_; ++i) {
    const std::string p = "p" + std::to_string(i) + ".";
    const auto ids = read<int32_t>(*golden_, p + "input_ids");
    const auto ref = read<int32_t>(*golden_, p + "greedy_ids");
    const auto margins = read<float>(*golden_, p + "greedy_margins");
    PagePool pool(512, 4);
    KvCache kv(*backend_, model_->kv_cache_shape(), pool.num_pages(), pool.page_size());
    GreedyOptions opt;
    opt.max_new_tokens = static_cast<int64_t>(ref.size());
    opt.stop_at_eos = false;
    auto out = generate_greedy(*model_, kv, pool, {ids}, opt);
    ASSERT_TRUE(out.ok()) << out.error().message;
    const auto& ours = (*out)[0];
    ASSERT_EQ(ours.size(), ref.size());
    size_t compared = 0;
    for (size_t s = 0; s < ref.size(); ++s) {
      if (ours[s] != ref[s]) {
        // Only a near-tie may flip; after it the continuations legitimately diverge.
        EXPECT_LE(margins[s], 1e-2f)
            << "prompt " << i << " step " << s << ": " << ours[s] << " vs " << ref[s];
        break;
      }
      ++compared;
    }
    EXPECT_GT(compared, 0u);
    EXPECT_EQ(pool.num_free(), pool.num_pages()) << "pages leaked";
  }
}

TEST_P(GoldenTest, ChunkedPrefillAndDecodeMatchOnePrefill) {
  // A 128-token prompt: one prefill vs chunks of 7 vs one token at a time (prefill of 1 + decode).
  const auto ids = read<int32_t>(*golden_, "p3.input_ids");
  for (int64_t page_size : {1, 16}) {
    const auto whole = logits_by_chunks(ids, 0, page_size);
    const auto chunked = logits_by_chunks(ids, 7, page_size);
    const auto decoded = logits_by_chunks(ids, 1, page_size);
    ASSERT_EQ(whole.size(), chunked.size());
    ASSERT_EQ(whole.size(), decoded.size());
    for (size_t t = 0; t < ids.size(); ++t) {
      const size_t off = t * static_cast<size_t>(vocab_);
      ASSERT_LE(testing::relative_l2(chunked.data() + off, whole.data() + off, vocab_), 1e-4)
          << "chunks of 7, position " << t << ", page size " << page_size;
      ASSERT_LE(testing::relative_l2(decoded.data() + off, whole.data() + off, vocab_), 1e-4)
          << "decode, position " << t << ", page size " << page_size;
    }
  }
}

TEST_P(GoldenTest, BatchOfFiveGivesEachItsOwnLogits) {
  // Five different prompts in one batch: three prefills from scratch, one continuing a cached
  // prefix (chunked prefill), one decode step; every row must equal the sequence run alone.
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 5; ++i)
    prompts.push_back(
        read<int32_t>(*golden_, "p" + std::to_string(i % num_prompts_) + ".input_ids"));
  std::reverse(prompts[3].begin(), prompts[3].end());  // make it differ from prompt 3 in the file
  const int64_t page_size = 4;
  PagePool pool(1024, page_size);
  KvCache kv(*backend_, model_->kv_cache_shape(), pool.num_pages(), page_size);
  std::vector<std::vector<int32_t>> pages(5);
  std::vector<int64_t> prefix(5, 0);
  prefix[3] = static_cast<int64_t>(prompts[3].size()) / 2;  // half cached already
  prefix[4] = static_cast<int64_t>(prompts[4].size()) - 1;  // everything but the last token: decode
  for (int i = 0; i < 5; ++i) {
    pages[i] = *pool.allocate(pool.pages_for(static_cast<int64_t>(prompts[i].size())));
    if (prefix[i] > 0) {  // fill the cached prefix with a forward of its own
      ForwardBatch warm;
      warm.add(std::span<const int32_t>(prompts[i]).first(static_cast<size_t>(prefix[i])), 0,
               pages[i], LogitsMode::kNone);
      run(warm, kv);
    }
  }
  ForwardBatch batch;
  for (int i = 0; i < 5; ++i) {
    batch.add(std::span<const int32_t>(prompts[i]).subspan(static_cast<size_t>(prefix[i])),
              prefix[i], pages[i], LogitsMode::kAll);
  }
  const auto batched = run(batch, kv);
  size_t row = 0;
  for (int i = 0; i < 5; ++i) {
    const auto alone = logits_by_chunks(prompts[i], 0, 1);
    for (int64_t t = prefix[i]; t < static_cast<int64_t>(prompts[i].size()); ++t, ++row) {
      ASSERT_LE(
          testing::relative_l2(batched.data() + row * vocab_, alone.data() + t * vocab_, vocab_),
          1e-5)
          << "sequence " << i << " position " << t;
    }
  }
  EXPECT_EQ(row * static_cast<size_t>(vocab_), batched.size());
}

void PrintTo(const Param& p, std::ostream* os) {
  *os << p.model.file << "/" << p.kernels->isa;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string n = info.param.model.file + "_" + info.param.kernels->isa;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenTest, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace sglang
