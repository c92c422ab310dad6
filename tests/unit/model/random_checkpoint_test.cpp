#include "model/random_checkpoint.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <filesystem>
#include <fstream>

#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/model_config.h"
#include "test_support.h"

namespace sglang {
namespace {

// The fingerprint of `make-checkpoint --tiny --arch qwen2 --seed 1`'s model.safetensors. The
// generator uses only integer and exactly-rounded float arithmetic, so this holds on every machine;
// a change here means every golden file must be regenerated (tools/make_golden.py).
constexpr uint64_t kTinyQwen2Seed1Fingerprint = 4750321467028988747ull;

TEST(RandomCheckpoint, TinyQwen2IsBitIdenticalEverywhere) {
  const std::string dir = testing::tiny_checkpoint("qwen2", 1);
  auto fp = file_fingerprint(dir + "/model.safetensors");
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(*fp, kTinyQwen2Seed1Fingerprint) << std::hex << *fp;
}

TEST(RandomCheckpoint, IndependentOfThreadCountAndSeeded) {
  auto spec = checkpoint_spec_tiny("llama");
  ASSERT_TRUE(spec.ok());
  const std::string a = testing::scratch_dir("ckpt-a"), b = testing::scratch_dir("ckpt-b"),
                    c = testing::scratch_dir("ckpt-c");
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  ASSERT_TRUE(write_random_checkpoint(*spec, 5, a).ok());
  omp_set_num_threads(std::max(2, threads));
  ASSERT_TRUE(write_random_checkpoint(*spec, 5, b).ok());
  ASSERT_TRUE(write_random_checkpoint(*spec, 6, c).ok());
  omp_set_num_threads(threads);
  EXPECT_EQ(*file_fingerprint(a + "/model.safetensors"),
            *file_fingerprint(b + "/model.safetensors"));
  EXPECT_NE(*file_fingerprint(a + "/model.safetensors"),
            *file_fingerprint(c + "/model.safetensors"));
}

TEST(RandomCheckpoint, RealShapesHaveRealConfigValues) {
  auto qwen = checkpoint_spec_like("qwen2.5-0.5b");
  ASSERT_TRUE(qwen.ok());
  EXPECT_EQ(qwen->hidden_size, 896);
  EXPECT_EQ(qwen->num_layers, 24);
  EXPECT_EQ(qwen->num_heads, 14);
  EXPECT_EQ(qwen->num_kv_heads, 2);
  EXPECT_EQ(qwen->intermediate_size, 4864);
  EXPECT_EQ(qwen->vocab_size, 151936);
  auto llama = checkpoint_spec_like("llama-3.2-1b");
  ASSERT_TRUE(llama.ok());
  EXPECT_EQ(llama->hidden_size, 2048);
  EXPECT_EQ(llama->vocab_size, 128256);
  EXPECT_DOUBLE_EQ(llama->llama3_factor, 32.0);
  EXPECT_FALSE(checkpoint_spec_like("gpt-5").ok());
  EXPECT_FALSE(checkpoint_spec_tiny("gpt2").ok());
}

TEST(RandomCheckpoint, TinyConfigsParseWithTheRealVocabularies) {
  for (const auto& [arch, vocab] : std::vector<std::pair<std::string, int64_t>>{
           {"qwen2", 151936}, {"llama", 128256}, {"mistral", 32000}}) {
    auto c = load_model_config(testing::tiny_checkpoint(arch, 1));
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->vocab_size, vocab);
    EXPECT_EQ(c->hidden_size, 64);
    EXPECT_EQ(c->num_hidden_layers, 2);
  }
}

// A copy of a tiny checkpoint's directory with one string of its config.json replaced.
std::string with_edited_config(const std::string& arch, const std::string& from,
                               const std::string& to) {
  const std::string src = testing::tiny_checkpoint(arch, 1);
  const std::string dir = testing::scratch_dir("ckpt-edit-" + arch);
  std::ifstream in(src + "/config.json");
  std::string cfg((std::istreambuf_iterator<char>(in)), {});
  const size_t at = cfg.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) cfg.replace(at, from.size(), to);
  std::ofstream(dir + "/config.json", std::ios::trunc) << cfg;
  std::filesystem::create_symlink(src + "/model.safetensors", dir + "/model.safetensors");
  return dir;
}

TEST(RandomCheckpoint, LoaderReportsAShapeMismatch) {
  const std::string dir = with_edited_config("llama", "\"hidden_size\": 64", "\"hidden_size\": 32");
  CpuBackend backend;
  auto model = load_causal_lm(dir, backend);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("embed_tokens"), std::string::npos) << model.error().message;
  EXPECT_NE(model.error().message.find("shape"), std::string::npos) << model.error().message;
}

TEST(RandomCheckpoint, LoaderReportsAMissingLmHead) {
  // Tiny Qwen2 ties its embeddings and has no lm_head.weight; claiming untied must name the tensor.
  const std::string dir = with_edited_config("qwen2", "\"tie_word_embeddings\": true",
                                             "\"tie_word_embeddings\": false");
  CpuBackend backend;
  auto model = load_causal_lm(dir, backend);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("lm_head.weight"), std::string::npos)
      << model.error().message;
}

}  // namespace
}  // namespace sglang
