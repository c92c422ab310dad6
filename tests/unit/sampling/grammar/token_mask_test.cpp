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

}  // namespace
}  // namespace sglang::grammar
