// Encoder embedding models against Hugging Face transformers (tools/make_golden.py,
// encoders.safetensors): the tiny BertModel (modules.json: mean pooling) and XLMRobertaModel (CLS
// pooling) checkpoints, both with a Normalize module, and the tiny NewModel (GTE v1.5, CLS) against
// tools/gte_reference.py. The sentence vector must be transformers'
// last_hidden_state pooled as declared and normalised, alone, batched and through the scheduler;
// without a modules.json the model pools as SGLang does (BertModel: last token, XLMRobertaModel:
// first), which checks the per-token hidden states at those rows too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/model_runner.h"
#include "engine/scheduler.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "test_support.h"

namespace sglang {
namespace {

namespace fs = std::filesystem;

struct EncoderModel {
  std::string name, arch;
  uint64_t seed;
  PoolingType declared, sglang_default;
};

const EncoderModel kModels[] = {
    {"tiny-bert", "bert", 7, PoolingType::kMean, PoolingType::kLast},
    {"tiny-xlm-roberta", "xlm-roberta", 8, PoolingType::kCls, PoolingType::kCls},
    // NewModel (GTE v1.5): its reference is tools/gte_reference.py (the modeling code is
    // trust_remote_code, not on PyPI); without modules.json: CLS, as the published models.
    {"tiny-gte", "gte", 9, PoolingType::kCls, PoolingType::kCls},
};

struct Param {
  EncoderModel model;
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

struct Prompt {
  std::vector<int32_t> ids;
  std::vector<float> hidden;     // [L, H]
  std::vector<float> embedding;  // [H]
};

// `hidden` [L, H] pooled by `type`, optionally L2-normalised (the reference side).
std::vector<float> reference_pool(const std::vector<float>& hidden, int64_t H, PoolingType type,
                                  bool normalize) {
  const int64_t L = static_cast<int64_t>(hidden.size()) / H;
  const int64_t starts[] = {0}, lengths[] = {L};
  SentencePooling p;
  p.type = type;
  p.normalize = normalize;
  return pool_sentences(hidden.data(), H, starts, lengths, p);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  }
  return worst;
}

class EncoderEmbeddingGolden : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const Param& p = GetParam();
    backend_ = std::make_unique<CpuBackend>(*p.kernels);
    dir_ = testing::tiny_checkpoint(p.model.arch, p.model.seed);
    model_ = load(dir_);
    ASSERT_NE(model_, nullptr);
    auto f = SafetensorsFile::open(std::string(SGLANG_GOLDEN_DIR) + "/encoders.safetensors");
    ASSERT_TRUE(f.ok()) << f.error().message;
    const int n = std::stoi(f.value()->metadata().at("num_prompts"));
    for (int i = 0; i < n; ++i) {
      const std::string k = p.model.name + ".p" + std::to_string(i) + ".";
      prompts_.push_back({read<int32_t>(**f, k + "input_ids"), read<float>(**f, k + "hidden"),
                          read<float>(**f, k + "embedding")});
    }
    ASSERT_GE(prompts_.size(), 4u);
  }

  std::unique_ptr<CausalLM> load(const std::string& dir) {
    auto m = load_causal_lm(dir, *backend_);
    EXPECT_TRUE(m.ok()) << m.error().message;
    return m.ok() ? std::move(*m) : nullptr;
  }

  // Rows of `which` prompts run as one forward batch (each sequence whole, scattered pages).
  std::vector<float> forward(CausalLM& model, const std::vector<size_t>& which,
                             bool hidden = false) {
    PagePool pool(256, 4);
    KvCache kv(*backend_, model.kv_cache_shape(), pool.num_pages(), pool.page_size());
    ForwardBatch b;
    for (size_t i : which) {
      const auto& ids = prompts_[i].ids;
      auto pages = *pool.allocate(pool.pages_for(static_cast<int64_t>(ids.size())));
      std::reverse(pages.begin(), pages.end());
      b.add(ids, 0, pages);
    }
    ModelRunner runner(model);
    auto out = hidden ? runner.forward_hidden(b, kv) : runner.forward(b, kv);
    EXPECT_TRUE(out.ok()) << out.error().message;
    if (!out.ok()) return {};
    EXPECT_EQ(out->rows(), static_cast<int64_t>(which.size()));
    EXPECT_EQ(out->cols(), model.config().hidden_size);
    std::vector<float> host(static_cast<size_t>(out->numel()));
    backend_->copy_to_host(*out, host.data());
    return host;
  }

  std::vector<float> row(const std::vector<float>& rows, size_t i) const {
    const auto H = static_cast<size_t>(model_->config().hidden_size);
    return {rows.begin() + static_cast<std::ptrdiff_t>(i * H),
            rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * H)};
  }

  std::unique_ptr<CpuBackend> backend_;
  std::string dir_;
  std::unique_ptr<CausalLM> model_;
  std::vector<Prompt> prompts_;
};

TEST_P(EncoderEmbeddingGolden, DeclaredPoolingMatchesTransformersAloneAndBatched) {
  const ModelConfig& c = model_->config();
  ASSERT_EQ(c.head, Head::kEmbedding);
  ASSERT_FALSE(c.causal);
  EXPECT_EQ(c.pooling.type, GetParam().model.declared);
  EXPECT_TRUE(c.pooling.normalize);
  EXPECT_EQ(model_->output_width(), c.hidden_size);
  std::vector<size_t> all;
  double worst = 0;
  for (size_t i = 0; i < prompts_.size(); ++i) {
    all.push_back(i);
    const double d = max_abs_diff(forward(*model_, {i}), prompts_[i].embedding);
    EXPECT_LT(d, 1e-4) << "prompt " << i;
    worst = std::max(worst, d);
  }
  // One batch of every prompt (1 to 130 tokens, reversed page order): each its own vector.
  const auto batched = forward(*model_, all);
  for (size_t i = 0; i < prompts_.size(); ++i) {
    EXPECT_LT(max_abs_diff(row(batched, i), prompts_[i].embedding), 1e-4) << "prompt " << i;
  }
  std::printf("worst |embedding - transformers| %.2e over %zu prompts\n", worst, prompts_.size());
}

TEST_P(EncoderEmbeddingGolden, ForwardHiddenIsThePoolingBeforeNormalisation) {
  const int64_t H = model_->config().hidden_size;
  std::vector<size_t> all(prompts_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto rows = forward(*model_, all, /*hidden=*/true);
  for (size_t i = 0; i < prompts_.size(); ++i) {
    const auto want = reference_pool(prompts_[i].hidden, H, GetParam().model.declared, false);
    EXPECT_LT(max_abs_diff(row(rows, i), want), 1e-4) << "prompt " << i;
  }
}

TEST_P(EncoderEmbeddingGolden, WithoutModulesJsonPoolsAsSGLang) {
  // The same checkpoint without its sentence-transformers files.
  const fs::path bare = fs::path(dir_).string() + "-bare-" + std::to_string(::getpid()) + "-" +
                        GetParam().kernels->isa;
  fs::remove_all(bare);
  fs::create_directories(bare);
  fs::copy_file(fs::path(dir_) / "config.json", bare / "config.json");
  fs::create_symlink(fs::absolute(fs::path(dir_) / "model.safetensors"),
                     bare / "model.safetensors");
  auto model = load(bare.string());
  ASSERT_NE(model, nullptr);
  const PoolingType expected = GetParam().model.sglang_default;
  EXPECT_EQ(model->config().pooling.type, expected);
  EXPECT_TRUE(model->config().pooling.normalize);
  const int64_t H = model->config().hidden_size;
  std::vector<size_t> all(prompts_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto rows = forward(*model, all);
  for (size_t i = 0; i < prompts_.size(); ++i) {
    const auto want = reference_pool(prompts_[i].hidden, H, expected, true);
    EXPECT_LT(max_abs_diff(row(rows, i), want), 1e-4) << "prompt " << i;
  }
  model.reset();
  fs::remove_all(bare);
}

TEST_P(EncoderEmbeddingGolden, SchedulerGivesEachSequenceWhole) {
  // Chunks of 16 and the radix cache asked for: an encoder still sees every prompt whole.
  SchedulerConfig c;
  c.max_total_tokens = 4096;
  c.embedding = true;
  c.chunked_prefill_size = 16;
  c.disable_radix_cache = false;
  Scheduler s(*model_, nullptr, c);
  EXPECT_TRUE(s.config().disable_radix_cache);
  EXPECT_EQ(s.config().chunked_prefill_size, 0);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& p : prompts_) {
    auto r = std::make_unique<Request>();
    r->prompt = p.ids;
    r->params.max_new_tokens = 0;
    r->stream = std::make_shared<RequestStream>();
    streams.push_back(r->stream);
    ASSERT_TRUE(s.submit(std::move(r)).ok());
  }
  while (s.step()) {
  }
  for (size_t i = 0; i < prompts_.size(); ++i) {
    StepOutput o = streams[i]->pop();
    ASSERT_TRUE(o.finished);
    EXPECT_LT(max_abs_diff(o.embedding, prompts_[i].embedding), 1e-4) << "prompt " << i;
  }
  const SchedulerStats st = s.stats();
  EXPECT_EQ(st.num_free_pages * st.page_size, st.max_total_num_tokens) << "pages leaked";
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string n = info.param.model.arch + "_" + info.param.kernels->isa;
  for (char& ch : n) {
    if (ch == '-') ch = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Models, EncoderEmbeddingGolden, ::testing::ValuesIn(all_params()),
                         param_name);

}  // namespace
}  // namespace sglang
