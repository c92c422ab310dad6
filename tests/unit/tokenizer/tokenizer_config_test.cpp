// tokenizer_config.json parsing on the real files in ../shared/assets, and
// load_tokenizer_from_dir's handling of added_tokens_decoder and add_bos_token / add_eos_token.
#include "tokenizer/tokenizer_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace sglang {
namespace {

namespace fs = std::filesystem;

TEST(TokenizerConfig, Qwen3) {
  auto c = TokenizerConfig::from_file(testing::asset_path("qwen3-tokenizer/tokenizer_config.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->bos_token.has_value());  // null
  EXPECT_EQ(c->eos_token, "<|im_end|>");
  EXPECT_EQ(c->pad_token, "<|endoftext|>");
  EXPECT_FALSE(c->unk_token.has_value());
  EXPECT_EQ(c->add_bos_token, false);
  EXPECT_FALSE(c->add_eos_token.has_value());
  EXPECT_EQ(c->model_max_length, 131072);
  EXPECT_NE(c->chat_template.find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(c->tokenizer_class, "Qwen2Tokenizer");
  ASSERT_EQ(c->added_tokens_decoder.size(), 26u);
  EXPECT_EQ(c->added_tokens_decoder.front().id, 151643);
  EXPECT_EQ(c->added_tokens_decoder.front().content, "<|endoftext|>");
  EXPECT_TRUE(c->added_tokens_decoder.front().special);
  EXPECT_EQ(c->added_tokens_decoder.back().id, 151668);
}

TEST(TokenizerConfig, MiniLmAndXlmr) {
  auto m = TokenizerConfig::from_file(testing::asset_path("minilm-l6-v2/tokenizer_config.json"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->unk_token, "[UNK]");
  EXPECT_EQ(m->pad_token, "[PAD]");
  EXPECT_EQ(m->model_max_length, 512);
  EXPECT_TRUE(m->chat_template.empty());
  EXPECT_TRUE(m->added_tokens_decoder.empty());
  auto x = TokenizerConfig::from_file(
      testing::asset_path("xlmr-format-unigram-en/tokenizer_config.json"));
  ASSERT_TRUE(x.ok()) << x.error().message;
  EXPECT_EQ(x->bos_token, "<s>");
  EXPECT_EQ(x->eos_token, "</s>");
  EXPECT_FALSE(x->add_bos_token.has_value());
}

TEST(TokenizerConfig, DictTokensTemplateListsAndNoLimit) {
  auto c = TokenizerConfig::parse(nlohmann::json::parse(R"({
      "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
      "eos_token": null,
      "model_max_length": 1000000000000000019884624838656,
      "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}],
      "added_tokens_decoder": {"7": {"content": "<b>", "special": false},
                               "3": {"content": "<a>", "special": true, "rstrip": true}}})"),
                                  "cfg");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->bos_token, "<s>");
  EXPECT_FALSE(c->eos_token.has_value());
  EXPECT_FALSE(c->model_max_length.has_value());
  EXPECT_EQ(c->chat_template, "D");
  EXPECT_EQ(c->tool_use_chat_template, "T");
  ASSERT_EQ(c->added_tokens_decoder.size(), 2u);
  EXPECT_EQ(c->added_tokens_decoder[0].content, "<a>");
  EXPECT_TRUE(c->added_tokens_decoder[0].rstrip);
  EXPECT_FALSE(c->added_tokens_decoder[0].normalized);  // special: not normalized by default
  EXPECT_TRUE(c->added_tokens_decoder[1].normalized);
  EXPECT_FALSE(
      TokenizerConfig::parse(
          nlohmann::json::parse(R"({"added_tokens_decoder": {"x": {"content": "a"}}})"), "cfg")
          .ok());
}

// A scratch model directory with the XLM-R-format tokenizer.json and a config of our own.
class ModelDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sglang_tokcfg_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    fs::copy_file(testing::asset_path("xlmr-format-unigram-en/tokenizer.json"),
                  dir_ / "tokenizer.json", fs::copy_options::overwrite_existing);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_config(const std::string& text) {
    std::ofstream(dir_ / "tokenizer_config.json") << text;
  }
  fs::path dir_;
};

TEST_F(ModelDir, AddBosAndEosTokenReplaceThePostProcessor) {
  auto plain = Tokenizer::from_file((dir_ / "tokenizer.json").string());
  ASSERT_TRUE(plain.ok());
  const std::string text = "Hello world";
  const auto body = (*plain)->encode(text, false);
  ASSERT_FALSE(body.empty());

  write_config(R"({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true,
                   "add_eos_token": true})");
  auto both = load_tokenizer_from_dir(dir_.string());
  ASSERT_TRUE(both.ok()) << both.error().message;
  std::vector<int32_t> want = {0};
  want.insert(want.end(), body.begin(), body.end());
  want.push_back(2);
  EXPECT_EQ(both->tokenizer->encode(text), want);
  EXPECT_EQ(both->tokenizer->encode(text, false), body);
  std::vector<int32_t> types;
  const auto pair = both->tokenizer->encode_pair(text, text, true, &types);
  std::vector<int32_t> want_pair = want;
  want_pair.insert(want_pair.end(), want.begin(), want.end());
  EXPECT_EQ(pair, want_pair);
  EXPECT_EQ(types.back(), 1);
  EXPECT_EQ(types.front(), 0);

  // Only add_bos_token given (false): transformers builds "$A:0", so no special tokens at all
  // (the file's own template would add <s> ... </s>).
  write_config(R"({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": false})");
  auto none = load_tokenizer_from_dir(dir_.string());
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->tokenizer->encode(text), body);
  EXPECT_NE((*plain)->encode(text), body);

  // Neither key: the tokenizer.json's post-processor stays.
  write_config(R"({"bos_token": "<s>", "eos_token": "</s>"})");
  auto asis = load_tokenizer_from_dir(dir_.string());
  ASSERT_TRUE(asis.ok()) << asis.error().message;
  EXPECT_EQ(asis->tokenizer->encode(text), (*plain)->encode(text));
}

TEST_F(ModelDir, AddedTokensDecoderEntriesAreAdded) {
  write_config(R"({"added_tokens_decoder": {
      "5000": {"content": "<extra>", "special": true, "normalized": false},
      "0": {"content": "<s>", "special": true}},
      "chat_template": "fallback-unused"})");
  std::ofstream(dir_ / "chat_template.jinja") << "from-file";
  auto t = load_tokenizer_from_dir(dir_.string());
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->config.chat_template, "fallback-unused");  // the config's wins
  EXPECT_EQ(t->tokenizer->token_to_id("<extra>"), 5000);
  EXPECT_TRUE(t->tokenizer->is_special(5000));
  const auto ids = t->tokenizer->encode("a<extra>b", false);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 5000), ids.end());
  EXPECT_EQ(t->tokenizer->decode(ids, true).find("<extra>"), std::string::npos);
  EXPECT_NE(t->tokenizer->decode(ids, false).find("<extra>"), std::string::npos);
  EXPECT_EQ(t->tokenizer->vocab_size(), 5001);

  fs::remove(dir_ / "tokenizer_config.json");
  auto bare = load_tokenizer_from_dir(dir_.string());
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->config.chat_template, "from-file");
  EXPECT_EQ(bare->tokenizer->token_to_id("<extra>"), -1);
}

TEST(LoadTokenizerFromDir, MissingFilesAreNamed) {
  auto t = load_tokenizer_from_dir("/nonexistent-dir-for-sglang-test");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("vocab.json"), std::string::npos);
}

}  // namespace
}  // namespace sglang
