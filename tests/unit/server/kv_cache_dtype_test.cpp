// --kv-cache-dtype: SGLang's values that a CPU cache can hold are accepted, its fp8/fp4 values are
// refused at start with a message that says why, and auto resolves to the model's dtype.
#include <gtest/gtest.h>

#include "test_support.h"

namespace sglang {
namespace {

Result<ServerArgs> parse(const std::string& kv_cache_dtype) {
  return testing::parse_server_flags("--kv-cache-dtype " + kv_cache_dtype);
}

TEST(KvCacheDtypeTest, SglangChoicesTheCpuStoresAreAccepted) {
  for (const char* v : {"auto", "bf16", "bfloat16", "fp16", "float16", "fp32", "float32"}) {
    auto a = parse(v);
    ASSERT_TRUE(a.ok()) << v;
    EXPECT_EQ(a->kv_cache_dtype, v);
    // /server_info shows the flag as given, as SGLang's server_args do.
    EXPECT_EQ(a->to_json().at("kv_cache_dtype"), v);
  }
}

TEST(KvCacheDtypeTest, Fp8AndFp4AreRefusedWithAReason) {
  for (const char* v : {"fp8_e5m2", "fp8_e4m3", "fp4_e2m1"}) {
    auto a = parse(v);
    ASSERT_FALSE(a.ok()) << v;
    EXPECT_EQ(a.error().code, ErrorCode::kUnsupported);
    EXPECT_NE(a.error().message.find("not supported by the CPU backend"), std::string::npos);
  }
  auto bad = parse("int4");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST(KvCacheDtypeTest, AutoIsTheModelsDtype) {
  // --dtype given: that.
  EXPECT_EQ(resolve_kv_cache_dtype("auto", DType::kF32, true, "bfloat16"), DType::kF32);
  // A GGUF file's weights are held in bfloat16.
  EXPECT_EQ(resolve_kv_cache_dtype("auto", std::nullopt, true, "float32"), DType::kBF16);
  // A checkpoint keeps its torch_dtype.
  EXPECT_EQ(resolve_kv_cache_dtype("auto", std::nullopt, false, "bfloat16"), DType::kBF16);
  EXPECT_EQ(resolve_kv_cache_dtype("auto", std::nullopt, false, "float16"), DType::kF16);
  EXPECT_EQ(resolve_kv_cache_dtype("auto", std::nullopt, false, "float32"), DType::kF32);
  // An explicit value wins over the model.
  EXPECT_EQ(resolve_kv_cache_dtype("bfloat16", DType::kF32, false, "float32"), DType::kBF16);
  // An encoder keeps float32 under auto whatever its weights; an explicit choice still applies.
  EXPECT_EQ(resolve_kv_cache_dtype("auto", DType::kBF16, false, "bfloat16", false), DType::kF32);
  EXPECT_EQ(resolve_kv_cache_dtype("bf16", std::nullopt, false, "bfloat16", false), DType::kBF16);
  EXPECT_EQ(resolve_kv_cache_dtype("fp16", std::nullopt, true, "float32"), DType::kF16);
  EXPECT_EQ(resolve_kv_cache_dtype("float32", DType::kBF16, true, "bfloat16"), DType::kF32);
}

}  // namespace
}  // namespace sglang
