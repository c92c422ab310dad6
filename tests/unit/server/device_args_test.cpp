// --device and SGLang's CUDA graph / overlap flags: cuda and cpu are accepted (empty: chosen at
// start by main.cpp), other devices are refused, and graph batch sizes this server cannot honour
// (no graphs are captured yet) are a start error unless --disable-cuda-graph is given.
#include <gtest/gtest.h>

#include "test_support.h"

namespace sglang {
namespace {

TEST(DeviceArgsTest, CudaAndCpuAreAcceptedOthersRefused) {
  auto none = testing::parse_server_flags("");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->device, "");  // main.cpp picks cuda when a GPU is visible, else cpu
  for (const char* d : {"cuda", "cpu"}) {
    auto a = testing::parse_server_flags(std::string("--device ") + d);
    ASSERT_TRUE(a.ok()) << d;
    EXPECT_EQ(a->device, d);
  }
  auto npu = testing::parse_server_flags("--device npu --base-gpu-id 1");
  ASSERT_FALSE(npu.ok());
  EXPECT_EQ(npu.error().code, ErrorCode::kUnsupported);
  auto gpu = testing::parse_server_flags("--device cuda --base-gpu-id 1");
  ASSERT_TRUE(gpu.ok());
  EXPECT_EQ(gpu->base_gpu_id, 1);
}

TEST(DeviceArgsTest, GraphBatchSizesAreRefusedUnlessGraphsAreDisabled) {
  for (const char* flags : {"--cuda-graph-bs 1 2 4 8", "--cuda-graph-max-bs 64"}) {
    auto a = testing::parse_server_flags(flags);
    ASSERT_FALSE(a.ok()) << flags;
    EXPECT_EQ(a.error().code, ErrorCode::kUnsupported);
    EXPECT_NE(a.error().message.find("captures no CUDA graphs"), std::string::npos);
  }
  auto off = testing::parse_server_flags(
      "--cuda-graph-bs 1 2 4 --disable-cuda-graph --disable-overlap-schedule");
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_EQ(off->cuda_graph_bs, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_TRUE(off->disable_cuda_graph);
  EXPECT_TRUE(off->disable_overlap_schedule);
  EXPECT_EQ(off->to_json().at("cuda_graph_bs"), nlohmann::ordered_json({1, 2, 4}));
  auto bad = testing::parse_server_flags("--cuda-graph-bs 1 x --disable-cuda-graph");
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace sglang
