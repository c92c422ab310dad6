// The scheduler against its promises: continuous batching gives each request what it gets alone,
// the radix cache reuses prefixes without changing answers, pages never leak (finish, abort,
// retraction, flush), and stop conditions, sampling and logprobs behave as SGLang's.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <thread>

#include "engine/model_runner.h"
#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace sglang {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = new CpuBackend(2);
    auto model = load_causal_lm(testing::tiny_checkpoint("qwen2", 1), *backend_);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = model->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete backend_;
  }

  static SchedulerConfig config(int64_t max_total_tokens = 8192, int64_t page_size = 1) {
    SchedulerConfig c;
    c.max_total_tokens = max_total_tokens;
    c.page_size = page_size;
    c.chunked_prefill_size = 64;
    return c;
  }

  static std::unique_ptr<Request> request(std::vector<int32_t> prompt, int64_t max_new,
                                          std::string rid = "") {
    auto r = std::make_unique<Request>();
    r->rid = std::move(rid);
    r->prompt = std::move(prompt);
    r->params.max_new_tokens = max_new;
    r->params.temperature = 0;
    r->params.apply_defaults();
    r->stream = std::make_shared<RequestStream>();
    return r;
  }

  static std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t n) {
    std::vector<int32_t> p(static_cast<size_t>(n));
    for (auto& t : p) t = static_cast<int32_t>(rng() % 150000);
    return p;
  }

  // Runs one request alone through a fresh scheduler (no thread), with the top-2 logprobs so the
  // caller knows each greedy decision's margin.
  static GenerationResult run_alone(std::unique_ptr<Request> r, SchedulerConfig c = config()) {
    c.disable_radix_cache = true;
    Scheduler s(*model_, nullptr, c);
    r->logprob.return_logprob = true;
    r->logprob.top_logprobs_num = std::max<int64_t>(r->logprob.top_logprobs_num, 2);
    auto stream = r->stream;
    EXPECT_TRUE(s.submit(std::move(r)).ok());
    while (s.step()) {
    }
    return wait_for_result(*stream);
  }

  // Greedy outputs equal up to the first step whose reference top-2 margin is below 1e-3 (where
  // a last-bit difference between batch shapes may legitimately pick the other token).
  static int64_t expect_same_greedy(const GenerationResult& got, const GenerationResult& ref,
                                    const std::string& what) {
    int64_t compared = 0;
    for (size_t i = 0; i < ref.output_ids.size(); ++i) {
      if (i >= got.output_ids.size()) {
        ADD_FAILURE() << what << ": output shorter than alone";
        return compared;
      }
      EXPECT_EQ(got.output_ids[i], ref.output_ids[i]) << what << " position " << i;
      if (got.output_ids[i] != ref.output_ids[i]) return compared;
      ++compared;
      const auto& top = ref.output_top_logprobs[i];
      if (top.size() >= 2 && top[0].logprob - top[1].logprob < 1e-3f) return compared;
    }
    EXPECT_EQ(got.output_ids.size(), ref.output_ids.size()) << what;
    return compared;
  }

  static void expect_pool_full_after_flush(Scheduler& s) {
    auto flushed = s.flush_cache();
    while (s.step()) {
    }
    s.step();
    EXPECT_TRUE(flushed.get());
    const SchedulerStats st = s.stats();
    EXPECT_EQ(st.num_free_pages * st.page_size, st.max_total_num_tokens) << "pages leaked";
  }

  // Requests arriving at random times through the scheduler thread each get what they get alone.
  static void random_arrivals(SchedulerConfig config, size_t num_cases);

  static inline CpuBackend* backend_ = nullptr;
  static inline CausalLM* model_ = nullptr;
};

TEST_F(SchedulerTest, RandomArrivalsGiveEachRequestItsAloneOutput) {
  random_arrivals(config(), 64);
}

TEST_F(SchedulerTest, RandomArrivalsWithMixedChunksGiveEachRequestItsAloneOutput) {
  SchedulerConfig c = config();
  c.enable_mixed_chunk = true;
  random_arrivals(c, 24);
}

TEST_F(SchedulerTest, PrefillStepsHoldDecodesUnlessMixedChunk) {
  for (const bool mixed : {false, true}) {
    SCOPED_TRACE(mixed ? "mixed" : "not mixed");
    std::mt19937 rng(7);
    const std::vector<int32_t> prompt_a = random_prompt(rng, 5), prompt_b = random_prompt(rng, 200);
    const GenerationResult alone_a = run_alone(request(prompt_a, 12));
    const GenerationResult alone_b = run_alone(request(prompt_b, 4));
    SchedulerConfig c = config();  // chunks of 64 prompt tokens
    c.enable_mixed_chunk = mixed;
    Scheduler s(*model_, nullptr, c);
    auto a = request(prompt_a, 12, "a");
    auto stream_a = a->stream;
    ASSERT_TRUE(s.submit(std::move(a)).ok());
    GenerationResult got_a;
    auto take_a = [&] {
      size_t n = 0;
      while (auto out = stream_a->try_pop()) {
        got_a.output_ids.insert(got_a.output_ids.end(), out->new_token_ids.begin(),
                                out->new_token_ids.end());
        n += out->new_token_ids.size();
      }
      return n;
    };
    s.step();  // a's prefill: its first token
    s.step();  // a decodes
    EXPECT_EQ(take_a(), 2u);
    auto b = request(prompt_b, 4, "b");
    auto stream_b = b->stream;
    ASSERT_TRUE(s.submit(std::move(b)).ok());
    // b's 200 prompt tokens take four chunks (64 each, or 63 beside a's decode when mixed); a
    // decodes in those steps only when mixed.
    for (int i = 0; i < 4; ++i) {
      const int64_t steps = s.stats().total_forward_steps;
      s.step();
      EXPECT_EQ(s.stats().total_forward_steps, steps + 1);
      EXPECT_EQ(take_a(), mixed ? 1u : 0u) << "prefill step " << i;
    }
    std::optional<StepOutput> first_b = stream_b->try_pop();
    ASSERT_TRUE(first_b.has_value()) << "b's first token comes with its last chunk";
    while (s.step()) {
    }
    take_a();
    expect_same_greedy(got_a, alone_a, "a");
    GenerationResult got_b = wait_for_result(*stream_b);
    got_b.output_ids.insert(got_b.output_ids.begin(), first_b->new_token_ids.begin(),
                            first_b->new_token_ids.end());
    expect_same_greedy(got_b, alone_b, "b");
    expect_pool_full_after_flush(s);
  }
}

TEST_F(SchedulerTest, MixedChunkPrefillSizeBoundsStepsThatCarryDecodes) {
  // a decodes while b's 200-token prompt prefills: with mixed_chunk_prefill_size 17, each step
  // carrying a's decode holds 16 of b's prompt tokens (17 tokens in all); once a has finished, b's
  // chunks are whole again (64). Both answers stay what each gets alone.
  std::mt19937 rng(11);
  const std::vector<int32_t> prompt_a = random_prompt(rng, 5), prompt_b = random_prompt(rng, 200);
  const GenerationResult alone_a = run_alone(request(prompt_a, 4));
  const GenerationResult alone_b = run_alone(request(prompt_b, 3));
  SchedulerConfig c = config();  // chunks of 64 prompt tokens
  c.enable_mixed_chunk = true;
  c.mixed_chunk_prefill_size = 17;
  Scheduler s(*model_, nullptr, c);
  auto a = request(prompt_a, 4, "a");
  auto stream_a = a->stream;
  ASSERT_TRUE(s.submit(std::move(a)).ok());
  s.step();  // a's prefill (no decodes aboard: the whole prompt) and its first token
  auto b = request(prompt_b, 3, "b");
  auto stream_b = b->stream;
  ASSERT_TRUE(s.submit(std::move(b)).ok());
  // a has 3 tokens to go: three steps of a's decode + 16 of b's tokens, then a is done.
  for (int i = 0; i < 3; ++i) {
    s.step();
    EXPECT_EQ(s.stats().total_prompt_tokens, 205);
    EXPECT_EQ(s.stats().num_running_reqs, i < 2 ? 2 : 1) << "step " << i;
  }
  EXPECT_EQ(s.stats().total_generated_tokens, 4) << "a decoded in every step";
  // b has 200 - 48 = 152 prompt tokens left: chunks of 64, 64 and 24 with nothing else aboard.
  const int64_t steps = s.stats().total_forward_steps;
  std::optional<StepOutput> first_b;
  while (!first_b) {
    ASSERT_TRUE(s.step());
    first_b = stream_b->try_pop();
  }
  EXPECT_EQ(s.stats().total_forward_steps - steps, 3) << "whole chunks once a has finished";
  while (s.step()) {
  }
  expect_same_greedy(wait_for_result(*stream_a), alone_a, "a");
  GenerationResult got_b = wait_for_result(*stream_b);
  got_b.output_ids.insert(got_b.output_ids.begin(), first_b->new_token_ids.begin(),
                          first_b->new_token_ids.end());
  expect_same_greedy(got_b, alone_b, "b");
  expect_pool_full_after_flush(s);
}

void SchedulerTest::random_arrivals(SchedulerConfig config, size_t num_cases) {
  std::mt19937 rng(1234);
  struct Case {
    std::vector<int32_t> prompt;
    int64_t max_new;
    GenerationResult alone;
  };
  std::vector<Case> cases(num_cases);
  // Shared prefixes among some prompts, so the radix cache is exercised too.
  const std::vector<int32_t> system = random_prompt(rng, 40);
  for (auto& c : cases) {
    c.prompt = random_prompt(rng, 1 + static_cast<int64_t>(rng() % 150));
    if (rng() % 3 == 0) c.prompt.insert(c.prompt.begin(), system.begin(), system.end());
    c.max_new = 1 + static_cast<int64_t>(rng() % 24);
    c.alone = run_alone(request(c.prompt, c.max_new));
  }
  Scheduler s(*model_, nullptr, config);
  s.start();
  std::vector<std::shared_ptr<RequestStream>> streams(cases.size());
  std::thread submitter([&] {
    std::mt19937 r2(99);
    for (size_t i = 0; i < cases.size(); ++i) {
      auto req = request(cases[i].prompt, cases[i].max_new, "r" + std::to_string(i));
      streams[i] = req->stream;
      ASSERT_TRUE(s.submit(std::move(req)).ok());
      std::this_thread::sleep_for(std::chrono::microseconds(r2() % 20000));
    }
  });
  submitter.join();
  int64_t compared = 0, total = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    GenerationResult got = wait_for_result(*streams[i]);
    compared += expect_same_greedy(got, cases[i].alone, "request " + std::to_string(i));
    total += static_cast<int64_t>(cases[i].alone.output_ids.size());
    EXPECT_EQ(got.finish_reason.kind, cases[i].alone.finish_reason.kind);
    EXPECT_EQ(got.prompt_tokens, static_cast<int64_t>(cases[i].prompt.size()));
  }
  EXPECT_GE(compared, total * 9 / 10) << "too few decisions were clear enough to compare";
  s.stop();
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, SharedPrefixIsCachedAndGivesTheSameLogits) {
  std::mt19937 rng(5);
  const std::vector<int32_t> a = random_prompt(rng, 200);
  std::vector<int32_t> b(a.begin(), a.begin() + 150);
  const auto tail = random_prompt(rng, 30);
  b.insert(b.end(), tail.begin(), tail.end());

  Scheduler s(*model_, nullptr, config());
  auto ra = request(a, 4);
  auto sa = ra->stream;
  ASSERT_TRUE(s.submit(std::move(ra)).ok());
  while (s.step()) {
  }
  EXPECT_EQ(wait_for_result(*sa).cached_tokens, 0);

  auto rb = request(b, 6);
  rb->logprob.return_logprob = true;
  rb->logprob.top_logprobs_num = 5;
  auto sb = rb->stream;
  ASSERT_TRUE(s.submit(std::move(rb)).ok());
  while (s.step()) {
  }
  const GenerationResult cached = wait_for_result(*sb);
  EXPECT_EQ(cached.cached_tokens, 150);
  EXPECT_GE(s.stats().total_cached_tokens, 150);

  auto rb2 = request(b, 6);
  rb2->logprob.top_logprobs_num = 5;
  const GenerationResult fresh = run_alone(std::move(rb2));
  EXPECT_EQ(fresh.cached_tokens, 0);
  ASSERT_EQ(cached.output_ids, fresh.output_ids);
  for (size_t i = 0; i < cached.output_top_logprobs.size(); ++i) {
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(cached.output_top_logprobs[i][k].token_id,
                fresh.output_top_logprobs[i][k].token_id);
      EXPECT_NEAR(cached.output_top_logprobs[i][k].logprob, fresh.output_top_logprobs[i][k].logprob,
                  1e-4);
    }
  }
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, PageSizeFourCachesWholePages) {
  std::mt19937 rng(6);
  const std::vector<int32_t> a = random_prompt(rng, 50);
  std::vector<int32_t> b(a.begin(), a.begin() + 30);
  b.push_back(7);
  Scheduler s(*model_, nullptr, config(4096, 4));
  for (const std::vector<int32_t>* p : std::array<const std::vector<int32_t>*, 2>{&a, &b}) {
    auto r = request(*p, 3);
    auto st = r->stream;
    ASSERT_TRUE(s.submit(std::move(r)).ok());
    while (s.step()) {
    }
    const GenerationResult res = wait_for_result(*st);
    EXPECT_EQ(res.cached_tokens, p == &a ? 0 : 28) << "whole pages of the shared 30 tokens";
    expect_same_greedy(res, run_alone(request(*p, 3), config(4096, 4)), "page size 4");
  }
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, TinyPoolEvictsAndKeepsEveryAnswer) {
  std::mt19937 rng(8);
  const std::vector<int32_t> system = random_prompt(rng, 60);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 16; ++i) {
    auto p = system;
    auto tail = random_prompt(rng, 10 + static_cast<int64_t>(rng() % 40));
    p.insert(p.end(), tail.begin(), tail.end());
    prompts.push_back(p);
  }
  // References first: the model belongs to one scheduler at a time (its workspace is shared).
  std::vector<GenerationResult> alone;
  for (auto& p : prompts) alone.push_back(run_alone(request(p, 8)));
  Scheduler s(*model_, nullptr, config(400));
  s.start();
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (auto& p : prompts) {
    auto r = request(p, 8);
    streams.push_back(r->stream);
    ASSERT_TRUE(s.submit(std::move(r)).ok());
  }
  int64_t cached = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationResult got = wait_for_result(*streams[i]);
    cached += got.cached_tokens;
    expect_same_greedy(got, alone[i], "prompt " + std::to_string(i));
  }
  EXPECT_GT(cached, 0) << "the shared system prompt should be reused";
  s.stop();
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, RetractionFinishesEveryRequestCorrectly) {
  std::mt19937 rng(9);
  SchedulerConfig c = config(256);
  c.schedule_conservativeness = 0;  // admit everything at once; the pool runs out mid-decode
  Scheduler s(*model_, nullptr, c);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(random_prompt(rng, 30));
    auto r = request(prompts.back(), 40);
    r->params.ignore_eos = true;
    streams.push_back(r->stream);
    ASSERT_TRUE(s.submit(std::move(r)).ok());
  }
  while (s.step()) {
  }
  EXPECT_GT(s.stats().total_retractions, 0);
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationResult got = wait_for_result(*streams[i]);
    EXPECT_EQ(got.finish_reason.kind, FinishReason::Kind::kLength);
    auto ref = request(prompts[i], 40);
    ref->params.ignore_eos = true;
    expect_same_greedy(got, run_alone(std::move(ref)), "retracted " + std::to_string(i));
  }
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, AbortFreesPagesAndEndsTheStream) {
  std::mt19937 rng(10);
  Scheduler s(*model_, nullptr, config());
  auto r = request(random_prompt(rng, 20), 100);
  r->rid = "long";
  r->params.ignore_eos = true;
  auto st = r->stream;
  ASSERT_TRUE(s.submit(std::move(r)).ok());
  auto w = request(random_prompt(rng, 20), 5, "queued");
  auto sw = w->stream;
  for (int i = 0; i < 5; ++i) s.step();
  EXPECT_EQ(s.stats().num_running_reqs, 1);
  s.abort("long", "Abort by test.");
  s.step();
  GenerationResult res = wait_for_result(*st);
  EXPECT_EQ(res.finish_reason.kind, FinishReason::Kind::kAbort);
  EXPECT_EQ(res.finish_reason.message, "Abort by test.");
  EXPECT_LT(res.completion_tokens, 100);
  // A queued request aborted before it ever runs.
  ASSERT_TRUE(s.submit(std::move(w)).ok());
  s.abort("queued");
  s.step();
  EXPECT_EQ(wait_for_result(*sw).finish_reason.kind, FinishReason::Kind::kAbort);
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, FlushIsRefusedWhileBusy) {
  std::mt19937 rng(11);
  Scheduler s(*model_, nullptr, config());
  auto r = request(random_prompt(rng, 10), 20);
  auto st = r->stream;
  ASSERT_TRUE(s.submit(std::move(r)).ok());
  s.step();
  auto refused = s.flush_cache();
  s.step();
  EXPECT_FALSE(refused.get());
  while (s.step()) {
  }
  wait_for_result(*st);
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, StopTokensLengthAndMinNewTokens) {
  std::mt19937 rng(12);
  const auto prompt = random_prompt(rng, 12);
  const GenerationResult base = run_alone(request(prompt, 12));
  ASSERT_EQ(base.output_ids.size(), 12u);
  EXPECT_EQ(base.finish_reason.kind, FinishReason::Kind::kLength);
  EXPECT_EQ(base.finish_reason.length, 12);

  // stop_token_ids: generation ends at the first occurrence, the token included.
  const int32_t stop = base.output_ids[4];
  const auto first = std::find(base.output_ids.begin(), base.output_ids.end(), stop);
  auto r = request(prompt, 12);
  r->params.stop_token_ids = {stop};
  GenerationResult got = run_alone(std::move(r));
  EXPECT_EQ(got.finish_reason.kind, FinishReason::Kind::kStopToken);
  EXPECT_EQ(got.finish_reason.matched_token, stop);
  EXPECT_EQ(got.output_ids, std::vector<int32_t>(base.output_ids.begin(), first + 1));

  // ignore_eos also ignores stop_token_ids, as SGLang.
  r = request(prompt, 12);
  r->params.stop_token_ids = {stop};
  r->params.ignore_eos = true;
  EXPECT_EQ(run_alone(std::move(r)).output_ids, base.output_ids);

  // min_new_tokens: the stop token is masked until enough tokens exist.
  const int32_t first_tok = base.output_ids[0];
  r = request(prompt, 12);
  r->params.stop_token_ids = {first_tok};
  got = run_alone(std::move(r));
  EXPECT_EQ(got.output_ids.size(), 1u);
  r = request(prompt, 12);
  r->params.stop_token_ids = {first_tok};
  r->params.min_new_tokens = 3;
  got = run_alone(std::move(r));
  EXPECT_NE(got.output_ids[0], first_tok);
  EXPECT_GE(got.output_ids.size(), 3u);

  // max_new_tokens 0: the prompt is prefilled, nothing is generated.
  got = run_alone(request(prompt, 0));
  EXPECT_TRUE(got.output_ids.empty());
  EXPECT_EQ(got.finish_reason.kind, FinishReason::Kind::kLength);
}

TEST_F(SchedulerTest, StopStringsAcrossTokenBoundaries) {
  auto tok = Tokenizer::from_file(testing::asset_path("qwen3-tokenizer/tokenizer.json"));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const auto prompt = (*tok)->encode("The quick brown fox jumps over the lazy dog", false);
  // A seeded sampled run (the tiny random model repeats itself when greedy); the same seed gives
  // the same tokens again, so the stop run can be compared with it.
  auto make = [&] {
    auto r = request(prompt, 24);
    r->params = {};
    r->params.max_new_tokens = 24;
    r->params.sampling_seed = 3;
    r->params.apply_defaults();
    return r;
  };
  SchedulerConfig c = config();
  c.disable_radix_cache = true;
  const GenerationResult base = run_alone(make());
  ASSERT_EQ(base.output_ids.size(), 24u);
  // A stop string made of the last byte of token k-1's text and the first byte of token k's,
  // which does not occur before: only the boundary between the two tokens completes it.
  auto text = [&](size_t from, size_t to) {
    return (*tok)->decode(
        std::vector<int32_t>(base.output_ids.begin() + static_cast<std::ptrdiff_t>(from),
                             base.output_ids.begin() + static_cast<std::ptrdiff_t>(to)),
        false);
  };
  auto printable = [](char ch) { return ch > 32 && ch < 127; };
  std::string stop;
  size_t k = 1;
  for (; k < base.output_ids.size() && stop.empty(); ++k) {
    const std::string a = text(k - 1, k), b = text(k, k + 1);
    if (a.empty() || b.empty() || !printable(a.back()) || !printable(b.front())) continue;
    const std::string candidate = std::string(1, a.back()) + b.front();
    if (text(0, k).find(candidate) == std::string::npos) stop = candidate;
  }
  ASSERT_FALSE(stop.empty()) << "no token boundary made a fresh two-character stop string";
  Scheduler s(*model_, tok->get(), c);
  auto r = make();
  r->params.stop = {"never-appears", stop};
  r->params.normalize(tok->get());
  auto st = r->stream;
  ASSERT_TRUE(s.submit(std::move(r)).ok());
  while (s.step()) {
  }
  const GenerationResult got = wait_for_result(*st);
  EXPECT_EQ(got.finish_reason.kind, FinishReason::Kind::kStopString);
  EXPECT_EQ(got.finish_reason.matched_string, stop);
  EXPECT_EQ(got.output_ids,
            std::vector<int32_t>(base.output_ids.begin(),
                                 base.output_ids.begin() + static_cast<std::ptrdiff_t>(k)));
}

TEST_F(SchedulerTest, SeededSamplingRepeatsAndNSharesThePrefix) {
  std::mt19937 rng(13);
  const auto prompt = random_prompt(rng, 40);
  auto sampled = [&](uint64_t seed) {
    auto r = request(prompt, 10);
    r->params = {};
    r->params.max_new_tokens = 10;
    r->params.temperature = 1.5;
    r->params.sampling_seed = seed;
    r->params.apply_defaults();
    return run_alone(std::move(r)).output_ids;
  };
  EXPECT_EQ(sampled(7), sampled(7));
  EXPECT_NE(sampled(7), sampled(8));

  // n = 3 as three requests of one prefix group: the copies reuse the first one's prompt.
  Scheduler s(*model_, nullptr, config());
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 3; ++i) {
    auto r = request(prompt, 4, "n" + std::to_string(i));
    r->prefix_group = "group";
    streams.push_back(r->stream);
    ASSERT_TRUE(s.submit(std::move(r)).ok());
  }
  while (s.step()) {
  }
  std::vector<int64_t> cached;
  for (auto& st : streams) cached.push_back(wait_for_result(*st).cached_tokens);
  EXPECT_EQ(cached[0], 0);
  EXPECT_EQ(cached[1], 39);
  EXPECT_EQ(cached[2], 39);
}

// Issue 16: the n copies of one prompt hold one allocation of its tokens, queued and running
// alike, and the scheduler lets go of it when they finish (no per-copy duplication).
TEST_F(SchedulerTest, NCopiesShareOnePromptStorageThroughTheScheduler) {
  std::mt19937 rng(17);
  const SharedTokens prompt(random_prompt(rng, 300));
  const int32_t* storage = prompt.data();
  Scheduler s(*model_, nullptr, config());
  std::vector<std::shared_ptr<RequestStream>> streams;
  constexpr int kCopies = 8;
  for (int i = 0; i < kCopies; ++i) {
    auto r = request({}, 3, "copy" + std::to_string(i));
    r->prompt = prompt;
    r->prefix_group = "group";
    streams.push_back(r->stream);
    ASSERT_TRUE(s.submit(std::move(r)).ok());
  }
  // Ours plus one per queued copy: shared, not copied.
  EXPECT_EQ(prompt.storage().use_count(), kCopies + 1);
  ASSERT_TRUE(s.step());  // the first copy's prefill: the others wait, still sharing
  EXPECT_EQ(prompt.storage().use_count(), kCopies + 1);
  EXPECT_EQ(prompt.data(), storage);
  while (s.step()) {
  }
  for (auto& st : streams) EXPECT_EQ(wait_for_result(*st).prompt_tokens, 300);
  EXPECT_EQ(prompt.storage().use_count(), 1);
}

TEST_F(SchedulerTest, InputAndOutputLogprobsMatchAFullForward) {
  std::mt19937 rng(14);
  const auto prompt = random_prompt(rng, 25);
  auto r = request(prompt, 6);
  r->logprob.return_logprob = true;
  r->logprob.top_logprobs_num = 3;
  r->logprob.logprob_start_len = 0;
  Scheduler s(*model_, nullptr, config());
  auto st = r->stream;
  ASSERT_TRUE(s.submit(std::move(r)).ok());
  while (s.step()) {
  }
  const GenerationResult got = wait_for_result(*st);
  ASSERT_EQ(got.input_logprobs.size(), prompt.size());
  EXPECT_FALSE(got.input_logprobs[0].logprob.has_value()) << "the first token has no logprob";
  ASSERT_EQ(got.output_logprobs.size(), got.output_ids.size());

  // Reference: one forward over prompt + output with every position's logits.
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), got.output_ids.begin(), got.output_ids.end());
  PagePool pool(64, 1);
  KvCache kv(*backend_, model_->kv_cache_shape(), 64, 1);
  auto pages = pool.allocate(static_cast<int64_t>(all.size()));
  ForwardBatch batch;
  batch.add(all, 0, *pages, LogitsMode::kAll);
  auto logits = ModelRunner(*model_).forward(batch, kv);
  ASSERT_TRUE(logits.ok());
  const int64_t vocab = model_->config().vocab_size;
  std::vector<float> host(static_cast<size_t>(logits->numel()));
  backend_->copy_to_host(*logits, host.data());
  auto log_softmax_at = [&](size_t row, int32_t token) {
    const float* l = host.data() + row * static_cast<size_t>(vocab);
    double mx = *std::max_element(l, l + vocab), sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(l[i] - mx);
    return l[token] - mx - std::log(sum);
  };
  for (size_t j = 1; j < prompt.size(); ++j) {
    EXPECT_EQ(got.input_logprobs[j].token_id, prompt[j]);
    EXPECT_NEAR(*got.input_logprobs[j].logprob, log_softmax_at(j - 1, prompt[j]), 1e-3);
    ASSERT_EQ(got.input_logprobs[j].top.size(), 3u);
  }
  for (size_t i = 0; i < got.output_ids.size(); ++i) {
    EXPECT_EQ(got.output_logprobs[i].token_id, got.output_ids[i]);
    EXPECT_NEAR(got.output_logprobs[i].logprob,
                log_softmax_at(prompt.size() - 1 + i, got.output_ids[i]), 1e-3);
    EXPECT_EQ(got.output_top_logprobs[i][0].token_id, got.output_ids[i]) << "greedy";
  }

  // Default logprob_start_len: only the last prompt token.
  auto d = request(prompt, 2);
  d->logprob.return_logprob = true;
  const GenerationResult def = run_alone(std::move(d));
  ASSERT_EQ(def.input_logprobs.size(), 1u);
  EXPECT_EQ(def.input_logprobs[0].token_id, prompt.back());
  EXPECT_NEAR(*def.input_logprobs[0].logprob, log_softmax_at(prompt.size() - 2, prompt.back()),
              1e-3);
}

TEST_F(SchedulerTest, LpmAdmitsTheLongestCachedPrefixFirst) {
  std::mt19937 rng(15);
  const auto shared = random_prompt(rng, 60);
  for (SchedulePolicy policy : {SchedulePolicy::kFcfs, SchedulePolicy::kLpm}) {
    SchedulerConfig c = config();
    c.max_running_requests = 1;
    c.schedule_policy = policy;
    Scheduler s(*model_, nullptr, c);
    auto warm = request(shared, 1);
    auto sw = warm->stream;
    ASSERT_TRUE(s.submit(std::move(warm)).ok());
    while (s.step()) {
    }
    wait_for_result(*sw);
    auto blocker = request(random_prompt(rng, 5), 3);
    ASSERT_TRUE(s.submit(std::move(blocker)).ok());
    s.step();  // the blocker runs; the next two wait
    auto cold = request(random_prompt(rng, 30), 1);
    auto sc = cold->stream;
    auto hot = shared;
    hot.push_back(3);
    auto rh = request(hot, 1);
    auto sh = rh->stream;
    ASSERT_TRUE(s.submit(std::move(cold)).ok());
    ASSERT_TRUE(s.submit(std::move(rh)).ok());
    std::string first;
    while (first.empty() && s.step()) {
      if (auto o = sc->try_pop()) first = "cold";
      if (auto o = sh->try_pop(); o && first.empty()) first = "hot";
    }
    EXPECT_EQ(first, policy == SchedulePolicy::kLpm ? "hot" : "cold");
    while (s.step()) {
    }
  }
}

TEST_F(SchedulerTest, ValidationUsesSGLangsMessages) {
  SchedulerConfig c = config();
  c.context_length = 64;
  Scheduler s(*model_, nullptr, c);
  auto r = request(std::vector<int32_t>(64, 5), 1);
  Status st = s.submit(std::move(r));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "The input (64 tokens) is longer than the model's context length (64 tokens).");
  r = request(std::vector<int32_t>(40, 5), 30);
  st = s.submit(std::move(r));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("You requested a total of 70 tokens: 40 tokens from the input "
                                    "messages and 30 tokens for the completion."),
            std::string::npos);
  r = request({1, 2, 200000}, 1);
  EXPECT_FALSE(s.submit(std::move(r)).ok());
  r = request({}, 1);
  EXPECT_FALSE(s.submit(std::move(r)).ok());
  r = request({1, 2}, 1);
  r->params.top_p = 0;
  st = s.submit(std::move(r));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "top_p must be in (0, 1], got 0.0.");
}

TEST_F(SchedulerTest, QueueIsBoundedWithSGLangsError) {
  // As SGLang's _abort_on_queued_limit: waiting requests beyond --max-queued-requests are refused
  // ("The request queue is full.", a 503), running ones do not count.
  SchedulerConfig c = config();
  c.max_queued_requests = 3;
  c.max_running_requests = 1;
  Scheduler s(*model_, nullptr, c);
  EXPECT_EQ(s.max_queued_requests(), 3);
  EXPECT_TRUE(s.check_queue_room(3).ok());
  Status big = s.check_queue_room(4);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(big.error().message, "The request queue is full.");
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 3; ++i) {
    auto r = request({1, 2, 3}, 50);
    r->params.ignore_eos = true;
    streams.push_back(r->stream);
    ASSERT_TRUE(s.submit(std::move(r)).ok());
  }
  Status full = s.submit(request({1, 2, 3}, 1));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  s.step();  // one of the three runs now: one place in the queue is free again
  EXPECT_TRUE(s.check_queue_room(1).ok());
  EXPECT_FALSE(s.check_queue_room(2).ok());
  // A health check is never refused for a full queue, and with work in the engine it is
  // answered at once without a forward of its own (SGLang's handle_generate_request).
  auto extra = request({1, 2, 3}, 50);
  streams.push_back(extra->stream);
  ASSERT_TRUE(s.submit(std::move(extra)).ok());
  auto health = request({0}, 1, std::string(kHealthCheckRidPrefix) + "x");
  auto hs = health->stream;
  ASSERT_TRUE(s.submit(std::move(health)).ok());
  s.step();
  GenerationResult h = wait_for_result(*hs);
  EXPECT_NE(h.finish_reason.kind, FinishReason::Kind::kAbort);
  EXPECT_EQ(h.completion_tokens, 0);
  EXPECT_TRUE(s.health().busy);
  s.abort_all("done");
  while (s.step()) {
  }
  for (auto& st : streams) wait_for_result(*st);
  EXPECT_TRUE(s.check_queue_room(3).ok());
  expect_pool_full_after_flush(s);
}

TEST_F(SchedulerTest, PromptThePoolCanNeverHoldIsRefused) {
  // As SGLang's validate_input_length: max_req_input_len = min(context, pool) - 1.
  Scheduler s(*model_, nullptr, config(64));
  Status st = s.submit(request(std::vector<int32_t>(63, 5), 0));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "Input length (63 tokens) exceeds the maximum allowed length (63 tokens). Use a "
            "shorter input or enable --allow-auto-truncate.");
  EXPECT_TRUE(s.submit(request(std::vector<int32_t>(62, 5), 1)).ok());
}

}  // namespace
}  // namespace sglang
