// Constrained requests through the scheduler: the grammar queue (requests wait for their grammar,
// invalid ones end with SGLang's 400), the mask applied on every sampling path, the end at the
// grammar's accepting state, jump-forward, retraction, and batches that mix constrained and free
// requests giving each its output alone. The tiny random Qwen2 with the real Qwen3 vocabulary.
#include <gtest/gtest.h>

#include <string_view>

#include "engine/grammar_backend.h"
#include "engine/scheduler.h"
#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace sglang {
namespace {

class GrammarSchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = new CpuBackend(2);
    auto model = load_causal_lm(testing::tiny_checkpoint("qwen2", 1), *backend_);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = model->release();
    auto tok = Tokenizer::from_file(testing::asset_path("qwen3-tokenizer/tokenizer.json"));
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    tokenizer_ = tok->release();
    const Tokenizer* t = tokenizer_;
    grammars_ = new std::shared_ptr<GrammarBackend>(std::make_shared<GrammarBackend>(
        [t] {
          return grammar::Vocabulary::from_tokenizer(*t, model_->config().vocab_size, {151645});
        },
        GrammarBackendOptions{}));
  }
  static void TearDownTestSuite() {
    delete grammars_;
    delete tokenizer_;
    delete model_;
    delete backend_;
  }

  static SchedulerConfig config(int64_t max_total_tokens = 8192) {
    SchedulerConfig c;
    c.max_total_tokens = max_total_tokens;
    c.chunked_prefill_size = 64;
    return c;
  }

  static std::unique_ptr<Request> request(const std::string& prompt, int64_t max_new,
                                          double temperature = 0) {
    auto r = std::make_unique<Request>();
    r->prompt = tokenizer_->encode(prompt, false);
    r->params.max_new_tokens = max_new;
    r->params.temperature = temperature;
    r->params.apply_defaults();
    r->stream = std::make_shared<RequestStream>();
    return r;
  }
  static std::unique_ptr<Request> with_ebnf(std::unique_ptr<Request> r, const std::string& g) {
    r->params.ebnf = g;
    return r;
  }

  // Submits all, steps until every one has finished (a step with nothing to do while a grammar
  // compiles returns true), returns their results in order.
  static std::vector<GenerationResult> run(Scheduler& s,
                                           std::vector<std::unique_ptr<Request>> reqs) {
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (auto& r : reqs) {
      streams.push_back(r->stream);
      EXPECT_TRUE(s.submit(std::move(r)).ok());
    }
    while (s.step()) {
    }
    std::vector<GenerationResult> out;
    for (auto& st : streams) out.push_back(wait_for_result(*st));
    return out;
  }

  static std::string text(const GenerationResult& r) {
    std::vector<int32_t> ids = r.output_ids;
    if (!ids.empty() && ids.back() == 151645) ids.pop_back();
    return tokenizer_->decode(ids, false);
  }

  static Scheduler* scheduler(SchedulerConfig c = config()) {
    auto* s = new Scheduler(*model_, tokenizer_, c);
    s->set_grammar_backend(*grammars_);
    return s;
  }

  static inline CpuBackend* backend_ = nullptr;
  static inline CausalLM* model_ = nullptr;
  static inline Tokenizer* tokenizer_ = nullptr;
  static inline std::shared_ptr<GrammarBackend>* grammars_ = nullptr;
};

// s is lo..hi characters of [first, last] (std::regex is avoided: GCC 12's <regex> warns under the
// sanitizer build's -O1).
bool chars_in(std::string_view s, char first, char last, size_t lo, size_t hi) {
  if (s.size() < lo || s.size() > hi) return false;
  for (char c : s) {
    if (c < first || c > last) return false;
  }
  return true;
}

// (yes|no|maybe) [a-z]{2,5}[.]
bool is_words_answer(std::string_view s) {
  const size_t space = s.find(' ');
  if (space == std::string_view::npos || s.empty() || s.back() != '.') return false;
  const std::string_view word = s.substr(0, space);
  if (word != "yes" && word != "no" && word != "maybe") return false;
  return chars_in(s.substr(space + 1, s.size() - space - 2), 'a', 'z', 2, 5);
}

constexpr const char* kWords = R"(root ::= ("yes" | "no" | "maybe") " " [a-z]{2,5} ".")";

TEST_F(GrammarSchedulerTest, OutputsFollowTheGrammarAndEndAtItsAcceptingState) {
  std::unique_ptr<Scheduler> s(scheduler());
  std::vector<std::unique_ptr<Request>> reqs;
  for (int i = 0; i < 6; ++i) {
    auto r = with_ebnf(request("Answer " + std::to_string(i), 32, 1.0), kWords);
    r->params.sampling_seed = static_cast<uint64_t>(i);
    reqs.push_back(std::move(r));
  }
  for (const auto& res : run(*s, std::move(reqs))) {
    EXPECT_TRUE(is_words_answer(text(res))) << text(res);
    // Nothing can follow the '.': the stop token is the only one allowed, and it ends the request.
    EXPECT_EQ(res.finish_reason.kind, FinishReason::Kind::kStopToken);
    EXPECT_EQ(res.output_ids.back(), 151645);
  }
}

TEST_F(GrammarSchedulerTest, MixedBatchGivesEachRequestItsOutputAlone) {
  auto make = [&] {
    std::vector<std::unique_ptr<Request>> reqs;
    reqs.push_back(request("free one", 10));
    reqs.push_back(with_ebnf(request("constrained one", 10), R"(root ::= [0-9]+)"));
    reqs.push_back(request("free two", 10));
    reqs.push_back(with_ebnf(request("constrained two", 20), kWords));
    return reqs;
  };
  std::vector<std::string> alone;
  for (auto& r : make()) {
    std::unique_ptr<Scheduler> s(scheduler());
    std::vector<std::unique_ptr<Request>> one;
    one.push_back(std::move(r));
    alone.push_back(text(run(*s, std::move(one))[0]));
  }
  std::unique_ptr<Scheduler> s(scheduler());
  const auto together = run(*s, make());
  for (size_t i = 0; i < together.size(); ++i) EXPECT_EQ(text(together[i]), alone[i]) << i;
  EXPECT_TRUE(chars_in(alone[1], '0', '9', 1, 100)) << alone[1];
}

TEST_F(GrammarSchedulerTest, InvalidGrammarEndsTheRequestWithSGLangsMessage) {
  std::unique_ptr<Scheduler> s(scheduler());
  std::vector<std::unique_ptr<Request>> reqs;
  reqs.push_back(with_ebnf(request("x", 4), "root ::= missing"));
  reqs.push_back(request("y", 4));
  auto res = run(*s, std::move(reqs));
  ASSERT_EQ(res[0].finish_reason.kind, FinishReason::Kind::kAbort);
  EXPECT_EQ(res[0].finish_reason.status_code, 400);
  EXPECT_EQ(res[0].finish_reason.message.rfind(
                "Invalid grammar request: req.grammar_key=('ebnf', 'root ::= missing'): ", 0),
            0u)
      << res[0].finish_reason.message;
  EXPECT_NE(res[0].finish_reason.message.find("missing"), std::string::npos);
  EXPECT_EQ(res[1].completion_tokens, 4);  // the other request is served
}

TEST_F(GrammarSchedulerTest, WithoutABackendConstraintsAreRefused) {
  Scheduler s(*model_, tokenizer_, config());
  std::vector<std::unique_ptr<Request>> reqs;
  reqs.push_back(with_ebnf(request("x", 4), kWords));
  auto res = run(s, std::move(reqs));
  ASSERT_EQ(res[0].finish_reason.kind, FinishReason::Kind::kAbort);
  EXPECT_EQ(res[0].finish_reason.status_code, 400);
  EXPECT_NE(res[0].finish_reason.message.find("--grammar-backend none"), std::string::npos);
}

TEST_F(GrammarSchedulerTest, LogprobsAndTopKPathsAreMaskedToo) {
  std::unique_ptr<Scheduler> s(scheduler());
  std::vector<std::unique_ptr<Request>> reqs;
  for (int i = 0; i < 3; ++i) {
    auto r = with_ebnf(request("Digits", 12, 0.8), R"(root ::= [1-3]{3,6})");
    r->params.top_k = 50;
    r->params.top_p = 0.9;
    r->params.sampling_seed = static_cast<uint64_t>(i);
    r->logprob.return_logprob = true;
    r->logprob.top_logprobs_num = 3;
    reqs.push_back(std::move(r));
  }
  for (const auto& res : run(*s, std::move(reqs))) {
    EXPECT_TRUE(chars_in(text(res), '1', '3', 3, 6)) << text(res);
    for (const auto& top : res.output_top_logprobs) {
      // The top entries with a real probability are tokens the grammar allowed.
      for (const auto& t : top) {
        if (t.logprob > -1e30f) {
          const std::string piece = tokenizer_->decode({t.token_id}, false);
          EXPECT_TRUE(t.token_id == 151645 || chars_in(piece, '1', '3', 1, 100)) << piece;
        }
      }
    }
  }
}

TEST_F(GrammarSchedulerTest, RetractedConstrainedRequestsStayValid) {
  // A pool that cannot hold every request to the end: the newest are retracted and recomputed,
  // their matchers keep their state.
  std::unique_ptr<Scheduler> s(scheduler(config(160)));
  std::vector<std::unique_ptr<Request>> reqs;
  for (int i = 0; i < 6; ++i) {
    auto r = with_ebnf(request("Count " + std::to_string(i), 24, 1.0), R"(root ::= [a-c]{20,23})");
    r->params.sampling_seed = static_cast<uint64_t>(i);
    reqs.push_back(std::move(r));
  }
  for (const auto& res : run(*s, std::move(reqs))) {
    EXPECT_TRUE(chars_in(text(res), 'a', 'c', 20, 23)) << text(res);
  }
}

TEST_F(GrammarSchedulerTest, JumpForwardAppendsTheForcedTokens) {
  SchedulerConfig c = config();
  c.jump_forward = true;
  std::unique_ptr<Scheduler> s(scheduler(c));
  const std::string g = R"(root ::= "{\"id\": " [1-9] ", \"status\": \"complete and verified\"}")";
  std::vector<std::unique_ptr<Request>> reqs;
  reqs.push_back(with_ebnf(request("Record", 40, 1.0), g));
  const auto res = run(*s, std::move(reqs));
  const std::string t = text(res[0]);
  const std::string head = "{\"id\": ", tail = ", \"status\": \"complete and verified\"}";
  ASSERT_EQ(t.size(), head.size() + 1 + tail.size()) << t;
  EXPECT_EQ(t.substr(0, head.size()), head);
  EXPECT_TRUE(chars_in(t.substr(head.size(), 1), '1', '9', 1, 1)) << t;
  EXPECT_EQ(t.substr(head.size() + 1), tail);
  EXPECT_EQ(res[0].finish_reason.kind, FinishReason::Kind::kStopToken);
  // The forced tail is many tokens; they came without a decode step each.
  EXPECT_GE(s->stats().total_jump_forward_tokens, 6);
  EXPECT_LT(s->stats().total_forward_steps, res[0].completion_tokens);
}

}  // namespace
}  // namespace sglang
