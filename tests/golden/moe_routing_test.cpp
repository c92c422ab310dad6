// The expert distribution recorder against routing computed independently: transformers' router
// logits of the tiny Qwen2-MoE and Qwen3-MoE (tools/make_golden.py stores them per sparse layer)
// give each token's top-2 experts; the recorder, fed by our forward, must have counted exactly
// those, and per sparse layer tokens x top_k selections in all.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <sstream>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/expert_distribution_recorder.h"
#include "engine/model_runner.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "test_support.h"

namespace sglang {
namespace {

struct MoeModel {
  const char* arch;  // make-checkpoint --tiny --arch
  uint64_t seed;     // tools/make_golden.py's seed for it
  const char* file;  // tests/golden/data/<file>.safetensors
};
// Both: 3 layers (layer 1 dense), 8 experts, top-2; Qwen3-MoE renormalises, without shared expert.
const MoeModel kMoeModels[] = {{"qwen2-moe", 5, "tiny-qwen2-moe"},
                               {"qwen3-moe", 12, "tiny-qwen3-moe"}};

// Splits "a,b,c" into numbers.
std::vector<int64_t> parse_row(const std::string& line) {
  std::vector<int64_t> out;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) out.push_back(std::stoll(field));
  return out;
}

std::vector<std::vector<int64_t>> csv_rows(const std::string& csv) {
  std::vector<std::vector<int64_t>> rows;
  std::stringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) rows.push_back(parse_row(line));
  return rows;
}

class MoeRoutingGoldenTest : public ::testing::TestWithParam<MoeModel> {
 protected:
  void SetUp() override {
    const MoeModel& m = GetParam();
    auto model = load_causal_lm(testing::tiny_checkpoint(m.arch, m.seed), backend_);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = std::move(*model);
    auto golden =
        SafetensorsFile::open(std::string(SGLANG_GOLDEN_DIR) + "/" + m.file + ".safetensors");
    ASSERT_TRUE(golden.ok()) << golden.error().message;
    golden_ = std::move(*golden);
    for (int64_t l : parse_row(golden_->metadata().at("moe_layers"))) moe_layers_.push_back(l);
    num_prompts_ = std::stoi(golden_->metadata().at("num_prompts"));
  }

  // The reference: per sparse layer, each token's top-k experts from transformers' router logits
  // (softmax is monotonic: the top-k of the logits), and whether the k-th and (k+1)-th are so close
  // that rounding may legitimately swap them.
  struct Reference {
    std::map<int64_t, std::vector<std::vector<int32_t>>> top;  // layer -> token -> sorted ids
    std::map<int64_t, std::vector<bool>> near_tie;
  };
  Reference reference(int prompt, int64_t tokens) const {
    auto t = golden_->get("p" + std::to_string(prompt) + ".router_logits");
    EXPECT_TRUE(t.ok());
    const auto* logits = static_cast<const float*>(t->data);
    const int64_t experts = model_->config().moe.num_experts;
    const int64_t k = model_->config().moe.num_experts_per_tok;
    EXPECT_EQ(t->shape,
              (std::vector<int64_t>{static_cast<int64_t>(moe_layers_.size()), tokens, experts}));
    Reference ref;
    for (size_t m = 0; m < moe_layers_.size(); ++m) {
      auto& top = ref.top[moe_layers_[m]];
      auto& tie = ref.near_tie[moe_layers_[m]];
      for (int64_t tok = 0; tok < tokens; ++tok) {
        const float* row = logits + (static_cast<int64_t>(m) * tokens + tok) * experts;
        std::vector<int32_t> order(static_cast<size_t>(experts));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int32_t a, int32_t b) { return row[a] > row[b]; });
        std::vector<int32_t> chosen(order.begin(), order.begin() + k);
        std::sort(chosen.begin(), chosen.end());
        top.push_back(chosen);
        tie.push_back(row[order[k - 1]] - row[order[k]] < 1e-4f);
      }
    }
    return ref;
  }

  // Runs the prompt through the model with the recorder attached, in prefill chunks of `chunk`
  // tokens (0: one prefill); returns what the recorder would dump.
  std::string record(ExpertRecorderMode mode, const std::vector<int32_t>& ids, int64_t chunk) {
    ExpertRecorderOptions o;
    o.mode = mode;
    o.num_layers = model_->config().num_hidden_layers;
    o.num_experts = model_->config().moe.num_experts;
    o.buffer_size = -1;
    ExpertDistributionRecorder recorder(o);
    model_->set_expert_routing_observer(&recorder);
    recorder.start_record();
    const auto n = static_cast<int64_t>(ids.size());
    PagePool pool(n + 8, 1);
    KvCache kv(backend_, model_->kv_cache_shape(), pool.num_pages(), 1);
    auto pages = *pool.allocate(n);
    const int64_t step = chunk > 0 ? chunk : n;
    for (int64_t start = 0; start < n; start += step) {
      ForwardBatch b;
      b.add(std::span<const int32_t>(ids).subspan(static_cast<size_t>(start),
                                                  static_cast<size_t>(std::min(step, n - start))),
            start, pages, LogitsMode::kLast);
      EXPECT_TRUE(ModelRunner(*model_).forward(b, kv).ok());
    }
    model_->set_expert_routing_observer(nullptr);
    return recorder.render();
  }

  std::vector<int32_t> prompt(int i) const {
    auto t = golden_->get("p" + std::to_string(i) + ".input_ids");
    EXPECT_TRUE(t.ok());
    const auto* p = static_cast<const int32_t*>(t->data);
    return std::vector<int32_t>(p, p + t->numel());
  }

  CpuBackend backend_;
  std::unique_ptr<CausalLM> model_;
  std::unique_ptr<SafetensorsFile> golden_;
  std::vector<int64_t> moe_layers_;
  int num_prompts_ = 0;
};

TEST_P(MoeRoutingGoldenTest, PerTokenChoicesAreTransformersTopK) {
  ASSERT_EQ(moe_layers_, (std::vector<int64_t>{0, 2}));
  int64_t compared = 0, near_ties = 0;
  for (int i = 0; i < num_prompts_; ++i) {
    const auto ids = prompt(i);
    const auto n = static_cast<int64_t>(ids.size());
    const Reference ref = reference(i, n);
    const auto rows = csv_rows(record(ExpertRecorderMode::kPerToken, ids, 0));
    // forward_pass_id, token_index, input_id, position, layer_id, expert_0, expert_1
    ASSERT_EQ(static_cast<int64_t>(rows.size()), n * 2) << "one row per token and sparse layer";
    for (const auto& r : rows) {
      ASSERT_EQ(r.size(), 7u);
      const int64_t tok = r[1], layer = r[4];
      EXPECT_EQ(r[2], ids[static_cast<size_t>(tok)]);
      EXPECT_EQ(r[3], tok) << "position";
      std::vector<int32_t> chosen = {static_cast<int32_t>(r[5]), static_cast<int32_t>(r[6])};
      std::sort(chosen.begin(), chosen.end());
      if (ref.near_tie.at(layer)[tok]) {
        ++near_ties;
        continue;
      }
      EXPECT_EQ(chosen, ref.top.at(layer)[tok])
          << "prompt " << i << " layer " << layer << " token " << tok;
      ++compared;
    }
  }
  std::printf("per-token routing vs transformers: %lld choices equal, %lld near-ties skipped\n",
              static_cast<long long>(compared), static_cast<long long>(near_ties));
  EXPECT_GT(compared, 0);
}

TEST_P(MoeRoutingGoldenTest, StatCountsEqualCountsFromTransformersRouterLogits) {
  for (int i = 0; i < num_prompts_; ++i) {
    const auto ids = prompt(i);
    const auto n = static_cast<int64_t>(ids.size());
    const Reference ref = reference(i, n);
    // Expected counts, and how far near-ties may move them.
    std::map<std::pair<int64_t, int64_t>, int64_t> want;
    std::map<int64_t, int64_t> slack;
    for (const auto& [layer, tokens] : ref.top) {
      for (size_t t = 0; t < tokens.size(); ++t) {
        for (int32_t e : tokens[t]) ++want[{layer, e}];
        if (ref.near_tie.at(layer)[t]) slack[layer] += 2;
      }
    }
    // One prefill, and the same prompt in chunks of 7 (the chunks' passes add up).
    for (int64_t chunk : {0, 7}) {
      std::map<std::pair<int64_t, int64_t>, int64_t> got;
      std::map<int64_t, int64_t> layer_sum;
      for (const auto& r : csv_rows(record(ExpertRecorderMode::kStat, ids, chunk))) {
        ASSERT_EQ(r.size(), 3u);
        EXPECT_GT(r[2], 0) << "experts never chosen are left out";
        got[{r[0], r[1]}] = r[2];
        layer_sum[r[0]] += r[2];
      }
      EXPECT_EQ(layer_sum, (std::map<int64_t, int64_t>{{0, n * 2}, {2, n * 2}}))
          << "tokens x top_k per sparse layer; no rows for the dense layer";
      for (const auto& [key, count] : want) {
        const int64_t g = got.count(key) ? got.at(key) : 0;
        EXPECT_LE(std::abs(g - count), slack[key.first])
            << "prompt " << i << " chunk " << chunk << " layer " << key.first << " expert "
            << key.second;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, MoeRoutingGoldenTest, ::testing::ValuesIn(kMoeModels),
                         [](const ::testing::TestParamInfo<MoeModel>& param_info) {
                           std::string n = param_info.param.file;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace sglang
