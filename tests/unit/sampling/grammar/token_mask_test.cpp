// Mask exactness on a small synthetic vocabulary, and stop / special tokens.
#include <gtest/gtest.h>

#include "grammar_test_util.h"
#include "mask_check.h"

namespace sglang::grammar {
namespace {

using testing::allowed_ids;
using testing::check_walks;
using testing::compile_or_die;
using testing::kGrammars;

TEST(TokenMask, EqualsBruteForceOnSmallVocabulary) {
  uint32_t seed = 1;
  for (const char* grammar : kGrammars) {
    SCOPED_TRACE(grammar);
    auto g = compile_or_die(grammar);
    ASSERT_TRUE(g);
    check_walks(g, 12, 40, seed++);
  }
}

TEST(TokenMask, StopTokensExactlyWhenTheGrammarCanEnd) {
  auto g = compile_or_die("root ::= \"a\" \"b\"?");
  ASSERT_TRUE(g);
  const Vocabulary& v = g->vocabulary();
  int32_t stop = v.stop_token_ids()[0];
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()));
  auto allowed = [&](int32_t id) { return (mask[static_cast<size_t>(id) / 32] >> (id % 32)) & 1; };
  GrammarMatcher m(g);
  m.fill_next_token_bitmask(mask);
  EXPECT_FALSE(allowed(stop));
  EXPECT_TRUE(allowed('a'));
  EXPECT_TRUE(allowed(256));  // "ab"
  EXPECT_FALSE(allowed('b'));
  ASSERT_TRUE(m.accept_token('a'));
  m.fill_next_token_bitmask(mask);
  EXPECT_TRUE(allowed(stop));
  EXPECT_TRUE(allowed('b'));
  EXPECT_FALSE(allowed(static_cast<int32_t>(v.size() - 2)));  // the special token, never
  EXPECT_EQ(allowed_ids(mask, v.size()).size(), 2u);
}

// The matcher keeps the masks of stack sets it met (a string's characters repeat one set): a
// kept mask must still be the brute-force one, after rollbacks too, and a shorter bitmask must
// not be served from a full-length one.
TEST(TokenMask, RepeatedStackSetsKeepExactMasks) {
  auto g = compile_or_die(kGrammars[0]);
  ASSERT_TRUE(g);
  const Vocabulary& v = g->vocabulary();
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()));
  GrammarMatcher m(g);
  ASSERT_TRUE(m.accept_string("{\"k\": [1, \""));
  for (int i = 0; i < 6; ++i) {
    m.fill_next_token_bitmask(mask);
    ASSERT_EQ(mask, testing::brute_force_mask(m, v)) << i;
    ASSERT_TRUE(m.accept_string(i % 2 ? "x" : "y"));
  }
  m.rollback(3);
  m.fill_next_token_bitmask(mask);
  EXPECT_EQ(mask, testing::brute_force_mask(m, v));
  ASSERT_TRUE(m.accept_string("\""));
  m.fill_next_token_bitmask(mask);
  EXPECT_EQ(mask, testing::brute_force_mask(m, v));
  m.rollback(1);
  std::vector<uint32_t> shorter(1, 0xFFFFFFFFu);
  m.fill_next_token_bitmask(shorter);
  m.fill_next_token_bitmask(mask);
  EXPECT_EQ(shorter[0], mask[0]);
  EXPECT_EQ(mask, testing::brute_force_mask(m, v));
}

}  // namespace
}  // namespace sglang::grammar
