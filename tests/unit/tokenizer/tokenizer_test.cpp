// The tokenizer on the real Qwen and Llama 3 tokenizer.json files (see
// ../shared/assets/PROVENANCE.md for the ids quoted here, which are Hugging Face tokenizers' own).
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace sglang {
namespace {

std::unique_ptr<Tokenizer> load(const std::string& name) {
  auto t = Tokenizer::from_file(testing::asset_path(name + "/tokenizer.json"));
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(Tokenizer, QwenMatchesTheGuide) {
  auto t = load("qwen3-tokenizer");
  ASSERT_TRUE(t);
  const std::string text = "SGLang provides efficient tokenization endpoints.";
  EXPECT_EQ(t->encode(text, false),
            (std::vector<int32_t>{50, 3825, 524, 5707, 11050, 3950, 2022, 36342, 13}));
  EXPECT_EQ(t->decode(t->encode(text, false)), text);
  EXPECT_EQ(t->vocab_size(), 151669);
}

TEST(Tokenizer, Llama3MatchesTokenizers) {
  auto t = load("llama3-tokenizer");
  ASSERT_TRUE(t);
  const std::string text = "SGLang provides efficient tokenization endpoints.";
  EXPECT_EQ(t->encode(text, false),
            (std::vector<int32_t>{50, 3910, 526, 5825, 11297, 4037, 2065, 37442, 13}));
  EXPECT_EQ(t->decode(t->encode(text, false)), text);
}

TEST(Tokenizer, SpecialTokensInsideTextAndSkipping) {
  auto t = load("qwen3-tokenizer");
  ASSERT_TRUE(t);
  const auto ids = t->encode("<|im_start|>user\nhi<|im_end|>", false);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_EQ(ids.back(), 151645);
  EXPECT_EQ(t->decode(ids), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(t->decode(ids, /*skip_special_tokens=*/true), "user\nhi");
  EXPECT_TRUE(t->is_special(151643));
  EXPECT_EQ(t->token_to_id("<|endoftext|>"), 151643);
}

TEST(Tokenizer, DecodeOfBrokenUtf8IsReplacementCharacters) {
  auto t = load("qwen3-tokenizer");
  ASSERT_TRUE(t);
  const auto ids = t->encode("\xe4\xbd\xa0\xe5\xa5\xbd", false);  // 你好
  EXPECT_EQ(t->decode(ids), "\xe4\xbd\xa0\xe5\xa5\xbd");
  // Each id alone may hold part of a character; the decode never yields invalid UTF-8.
  for (int32_t id : ids) {
    const std::string piece = t->decode({id});
    EXPECT_FALSE(piece.empty());
  }
}

TEST(Tokenizer, UnsupportedComponentIsNamed) {
  auto t = Tokenizer::from_json(R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
                                    "normalizer": {"type": "Fancy"}})",
                                "x/tokenizer.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("Fancy"), std::string::npos);
  EXPECT_NE(t.error().message.find("x/tokenizer.json"), std::string::npos);
  EXPECT_FALSE(Tokenizer::from_json("{", "y").ok());
}

}  // namespace
}  // namespace sglang
