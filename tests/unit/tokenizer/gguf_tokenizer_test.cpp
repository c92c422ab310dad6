// GGUF tokenizers (tokenizer/gguf_tokenizer.h): llama.cpp's pre-tokenizer splits, special-token
// matching, errors, and the real SmolLM2 file where it is present. The corpus-wide comparison with
// llama.cpp itself is tests/tokenizer/gguf_reference_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/gguf.h"
#include "tokenizer/components.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/llama_pre_tokenizer.h"

namespace sglang {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(const std::string& pre, const std::string& text) {
  auto spec = tok::llama_pre_tokenizer_spec(pre);
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  auto pieces = tok::llama_regex_split(text, spec->regexes);
  EXPECT_TRUE(pieces.ok()) << pieces.error().message;
  return *pieces;
}

TEST(LlamaPreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world's 42!"), (Pieces{"Hello", " world", "'s", " 42", "!"}));
  // A run of spaces leaves its last one to the next word; trailing whitespace is one piece.
  EXPECT_EQ(split("gpt-2", "a   b \n"), (Pieces{"a", "  ", " b", " \n"}));
  EXPECT_EQ(split("gpt-2", "I'M"), (Pieces{"I", "'", "M"}));  // contractions are lowercase only
}

TEST(LlamaPreTokenizer, SmollmIsolatesDigits) {
  EXPECT_EQ(split("smollm", "abc 123"), (Pieces{"abc", " ", "1", "2", "3"}));
}

TEST(LlamaPreTokenizer, Llama3) {
  EXPECT_EQ(split("llama-bpe", "12345 I'M\n\nok"), (Pieces{"123", "45", " I", "'M", "\n\n", "ok"}));
  EXPECT_EQ(split("llama-bpe", "x...\n"), (Pieces{"x", "...\n"}));
}

TEST(LlamaPreTokenizer, Qwen2RunsOnCollapsedText) {
  // Letters outside ASCII count as \p{L}, digits are single, whitespace outside ASCII is \s.
  EXPECT_EQ(split("qwen2", "Hi 世界12\u3000ok"), (Pieces{"Hi", " 世界", "1", "2", "\u3000ok"}));
}

TEST(LlamaPreTokenizer, DefaultSplitsDigitsInThrees) {
  EXPECT_EQ(split("", "x=12345"), (Pieces{"x", "=", "123", "45"}));
}

TEST(LlamaPreTokenizer, CodePointFlagsAreLlamaCpps) {
  using namespace tok::llama_flags;
  EXPECT_EQ(tok::llama_code_point_flags('a') & kCategories, kLetter);
  EXPECT_EQ(tok::llama_code_point_flags('7') & kCategories, kNumber);
  EXPECT_TRUE(tok::llama_code_point_flags(0x3000) & kWhitespace);
  EXPECT_TRUE(tok::llama_code_point_flags(0x85) & kWhitespace);
  EXPECT_FALSE(tok::llama_code_point_flags(0x1c) & kWhitespace);  // not White_Space
  EXPECT_EQ(tok::llama_code_point_flags(0x378), kUndefined);      // unassigned
}

TEST(LlamaPreTokenizer, UnsupportedPreIsNamed) {
  auto spec = tok::llama_pre_tokenizer_spec("kimi-k2");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("'kimi-k2'"), std::string::npos);
  EXPECT_NE(spec.error().message.find("tokenizer.ggml.pre"), std::string::npos);
  EXPECT_NE(spec.error().message.find("smollm"), std::string::npos);  // lists what is supported
}

// A small byte-level vocabulary: the 256 byte characters, "ab" by merge, a user-defined "AB" and a
// control "BCD".
GgufVocab tiny_vocab() {
  GgufVocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(tok::byte_to_unicode(static_cast<uint8_t>(b)));
    v.token_types.push_back(1);
  }
  v.tokens.push_back("ab");
  v.token_types.push_back(1);
  v.merges.push_back("a b");
  v.tokens.push_back("AB");
  v.token_types.push_back(4);
  v.tokens.push_back("BCD");
  v.token_types.push_back(3);
  v.special_ids = {{"bos", 258}, {"eos", 258}};
  return v;
}

TEST(GgufTokenizer, SpecialTokensLongestFirstAsLlamaCpp) {
  auto t = tokenizer_from_gguf_vocab(tiny_vocab());
  ASSERT_TRUE(t.ok()) << t.error().message;
  const Tokenizer& tok = *t->tokenizer;
  // llama.cpp cuts out the longest token first: "BCD" wins over the earlier "AB" (Hugging Face's
  // left-to-right matching would take "AB").
  EXPECT_EQ(tok.encode("ABCDab", false), (std::vector<int32_t>{'A', 258, 256}));
  // parse_special = false: the control token is text, the user-defined one still matches.
  EXPECT_EQ(tok.encode("ABCDab", false, true), (std::vector<int32_t>{257, 'C', 'D', 256}));
  EXPECT_TRUE(tok.is_special(258));
  EXPECT_FALSE(tok.is_special(257));
  EXPECT_EQ(tok.decode({'A', 258, 256}, false), "ABCDab");
  EXPECT_EQ(tok.decode({'A', 258, 256, 257}, true), "AabAB");  // user-defined stays
  // gpt-2 has no BOS by default.
  EXPECT_EQ(tok.encode("ab", true), (std::vector<int32_t>{256}));
}

TEST(GgufTokenizer, CleanSpacesOnDecodeForGpt2) {
  auto t = tokenizer_from_gguf_vocab(tiny_vocab());
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::string text = "Hi , you ' re here . It 's";
  const auto ids = t->tokenizer->encode(text, false);
  EXPECT_EQ(t->tokenizer->decode(ids, false), "Hi, you're here. It's");
  GgufVocab smol = tiny_vocab();
  smol.pre = "smollm";  // clean_spaces off
  auto s = tokenizer_from_gguf_vocab(smol);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->tokenizer->decode(s->tokenizer->encode(text, false), false), text);
}

// A small "llama" (SentencePiece BPE) vocabulary: <unk> <s> </s>, the 256 byte tokens, and pieces
// with scores.
GgufVocab tiny_spm_vocab() {
  GgufVocab v;
  v.model = "llama";
  auto add = [&](const std::string& t, int32_t type, float score) {
    v.tokens.push_back(t);
    v.token_types.push_back(type);
    v.scores.push_back(score);
  };
  add("<unk>", 2, 0);
  add("<s>", 3, 0);
  add("</s>", 3, 0);
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    add(hex, 6, 0);
  }
  add("\u2581", 1, -1.0f);    // 259
  add("a", 1, -2.0f);         // 260
  add("b", 1, -2.0f);         // 261
  add("\u2581a", 1, -1.5f);   // 262
  add("ab", 1, -0.5f);        // 263
  add("\u2581ab", 1, -0.1f);  // 264
  return v;
}

TEST(GgufTokenizer, SentencePieceLikeLlamaCpp) {
  auto t = tokenizer_from_gguf_vocab(tiny_spm_vocab());
  ASSERT_TRUE(t.ok()) << t.error().message;
  const Tokenizer& tok = *t->tokenizer;
  EXPECT_EQ(t->config.add_bos_token, true);  // llama.cpp's default for SentencePiece
  EXPECT_EQ(t->config.bos_token, "<s>");
  EXPECT_EQ(t->config.unk_token, "<unk>");
  // " ab a" as "▁ab▁a": "ab" (the best score) merges first, then "▁ab", then "▁a".
  EXPECT_EQ(tok.encode("ab a", true), (std::vector<int32_t>{1, 264, 262}));
  // A character that is no token becomes its bytes.
  EXPECT_EQ(tok.encode("c", false), (std::vector<int32_t>{259, 3 + 'c'}));
  // Every stretch of text gets the space prefix, also after a special token.
  EXPECT_EQ(tok.encode("a<s>a", false), (std::vector<int32_t>{262, 1, 262}));
  // The first token loses its leading space; a skipped first token uses that up (llama.cpp).
  EXPECT_EQ(tok.decode({264, 262}, false), "ab a");
  EXPECT_EQ(tok.decode({1, 264, 262}, false), "<s> ab a");
  EXPECT_EQ(tok.decode({1, 264, 262}, true), " ab a");
  EXPECT_EQ(tok.decode({259, 3 + 0xC3, 3 + 0xA9}, false), "\u00e9");  // bytes "é"
}

TEST(GgufTokenizer, Errors) {
  GgufVocab v = tiny_vocab();
  v.model = "t5";
  auto r = tokenizer_from_gguf_vocab(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'t5'"), std::string::npos);

  v = tiny_vocab();
  v.merges.clear();
  EXPECT_FALSE(tokenizer_from_gguf_vocab(v).ok());

  v = tiny_vocab();
  v.tokens[5] = v.tokens[6];
  r = tokenizer_from_gguf_vocab(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("duplicate"), std::string::npos);

  v = tiny_vocab();
  v.special_ids.clear();
  v.pre = "llama-bpe";  // adds BOS by default; 11 is the default id
  v.tokens.resize(10);
  v.token_types.resize(10);
  v.merges = {"a b"};
  r = tokenizer_from_gguf_vocab(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("add_bos_token"), std::string::npos);
}

TEST(GgufTokenizer, FileWithoutTokenizer) {
  EXPECT_FALSE(load_tokenizer_from_gguf("/nonexistent/model.gguf").ok());
}

std::string smollm2_path() {
  return std::string(SGLANG_SOURCE_DIR) +
         "/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(GgufTokenizer, SmolLM2) {
  if (!std::filesystem::exists(smollm2_path()))
    GTEST_SKIP() << smollm2_path() << " is absent (scripts/fetch_model.sh fetches it)";
  auto t = load_tokenizer_from_gguf(smollm2_path());
  ASSERT_TRUE(t.ok()) << t.error().message;
  const Tokenizer& tok = *t->tokenizer;
  const TokenizerConfig& c = t->config;
  EXPECT_EQ(tok.vocab_size(), 49152);
  EXPECT_EQ(c.bos_token, "<|im_start|>");
  EXPECT_EQ(c.eos_token, "<|im_end|>");
  EXPECT_EQ(c.pad_token, "<|im_end|>");
  EXPECT_EQ(c.unk_token, "<|endoftext|>");
  EXPECT_EQ(c.add_bos_token, false);
  EXPECT_EQ(c.add_eos_token, false);
  EXPECT_EQ(c.model_max_length, 8192);
  EXPECT_EQ(c.chat_template.rfind("{% for message in messages %}", 0), 0u);
  EXPECT_EQ(c.added_tokens_decoder.size(), 17u);

  // The ids llama.cpp and Hugging Face's SmolLM2 tokenizer both give.
  const std::string chat = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n";
  const std::vector<int32_t> ids = {1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198};
  EXPECT_EQ(tok.encode(chat, true), ids);
  EXPECT_EQ(tok.decode(ids, false), chat);
  EXPECT_EQ(tok.decode(ids, true), "user\nWhat is the capital of France?\n");
}

}  // namespace
}  // namespace sglang
