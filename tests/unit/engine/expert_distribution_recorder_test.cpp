// The expert distribution recorder on its own, fed by hand: what each mode writes, when passes
// count (recording on from a pass's first hook to its last, no start or dump in between), the
// stat buffer, the dump file, and control calls racing a forward thread.
#include "engine/expert_distribution_recorder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "test_support.h"

namespace sglang {
namespace {

ExpertRecorderOptions options(ExpertRecorderMode mode, int64_t buffer_size = 1000) {
  ExpertRecorderOptions o;
  o.mode = mode;
  o.num_layers = 3;
  o.num_experts = 4;
  o.buffer_size = buffer_size;
  return o;
}

ForwardBatch batch_of(std::vector<int32_t> tokens, int64_t prefix_len = 0) {
  ForwardBatch b;
  std::vector<int32_t> pages(64);
  b.add(tokens, prefix_len, pages);
  return b;
}

// One forward pass of `tokens` (a single sequence after `prefix_len` cached tokens) where MoE
// layers 0 and 2 route each token to the given top-2 experts.
void pass(ExpertDistributionRecorder& r, const std::vector<int32_t>& tokens,
          const std::vector<int32_t>& layer0, const std::vector<int32_t>& layer2,
          int64_t prefix_len = 0) {
  const ForwardBatch b = batch_of(tokens, prefix_len);
  r.on_forward_begin(b);
  const auto t = static_cast<int64_t>(tokens.size());
  r.on_select_experts(0, layer0.data(), t, 2);
  r.on_select_experts(2, layer2.data(), t, 2);
  r.on_forward_end();
}

TEST(ExpertRecorderModeTest, ParsesSGLangModes) {
  EXPECT_EQ(*parse_expert_recorder_mode("stat"), ExpertRecorderMode::kStat);
  EXPECT_EQ(*parse_expert_recorder_mode("per_pass"), ExpertRecorderMode::kPerPass);
  EXPECT_EQ(*parse_expert_recorder_mode("per_token"), ExpertRecorderMode::kPerToken);
  auto approx = parse_expert_recorder_mode("stat_approx");
  ASSERT_FALSE(approx.ok());
  EXPECT_NE(approx.error().message.find("DeepEP"), std::string::npos);
  auto bogus = parse_expert_recorder_mode("stats");
  ASSERT_FALSE(bogus.ok());
  EXPECT_NE(bogus.error().message.find("stat, stat_approx, per_pass, per_token"),
            std::string::npos);
}

TEST(ExpertRecorderTest, StatCountsSelectionsInTheOrderExpertsWereFirstChosen) {
  ExpertDistributionRecorder r(options(ExpertRecorderMode::kStat));
  EXPECT_FALSE(r.recording());
  pass(r, {5, 6}, {1, 2, 2, 3}, {0, 1, 0, 1});  // not recording: ignored
  r.start_record();
  EXPECT_TRUE(r.recording());
  pass(r, {5, 6, 7}, {3, 1, 1, 2, 3, 0}, {0, 1, 0, 1, 1, 0});
  pass(r, {8}, {2, 0}, {3, 2});
  r.stop_record();
  pass(r, {9}, {1, 2}, {1, 2});  // stopped: ignored
  // SGLang's first recorder's CSV: per layer, experts in first-chosen order, never-chosen ones out.
  EXPECT_EQ(r.render(),
            "layer_id,expert_id,count\n"
            "0,3,2\n0,1,2\n0,2,2\n0,0,2\n"
            "2,0,3\n2,1,3\n2,3,1\n2,2,1\n");
}

TEST(ExpertRecorderTest, StartClearsAndDumpWritesTheFileAndStartsOver) {
  ExpertRecorderOptions o = options(ExpertRecorderMode::kStat);
  o.dir = testing::scratch_dir("expert-recorder") + "/nested";  // created on dump
  ExpertDistributionRecorder r(o);
  r.start_record();
  pass(r, {1}, {0, 1}, {2, 3});
  r.start_record();  // again: clears (with SGLang's warning)
  pass(r, {1}, {1, 2}, {2, 3});
  auto path = r.dump_record();
  ASSERT_TRUE(path.ok()) << path.error().message;
  const std::filesystem::path p(*path);
  EXPECT_EQ(p.parent_path(), std::filesystem::path(o.dir));
  EXPECT_EQ(p.filename().string().rfind("expert_distribution_recorder_", 0), 0u);
  EXPECT_EQ(p.extension(), ".csv");
  std::ifstream in(p);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "layer_id,expert_id,count\n0,1,1\n0,2,1\n2,2,1\n2,3,1\n");
  // The record starts over; recording goes on (SGLang's dump does not stop it).
  EXPECT_TRUE(r.recording());
  EXPECT_EQ(r.render(), "layer_id,expert_id,count\n");
  pass(r, {1}, {0, 3}, {0, 3});
  EXPECT_EQ(r.render(), "layer_id,expert_id,count\n0,0,1\n0,3,1\n2,0,1\n2,3,1\n");
}

TEST(ExpertRecorderTest, DumpIntoAnUnwritableDirectoryIsAnError) {
  ExpertRecorderOptions o = options(ExpertRecorderMode::kStat);
  o.dir = "/proc/no-such-dir";
  ExpertDistributionRecorder r(o);
  auto path = r.dump_record();
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.error().message.find("cannot write"), std::string::npos);
}

TEST(ExpertRecorderTest, APassCountsOnlyIfRecordingCoversItWhole) {
  ExpertDistributionRecorder r(options(ExpertRecorderMode::kStat));
  const std::vector<int32_t> ids = {0, 1};
  // Recording starts in the middle of a pass: that pass does not count.
  r.on_forward_begin(batch_of({1}));
  r.start_record();
  r.on_select_experts(0, ids.data(), 1, 2);
  r.on_forward_end();
  EXPECT_EQ(r.render(), "layer_id,expert_id,count\n");
  // A dump in the middle of a pass: the pass belongs to neither dump.
  r.on_forward_begin(batch_of({1}));
  r.on_select_experts(0, ids.data(), 1, 2);
  ASSERT_TRUE(r.dump_record().ok());
  r.on_forward_end();
  EXPECT_EQ(r.render(), "layer_id,expert_id,count\n");
  // Stopped in the middle: not counted.
  r.on_forward_begin(batch_of({1}));
  r.on_select_experts(0, ids.data(), 1, 2);
  r.stop_record();
  r.on_forward_end();
  EXPECT_EQ(r.render(), "layer_id,expert_id,count\n");
}

TEST(ExpertRecorderTest, StatKeepsTheLastBufferSizePasses) {
  ExpertDistributionRecorder r(options(ExpertRecorderMode::kStat, /*buffer_size=*/2));
  r.start_record();
  pass(r, {1}, {0, 1}, {0, 1});
  pass(r, {1}, {2, 1}, {0, 1});
  pass(r, {1}, {3, 1}, {0, 1});  // pushes the first pass out
  EXPECT_EQ(r.render(), "layer_id,expert_id,count\n0,1,2\n0,2,1\n0,3,1\n2,0,2\n2,1,2\n");

  ExpertDistributionRecorder all(options(ExpertRecorderMode::kStat, /*buffer_size=*/-1));
  all.start_record();
  for (int i = 0; i < 1500; ++i) pass(all, {1}, {0, 1}, {2, 3});
  EXPECT_EQ(all.render(), "layer_id,expert_id,count\n0,0,1500\n0,1,1500\n2,2,1500\n2,3,1500\n");
}

TEST(ExpertRecorderTest, PerPassWritesEachPassesCounts) {
  ExpertDistributionRecorder r(options(ExpertRecorderMode::kPerPass));
  pass(r, {1}, {0, 1}, {0, 1});  // pass 1, not recorded
  r.start_record();
  pass(r, {5, 6}, {3, 1, 1, 2}, {0, 1, 0, 1});
  pass(r, {7}, {2, 0}, {3, 2});
  EXPECT_EQ(r.render(),
            "forward_pass_id,layer_id,expert_id,count\n"
            "2,0,1,2\n2,0,2,1\n2,0,3,1\n2,2,0,2\n2,2,1,2\n"
            "3,0,0,1\n3,0,2,1\n3,2,2,1\n3,2,3,1\n");
}

TEST(ExpertRecorderTest, PerTokenWritesEveryTokensChoices) {
  ExpertDistributionRecorder r(options(ExpertRecorderMode::kPerToken));
  r.start_record();
  pass(r, {11, 12}, {3, 1, 1, 2}, {0, 1, 0, 3}, /*prefix_len=*/4);
  EXPECT_EQ(r.render(),
            "forward_pass_id,token_index,input_id,position,layer_id,expert_0,expert_1\n"
            "1,0,11,4,0,3,1\n1,0,11,4,2,0,1\n"
            "1,1,12,5,0,1,2\n1,1,12,5,2,0,3\n");
}

TEST(ExpertRecorderTest, MetricsModeRecordsFromTheStart) {
  ExpertRecorderOptions o = options(ExpertRecorderMode::kStat);
  o.log_metrics = true;
  ExpertDistributionRecorder r(o);
  EXPECT_TRUE(r.recording());
  pass(r, {1}, {0, 1}, {0, 1});
  EXPECT_EQ(r.render(), "layer_id,expert_id,count\n0,0,1\n0,1,1\n2,0,1\n2,1,1\n");
}

// Parses a stat CSV into per-layer sums.
std::map<int64_t, int64_t> layer_sums(const std::string& csv) {
  std::map<int64_t, int64_t> sums;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    int64_t layer = 0, expert = 0, count = 0;
    char c1 = 0, c2 = 0;
    std::istringstream row(line);
    row >> layer >> c1 >> expert >> c2 >> count;
    sums[layer] += count;
  }
  return sums;
}

TEST(ExpertRecorderTest, ControlCallsFromAnotherThreadNeverSplitAPass) {
  ExpertRecorderOptions o = options(ExpertRecorderMode::kStat, -1);
  o.dir = testing::scratch_dir("expert-recorder-race");
  ExpertDistributionRecorder r(o);
  constexpr int64_t kTokens = 5;
  const std::vector<int32_t> tokens(kTokens, 1);
  std::vector<int32_t> ids;
  for (int64_t t = 0; t < kTokens; ++t)
    ids.insert(ids.end(), {int32_t(t % 4), int32_t((t + 1) % 4)});
  std::atomic<bool> done{false};
  std::thread forward([&] {
    for (int i = 0; i < 20000; ++i) pass(r, tokens, ids, ids);
    done = true;
  });
  int dumps = 0;
  while (!done) {
    r.start_record();
    std::this_thread::yield();
    const std::string text = r.render();
    for (const auto& [layer, sum] : layer_sums(text)) {
      ASSERT_EQ(sum % (kTokens * 2), 0) << "a partial pass in layer " << layer;
    }
    // Both MoE layers always come from the same passes.
    const auto sums = layer_sums(text);
    if (!sums.empty()) {
      ASSERT_EQ(sums.at(0), sums.at(2));
    }
    r.stop_record();
    auto path = r.dump_record();
    ASSERT_TRUE(path.ok());
    std::filesystem::remove(*path);
    ++dumps;
  }
  forward.join();
  EXPECT_GT(dumps, 0);
}

}  // namespace
}  // namespace sglang
