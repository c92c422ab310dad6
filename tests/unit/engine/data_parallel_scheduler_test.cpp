// --dp-size's dispatcher: round robin and shortest-queue dispatch, a full replica passing its
// request on, aborts reaching every replica, and statistics summed over the replicas (SGLang's
// data_parallel_controller). The replicas are stepped by hand, so they may share one model.
#include "engine/data_parallel_scheduler.h"

#include <gtest/gtest.h>

#include "kernels/cpu/cpu_backend.h"
#include "test_support.h"

namespace sglang {
namespace {

class DataParallelSchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = new CpuBackend(1);
    auto model = load_causal_lm(testing::tiny_checkpoint("qwen2", 1), *backend_);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = model->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete backend_;
  }

  static std::unique_ptr<DataParallelScheduler> make(size_t n, LoadBalanceMethod m,
                                                     int64_t max_queued = 0) {
    SchedulerConfig c;
    c.max_total_tokens = 4096;
    c.pool_shares = static_cast<int64_t>(n);
    c.max_queued_requests = max_queued;
    std::vector<std::unique_ptr<Scheduler>> rs;
    for (size_t i = 0; i < n; ++i) rs.push_back(std::make_unique<Scheduler>(*model_, nullptr, c));
    return std::make_unique<DataParallelScheduler>(std::move(rs), m);
  }

  static std::unique_ptr<Request> request(const std::string& rid, int64_t max_new = 3) {
    auto r = std::make_unique<Request>();
    r->rid = rid;
    r->prompt = {1, 2, 3, 4, 5};
    r->params.max_new_tokens = max_new;
    r->params.temperature = 0;
    r->params.apply_defaults();
    r->stream = std::make_shared<RequestStream>();
    return r;
  }

  static void run_all(DataParallelScheduler& dp) {
    for (bool any = true; any;) {
      any = false;
      for (size_t i = 0; i < dp.size(); ++i) any = dp.replica(i).step() || any;
    }
  }

  static CpuBackend* backend_;
  static CausalLM* model_;
};

CpuBackend* DataParallelSchedulerTest::backend_ = nullptr;
CausalLM* DataParallelSchedulerTest::model_ = nullptr;

TEST_F(DataParallelSchedulerTest, RoundRobinSpreadsAndSumsTheReplicas) {
  auto dp = make(2, LoadBalanceMethod::kRoundRobin);
  EXPECT_EQ(dp->max_total_tokens(), 4096);  // the pool split, not doubled
  EXPECT_EQ(dp->replica(1).max_total_tokens(), 2048);
  std::vector<std::shared_ptr<RequestStream>> streams;
  std::vector<int64_t> ranks;
  for (int i = 0; i < 4; ++i) {
    auto r = request("r" + std::to_string(i));
    streams.push_back(r->stream);
    ASSERT_TRUE(dp->submit(std::move(r)).ok());
    ranks.push_back(dp->last_dispatched());
  }
  EXPECT_EQ(ranks, (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(dp->replica(0).num_live(), 2);
  EXPECT_EQ(dp->replica(1).num_live(), 2);
  run_all(*dp);
  for (auto& s : streams) EXPECT_EQ(wait_for_result(*s).completion_tokens, 3);
  const SchedulerStats total = dp->stats();
  EXPECT_EQ(total.total_finished_reqs, 4);
  EXPECT_EQ(total.max_total_num_tokens, 4096);
  const auto per = dp->replica_stats();
  ASSERT_EQ(per.size(), 2u);
  EXPECT_EQ(per[0].total_finished_reqs, 2);
  EXPECT_EQ(per[1].total_finished_reqs, 2);

  auto flushed = dp->flush_cache();
  run_all(*dp);
  EXPECT_TRUE(flushed.get());
  for (const auto& st : dp->replica_stats()) EXPECT_EQ(st.num_cached_pages, 0);
}

TEST_F(DataParallelSchedulerTest, ShortestQueueAndAFullReplicaPassItOn) {
  auto dp = make(2, LoadBalanceMethod::kShortestQueue, /*max_queued=*/2);
  ASSERT_TRUE(dp->submit(request("a")).ok());
  ASSERT_TRUE(dp->submit(request("b")).ok());
  EXPECT_EQ(dp->replica(0).num_live(), 1);
  EXPECT_EQ(dp->replica(1).num_live(), 1);
  // Equal loads alternate; the queues (2 each) then fill up and the server refuses the next.
  ASSERT_TRUE(dp->submit(request("c")).ok());
  ASSERT_TRUE(dp->submit(request("d")).ok());
  EXPECT_EQ(dp->replica(0).num_live(), 2);
  EXPECT_EQ(dp->replica(1).num_live(), 2);
  EXPECT_TRUE(dp->check_queue_room(0).ok());
  EXPECT_FALSE(dp->check_queue_room(1).ok());
  EXPECT_EQ(dp->submit(request("e")).error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(dp->max_queued_requests(), 4);
  run_all(*dp);
}

TEST_F(DataParallelSchedulerTest, AbortReachesTheReplicaThatHoldsTheRequest) {
  auto dp = make(2, LoadBalanceMethod::kRoundRobin);
  auto a = request("a", 100);
  auto b = request("b", 100);
  auto sa = a->stream, sb = b->stream;
  ASSERT_TRUE(dp->submit(std::move(a)).ok());
  ASSERT_TRUE(dp->submit(std::move(b)).ok());
  dp->abort("b");
  run_all(*dp);
  EXPECT_EQ(wait_for_result(*sb).finish_reason.kind, FinishReason::Kind::kAbort);
  EXPECT_EQ(wait_for_result(*sa).completion_tokens, 100);
}

TEST(LoadBalanceMethodTest, SGLangsNamesAndTheRefusedOnes) {
  EXPECT_EQ(*parse_load_balance_method("round_robin"), LoadBalanceMethod::kRoundRobin);
  EXPECT_EQ(*parse_load_balance_method("shortest_queue"), LoadBalanceMethod::kShortestQueue);
  EXPECT_EQ(*parse_load_balance_method("minimum_tokens"), LoadBalanceMethod::kMinimumTokens);
  EXPECT_EQ(parse_load_balance_method("follow_bootstrap_room").error().code,
            ErrorCode::kUnsupported);
  EXPECT_EQ(parse_load_balance_method("nope").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace sglang
