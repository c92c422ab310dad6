#include "sampling/grammar/vocabulary.h"

#include <gtest/gtest.h>

#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace sglang::grammar {
namespace {

std::unique_ptr<Tokenizer> load(const std::string& name) {
  auto t = Tokenizer::from_file(::sglang::testing::asset_path(name + "/tokenizer.json"));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(*t) : nullptr;
}

std::string joined_bytes(const Vocabulary& v, const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += v.token_bytes(id);
  return out;
}

TEST(Vocabulary, QwenByteLevelTokensAreTheirBytes) {
  auto tok = load("qwen3-tokenizer");
  ASSERT_TRUE(tok);
  auto v = Vocabulary::from_tokenizer(*tok, 151936, {151645, 151643});
  EXPECT_EQ(v->size(), 151936);
  EXPECT_EQ(v->bitmask_words(), 4748);
  EXPECT_EQ(v->token_bytes(220), " ");
  EXPECT_EQ(v->token_bytes(198), "\n");
  // The tokens of any text, byte strings joined, are the text's bytes, also where a token ends
  // inside a code point.
  for (const char* text :
       {"Hello, world! {\"a\": [1, 2]}\n\tx", "中文字符和 emoji 😀🤖 ok",
        "  indented\r\n  code() -> None:"}) {
    auto ids = tok->encode(text, false);
    EXPECT_EQ(joined_bytes(*v, ids), text);
  }
  EXPECT_TRUE(v->is_stop(151645));
  EXPECT_TRUE(v->is_special(151644));  // <|im_start|>
  EXPECT_FALSE(v->is_stop(151644));
  EXPECT_TRUE(v->is_special(151700));  // past the tokenizer, up to the logits width
  EXPECT_FALSE(v->is_special(0));
  // Every id below the added tokens is a normal one, and so are the added tokens that are not
  // special; the special and padding ids are not.
  size_t plain_added = 0;
  for (const AddedToken& a : tok->added_tokens()) plain_added += !a.special;
  EXPECT_GT(plain_added, 0u);
  EXPECT_EQ(v->normal_token_ids().size(), 151643u + plain_added);
  // Qwen3's <think>, <tool_call> are added but not special: they are their text.
  int32_t think = tok->token_to_id("<think>");
  ASSERT_GE(think, 0);
  EXPECT_EQ(v->token_bytes(think), "<think>");
  EXPECT_FALSE(v->is_special(think));
}

TEST(Vocabulary, Llama3ByteLevel) {
  auto tok = load("llama3-tokenizer");
  ASSERT_TRUE(tok);
  auto v = Vocabulary::from_tokenizer(*tok, 128256, {128001, 128009});
  auto ids = tok->encode("def f(x):\n    return x * 2  # 中", false);
  EXPECT_EQ(joined_bytes(*v, ids), "def f(x):\n    return x * 2  # 中");
  EXPECT_TRUE(v->is_special(128000));  // <|begin_of_text|>
  EXPECT_TRUE(v->is_stop(128009));
}

TEST(Vocabulary, SentencePieceMetaspaceIsASpace) {
  auto tok = load("xlmr-format-unigram-en");
  ASSERT_TRUE(tok);
  auto v = Vocabulary::from_tokenizer(*tok, tok->vocab_size(), {2});
  auto ids = tok->encode("Hello world again", false);
  EXPECT_EQ(joined_bytes(*v, ids), " Hello world again");  // Metaspace prepends the ▁
  EXPECT_TRUE(v->is_special(0));                           // <s>
  EXPECT_TRUE(v->is_stop(2));
}

TEST(Vocabulary, ByteFallbackPiecesAreBytes) {
  // A Llama-2-style SentencePiece BPE with byte fallback (<0xNN> pieces), built in the test.
  std::string vocab = R"("<unk>": 0, "<s>": 1, "</s>": 2)";
  for (int b = 0; b < 256; ++b) {
    char piece[16];
    std::snprintf(piece, sizeof(piece), "<0x%02X>", b);
    vocab += ", \"" + std::string(piece) + "\": " + std::to_string(3 + b);
  }
  vocab += R"(, "▁": 259, "a": 260, "▁a": 261, "b": 262)";
  std::string json = R"({"version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [
      {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null, "post_processor": null,
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
              "vocab": {)" +
                     vocab + R"(}, "merges": [["▁", "a"]]}})";
  auto tok = Tokenizer::from_json(json, "byte-fallback test");
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto v = Vocabulary::from_tokenizer(**tok, 300, {2});
  EXPECT_EQ(v->token_bytes(3 + 0x0A), "\n");
  EXPECT_EQ(v->token_bytes(3 + 0xE4), "\xE4");
  EXPECT_EQ(v->token_bytes(261), " a");
  EXPECT_EQ(v->token_bytes(259), " ");
  auto ids = (*tok)->encode("a b\n中", false);
  EXPECT_EQ(joined_bytes(*v, ids), " a b\n中");
  EXPECT_TRUE(v->is_special(0));
  EXPECT_TRUE(v->is_special(299));
}

TEST(Vocabulary, TrieHoldsEveryNormalTokenOnceInPreorder) {
  auto v = Vocabulary::from_token_bytes({"b", "ab", "a", "abc", "", "ab", "x"}, {6});
  const VocabularyTrie& t = v->trie();
  std::vector<int32_t> ids = t.token_ids;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 1, 2, 3, 5}));  // not the empty (4) nor stop (6)
  // Nodes: a, ab, abc, b
  ASSERT_EQ(t.nodes.size(), 4u);
  EXPECT_EQ(t.nodes[0].byte, 'a');
  EXPECT_EQ(t.nodes[0].subtree_end, 3u);
  EXPECT_EQ(t.nodes[1].tokens_end - t.nodes[1].tokens_begin, 2u);  // "ab" twice
  EXPECT_EQ(t.nodes[2].depth, 3);
  EXPECT_EQ(t.nodes[3].subtree_end, 4u);
  EXPECT_EQ(t.max_depth, 3);
  // A subtree's tokens are one range of token_ids; `below` holds the bytes under a node.
  EXPECT_EQ(t.nodes[0].tokens_begin, 0u);
  EXPECT_EQ(t.subtree_tokens_end(0), 4u);  // a, ab, ab, abc
  EXPECT_EQ(t.subtree_tokens_end(3), 5u);  // b
  ASSERT_EQ(t.below.size(), 4u);
  auto bit = [](unsigned b) { return std::array<uint64_t, 2>{0, uint64_t{1} << (b - 64)}; };
  auto both = [](std::array<uint64_t, 2> x, std::array<uint64_t, 2> y) {
    return std::array<uint64_t, 2>{x[0] | y[0], x[1] | y[1]};
  };
  EXPECT_EQ(t.below[0], both(bit('b'), bit('c')));
  EXPECT_EQ(t.below[1], bit('c'));
  EXPECT_EQ(t.below[2], (std::array<uint64_t, 2>{0, 0}));
  // Bytes from 0x80 (and NUL) share bit 0.
  auto u = Vocabulary::from_token_bytes({"a\xC3\xA9", "a"}, {});
  EXPECT_EQ(u->trie().below[0], (std::array<uint64_t, 2>{1, 0}));
  // UTF-8 below a node: "é" after "a" is well-formed from a code point's start, a lone
  // continuation byte is not.
  uint16_t ok = u->trie().utf8[0];
  EXPECT_TRUE(ok & 1u);
  EXPECT_TRUE(ok & VocabularyTrie::kUtf8NonAscii);
  EXPECT_FALSE(ok & VocabularyTrie::kUtf8Nul);
  auto lone = Vocabulary::from_token_bytes({"a\xA9", "a"}, {});
  EXPECT_FALSE(lone->trie().utf8[0] & 1u);
  EXPECT_EQ(VocabularyTrie::utf8_step(0, 0xE0), 4);  // E0 needs A0-BF next
  EXPECT_EQ(VocabularyTrie::utf8_step(4, 0x9F), -1);
  EXPECT_EQ(VocabularyTrie::utf8_step(0, 0xC0), -1);
}

}  // namespace
}  // namespace sglang::grammar
