// Cross-encoders against Hugging Face transformers (tools/make_golden.py, rerank.safetensors): the
// tiny XLMRobertaForSequenceClassification and BertForSequenceClassification checkpoints with real
// tokenizers beside them. Our pair tokenization must give transformers' input_ids and
// token_type_ids, and the model the classifier's logits, alone, batched, and through the scheduler.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/model_runner.h"
#include "engine/scheduler.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "test_support.h"
#include "tokenizer/tokenizer_config.h"

namespace sglang {
namespace {

struct RerankModel {
  std::string name, arch;
  uint64_t seed;
  std::string tokenizer;  // asset folder
};

const RerankModel kModels[] = {
    {"tiny-xlm-roberta-reranker", "xlm-roberta-reranker", 5, "xlmr-format-unigram-en"},
    {"tiny-bert-reranker", "bert-reranker", 6, "minilm-l6-v2"},
};

struct Param {
  RerankModel model;
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

struct Pair {
  std::string query, document;
  std::vector<int32_t> ids, types;
  std::vector<float> logits;
};

class RerankGolden : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const Param& p = GetParam();
    backend_ = std::make_unique<CpuBackend>(*p.kernels);
    auto model = load_causal_lm(testing::tiny_checkpoint(p.model.arch, p.model.seed), *backend_);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = std::move(*model);
    auto tok = load_tokenizer_from_dir(testing::asset_path(p.model.tokenizer));
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    tokenizer_ = std::move(tok->tokenizer);
    auto f = SafetensorsFile::open(std::string(SGLANG_GOLDEN_DIR) + "/rerank.safetensors");
    ASSERT_TRUE(f.ok()) << f.error().message;
    const auto texts = nlohmann::json::parse(f.value()->metadata().at("pairs"));
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string k = p.model.name + ".pair" + std::to_string(i) + ".";
      pairs_.push_back({texts[i][0], texts[i][1], read<int32_t>(**f, k + "input_ids"),
                        read<int32_t>(**f, k + "token_type_ids"), read<float>(**f, k + "logits")});
    }
    ASSERT_GE(pairs_.size(), 8u);
  }

  // Logits of `which` pairs run as one forward batch (each sequence whole, scattered pages).
  std::vector<float> forward(const std::vector<size_t>& which) {
    PagePool pool(256, 4);
    KvCache kv(*backend_, model_->kv_cache_shape(), pool.num_pages(), pool.page_size());
    ForwardBatch b;
    for (size_t i : which) {
      const auto& ids = pairs_[i].ids;
      auto pages = *pool.allocate(pool.pages_for(static_cast<int64_t>(ids.size())));
      std::reverse(pages.begin(), pages.end());
      b.add(ids, 0, pages);
      b.token_type_ids.insert(b.token_type_ids.end(), pairs_[i].types.begin(),
                              pairs_[i].types.end());
    }
    auto out = ModelRunner(*model_).forward(b, kv);
    EXPECT_TRUE(out.ok()) << out.error().message;
    if (!out.ok()) return {};
    EXPECT_EQ(out->rows(), static_cast<int64_t>(which.size()));
    std::vector<float> host(static_cast<size_t>(out->numel()));
    backend_->copy_to_host(*out, host.data());
    return host;
  }

  std::unique_ptr<CpuBackend> backend_;
  std::unique_ptr<CausalLM> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<Pair> pairs_;
};

TEST_P(RerankGolden, PairTokenizationMatchesTransformers) {
  for (const auto& p : pairs_) {
    std::vector<int32_t> types;
    EXPECT_EQ(tokenizer_->encode_pair(p.query, p.document, true, &types), p.ids)
        << p.query << " | " << p.document;
    EXPECT_EQ(types, p.types) << p.query << " | " << p.document;
  }
}

TEST_P(RerankGolden, LogitsMatchTransformersAloneAndBatched) {
  const int64_t labels = model_->config().num_labels;
  ASSERT_EQ(labels, 1);
  ASSERT_FALSE(model_->config().causal);
  std::vector<size_t> all;
  double worst = 0;
  for (size_t i = 0; i < pairs_.size(); ++i) {
    all.push_back(i);
    const auto alone = forward({i});
    ASSERT_EQ(alone.size(), pairs_[i].logits.size());
    for (size_t j = 0; j < alone.size(); ++j) {
      EXPECT_NEAR(alone[j], pairs_[i].logits[j], 1e-4) << "pair " << i;
      worst = std::max(worst, static_cast<double>(std::abs(alone[j] - pairs_[i].logits[j])));
    }
  }
  // One batch of every pair (different lengths, reversed page order) gives each its own logits.
  const auto batched = forward(all);
  ASSERT_EQ(batched.size(), pairs_.size() * static_cast<size_t>(labels));
  for (size_t i = 0; i < pairs_.size(); ++i) {
    EXPECT_NEAR(batched[i], pairs_[i].logits[0], 1e-4) << "pair " << i << " in a batch";
  }
  std::printf("worst |logit - transformers| %.2e over %zu pairs\n", worst, pairs_.size());
}

TEST_P(RerankGolden, SchedulerScoresWholeSequencesWhateverTheFlags) {
  // Radix cache on and chunks of 4 tokens asked for: an encoder must still see every sequence
  // whole, so the scheduler turns both off; the pairs share their query prefix, which a prefix
  // cache would otherwise reuse.
  SchedulerConfig c;
  c.max_total_tokens = 4096;
  c.embedding = true;
  c.chunked_prefill_size = 4;
  c.disable_radix_cache = false;
  Scheduler s(*model_, tokenizer_.get(), c);
  EXPECT_TRUE(s.config().disable_radix_cache);
  EXPECT_EQ(s.config().chunked_prefill_size, 0);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& p : pairs_) {
    auto r = std::make_unique<Request>();
    r->prompt = p.ids;
    r->token_type_ids = p.types;
    r->params.max_new_tokens = 0;
    r->stream = std::make_shared<RequestStream>();
    streams.push_back(r->stream);
    ASSERT_TRUE(s.submit(std::move(r)).ok());
  }
  while (s.step()) {
  }
  for (size_t i = 0; i < pairs_.size(); ++i) {
    StepOutput o = streams[i]->pop();
    ASSERT_TRUE(o.finished);
    ASSERT_EQ(o.embedding.size(), 1u);
    EXPECT_NEAR(o.embedding[0], pairs_[i].logits[0], 1e-4) << "pair " << i;
    EXPECT_EQ(o.cached_tokens, 0);
  }
  const SchedulerStats st = s.stats();
  EXPECT_EQ(st.num_free_pages * st.page_size, st.max_total_num_tokens) << "pages leaked";
}

TEST_P(RerankGolden, RefusesWhatAnEncoderCannotDo) {
  PagePool pool(64, 4);
  KvCache kv(*backend_, model_->kv_cache_shape(), pool.num_pages(), pool.page_size());
  const auto& ids = pairs_[1].ids;
  auto pages = *pool.allocate(pool.pages_for(static_cast<int64_t>(ids.size())));
  ForwardBatch cont;  // a continuation after a cached prefix
  cont.add(std::span<const int32_t>(ids).subspan(4), 4, pages);
  auto r1 = ModelRunner(*model_).forward(cont, kv);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("whole"), std::string::npos) << r1.error().message;
  ForwardBatch bad_type;  // a segment id past type_vocab_size
  bad_type.add(ids, 0, pages);
  bad_type.token_type_ids.assign(ids.size(),
                                 static_cast<int32_t>(model_->config().type_vocab_size));
  auto r2 = ModelRunner(*model_).forward(bad_type, kv);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("type"), std::string::npos) << r2.error().message;
  // The hidden state the head reads: one row per sequence.
  ForwardBatch one;
  one.add(ids, 0, pages);
  auto h = ModelRunner(*model_).forward_hidden(one, kv);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->rows(), 1);
  EXPECT_EQ(h->cols(), model_->config().hidden_size);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string n = info.param.model.arch + "_" + info.param.kernels->isa;
  for (char& ch : n) {
    if (ch == '-') ch = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Models, RerankGolden, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace sglang
