#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "model/safetensors_writer.h"
#include "model/weight_store.h"
#include "test_support.h"
#include "util/half.h"

namespace sglang {
namespace {

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A file with one F32 [2, 3] tensor "a" and one BF16 [4] tensor "b"; returns its path.
std::string write_sample(const std::string& dir) {
  SafetensorsWriter w;
  w.add("a", DType::kF32, {2, 3}, bytes_of({1, 2, 3, 4, 5, 6}));
  std::vector<uint8_t> b(8);
  const uint16_t vals[4] = {f32_to_bf16(1.5f), f32_to_bf16(-2.0f), f32_to_bf16(0.25f),
                            f32_to_bf16(8.0f)};
  std::memcpy(b.data(), vals, 8);
  w.add("b", DType::kBF16, {4}, b);
  w.set_metadata("format", "pt");
  const std::string path = dir + "/model.safetensors";
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(Safetensors, RoundTrip) {
  const auto dir = testing::scratch_dir("st-roundtrip");
  auto f = SafetensorsFile::open(write_sample(dir));
  ASSERT_TRUE(f.ok()) << f.error().message;
  auto a = (*f)->get("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(static_cast<const float*>(a->data)[5], 6.0f);
  auto b = (*f)->get("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(bf16_to_f32(static_cast<const uint16_t*>(b->data)[1]), -2.0f);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  auto missing = (*f)->get("zzz");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("zzz"), std::string::npos);
}

TEST(Safetensors, TruncatedFileIsAnErrorNotACrash) {
  const auto dir = testing::scratch_dir("st-trunc");
  const std::string path = write_sample(dir);
  const std::string full = read_all(path);
  // Every possible truncation point must give an error (or, at full length, success).
  for (size_t len = 0; len < full.size(); len += 3) {
    write_all(path, full.substr(0, len));
    auto f = SafetensorsFile::open(path);
    EXPECT_FALSE(f.ok()) << "length " << len;
    if (!f.ok()) {
      EXPECT_NE(f.error().message.find(path), std::string::npos);
    }
  }
}

TEST(Safetensors, CorruptHeadersAreErrors) {
  const auto dir = testing::scratch_dir("st-corrupt");
  const std::string path = dir + "/x.safetensors";
  auto make = [&](const std::string& header, size_t data_bytes) {
    std::string s(8, '\0');
    uint64_t n = header.size();
    std::memcpy(s.data(), &n, 8);
    s += header + std::string(data_bytes, '\0');
    write_all(path, s);
    return SafetensorsFile::open(path);
  };
  EXPECT_FALSE(make("{not json", 0).ok());
  EXPECT_FALSE(make(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}})", 8).ok())
      << "size does not match shape";
  EXPECT_FALSE(make(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4).ok())
      << "data beyond the end";
  EXPECT_FALSE(make(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8).ok());
  EXPECT_FALSE(make(R"({"t": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})", 8).ok());
  EXPECT_FALSE(make(R"({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8).ok());
  EXPECT_FALSE(make(R"({"t": {"dtype": "F32"}})", 8).ok());
  EXPECT_TRUE(make(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8).ok());
  // A header length beyond the file.
  std::string s(8, '\0');
  uint64_t huge = 1ull << 40;
  std::memcpy(s.data(), &huge, 8);
  write_all(path, s + "{}");
  EXPECT_FALSE(SafetensorsFile::open(path).ok());
  EXPECT_FALSE(SafetensorsFile::open(dir + "/does-not-exist.safetensors").ok());
}

TEST(WeightStore, SingleFileWithAndWithoutModelPrefix) {
  const auto dir = testing::scratch_dir("ws-single");
  SafetensorsWriter w;
  w.add("model.embed_tokens.weight", DType::kF32, {2, 2}, bytes_of({1, 2, 3, 4}));
  w.add("norm.weight", DType::kF32, {2}, bytes_of({1, 1}));
  ASSERT_TRUE(w.write(dir + "/model.safetensors").ok());
  auto store = WeightStore::open(dir);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE((*store)->get("model.embed_tokens.weight", {2, 2}).ok());
  EXPECT_TRUE((*store)->get("embed_tokens.weight", {2, 2}).ok());
  EXPECT_TRUE((*store)->get("model.norm.weight", {2}).ok());
  auto bad_shape = (*store)->get("model.norm.weight", {3});
  ASSERT_FALSE(bad_shape.ok());
  EXPECT_NE(bad_shape.error().message.find("[2]"), std::string::npos);
  EXPECT_NE(bad_shape.error().message.find("[3]"), std::string::npos);
  auto missing = (*store)->get("lm_head.weight", {2, 2});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("lm_head.weight"), std::string::npos);
}

TEST(WeightStore, ShardedIndex) {
  const auto dir = testing::scratch_dir("ws-sharded");
  SafetensorsWriter a, b;
  a.add("model.x", DType::kF32, {1}, bytes_of({7}));
  b.add("lm_head.weight", DType::kF32, {1}, bytes_of({9}));
  ASSERT_TRUE(a.write(dir + "/model-00001-of-00002.safetensors").ok());
  ASSERT_TRUE(b.write(dir + "/model-00002-of-00002.safetensors").ok());
  write_all(dir + "/model.safetensors.index.json",
            R"({"metadata": {}, "weight_map": {"model.x": "model-00001-of-00002.safetensors",
                "lm_head.weight": "model-00002-of-00002.safetensors"}})");
  auto store = WeightStore::open(dir);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto x = (*store)->get("model.x", {1});
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(static_cast<const float*>(x->data)[0], 7.0f);
  auto head = (*store)->get("lm_head.weight", {1});
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(static_cast<const float*>(head->data)[0], 9.0f);
  // An index naming a missing shard is an error that names it.
  write_all(dir + "/model.safetensors.index.json",
            R"({"weight_map": {"model.x": "model-00003-of-00002.safetensors"}})");
  auto broken = WeightStore::open(dir);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("model-00003-of-00002"), std::string::npos);
}

TEST(WeightStore, EmptyDirectoryIsAnError) {
  auto store = WeightStore::open(testing::scratch_dir("ws-empty"));
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("safetensors"), std::string::npos);
}

}  // namespace
}  // namespace sglang
