// Random grammars: malformed text never crashes or hangs the compiler, and on well-formed random
// grammars (recursion, repetition, classes, choices) the masks equal the brute-force check.
#include <gtest/gtest.h>

#include <random>

#include "grammar_test_util.h"
#include "mask_check.h"

namespace sglang::grammar {
namespace {

TEST(RandomGrammar, GarbageIsAnErrorOrAGrammarNeverACrash) {
  std::mt19937 rng(3);
  // Pieces of the dialect, glued at random: mostly malformed, sometimes not.
  const std::vector<std::string> pieces = {
      "a",        "b",           "\"x\"", "[^a-z]", "(",
      ")",        "|",           "*",     "+",      "?",
      "{2,3}",    "{1}",         "\n",    "root",   "=",
      ",",        "\"",          "[",     "::=",    "\nb ::= ",
      "\na ::= ", "\"\\u00e9\"", "#c\n",  "\"\"",   "TagDispatch((\"t\", a))",
      "(=",       "{",           "}"};
  int compiled = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = "root ::= ";
    int n = std::uniform_int_distribution<int>(1, 12)(rng);
    for (int k = 0; k < n; ++k) {
      text += pieces[std::uniform_int_distribution<size_t>(0, pieces.size() - 1)(rng)] + " ";
    }
    text += "\na ::= \"1\"";
    auto g = compile_ebnf(text, testing::small_vocab());
    if (g.ok()) {
      ++compiled;
      GrammarMatcher m(*g);
      std::vector<uint32_t> mask(static_cast<size_t>(testing::small_vocab()->bitmask_words()));
      m.fill_next_token_bitmask(mask);
    } else {
      EXPECT_FALSE(g.error().message.empty());
    }
  }
  EXPECT_GT(compiled, 50);
}

// A random expression over a few rules; depth-bounded.
std::string random_expr(std::mt19937& rng, int depth, int rules) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  int kind = depth <= 0 ? pick(3) : pick(8);
  switch (kind) {
    case 0: {
      static const char* const kStrings[] = {"\"a\"", "\"b\"", "\"ab\"",       "\"\\\"\"",
                                             "\"}\"", "\"1\"", "\"\xC3\xA9\"", "\",\""};
      return kStrings[pick(8)];
    }
    case 1: {
      static const char* const kClasses[] = {"[a-c]", "[^a]", "[0-9]", "[\"}]",
                                             "[\xCE\xB1-\xCF\x89]"};
      return kClasses[pick(5)];
    }
    case 2:
      return "r" + std::to_string(pick(rules));
    case 3:
    case 4:
      return random_expr(rng, depth - 1, rules) + " " + random_expr(rng, depth - 1, rules);
    case 5:
      return "(" + random_expr(rng, depth - 1, rules) + " | " + random_expr(rng, depth - 1, rules) +
             ")";
    default: {
      static const char* const kOps[] = {"*", "+", "?", "{2}", "{0,2}", "{1,}"};
      return "(" + random_expr(rng, depth - 1, rules) + ")" + kOps[pick(6)];
    }
  }
}

TEST(RandomGrammar, MasksEqualBruteForce) {
  std::mt19937 rng(11);
  int checked = 0, recursive = 0;
  for (int i = 0; i < 60; ++i) {
    const int rules = 3;
    // Each rule starts with a byte, so no rule is left-recursive; references inside may recurse.
    std::string text = "root ::= " + random_expr(rng, 3, rules) + "\n";
    for (int r = 0; r < rules; ++r) {
      text += "r" + std::to_string(r) + " ::= \"" + std::string(1, static_cast<char>('x' + r)) +
              "\" " + random_expr(rng, 3, rules) + " | \"" +
              std::string(1, static_cast<char>('u' + r)) + "\"\n";
    }
    auto g = compile_ebnf(text, testing::small_vocab());
    ASSERT_TRUE(g.ok()) << g.error().message << "\n" << text;
    SCOPED_TRACE(text);
    testing::check_walks(*g, 3, 12, static_cast<uint32_t>(i));
    if (::testing::Test::HasFatalFailure()) return;
    ++checked;
    recursive += (*g)->automaton().num_kept_rules() > 1;
  }
  EXPECT_EQ(checked, 60);
  EXPECT_GT(recursive, 10);  // the generator does exercise kept (recursive) rules
}

}  // namespace
}  // namespace sglang::grammar
