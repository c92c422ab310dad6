#include "sampling/grammar/grammar_matcher.h"

#include <gtest/gtest.h>

#include <cmath>

#include "grammar_test_util.h"

namespace sglang::grammar {
namespace {

using testing::compile_or_die;
using testing::small_vocab;

constexpr const char* kJson = R"(root ::= value
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( "," ws member )* )? "}" ws
member ::= string ":" ws value
array ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\] | "\\" ["\\/bfnrt] )* "\"" ws
number ::= "-"? [0-9]+ ("." [0-9]+)? ws
ws ::= [ \t\n]*
)";

int32_t id_of(const std::string& bytes) {
  const Vocabulary& v = *small_vocab();
  for (int32_t i = 0; i < v.size(); ++i) {
    if (!v.is_special(i) && v.token_bytes(i) == bytes) return i;
  }
  ADD_FAILURE() << "no token " << bytes;
  return -1;
}

TEST(GrammarMatcher, NestedJsonAcceptsAndRejects) {
  auto g = compile_or_die(kJson);
  ASSERT_TRUE(g);
  EXPECT_GT(g->automaton().num_kept_rules(), 1u);  // value/object/array stay rules
  for (const char* ok : {"{}", "[]", "{\"a\": [1, 2.5, {\"b\": null}], \"c\": \"x\\n\"}",
                         "[[[[[[[[[[1]]]]]]]]]]", "-3", "\"\xC3\xA9\""}) {
    EXPECT_TRUE(testing::matches(g, ok)) << ok;
  }
  for (const char* bad : {"{", "[1,]", "{\"a\" 1}", "01x", "[1 2]", "{\"a\":1}}", "\"\\q\""}) {
    EXPECT_FALSE(testing::matches(g, bad)) << bad;
  }
}

TEST(GrammarMatcher, AcceptTokenRollbackAndTermination) {
  auto g = compile_or_die(kJson);
  ASSERT_TRUE(g);
  GrammarMatcher m(g, 4);
  int32_t stop = small_vocab()->stop_token_ids()[0];
  EXPECT_FALSE(m.can_terminate());
  EXPECT_FALSE(m.accept_token(stop));
  EXPECT_FALSE(m.accept_token(id_of("}")));  // state unchanged on a rejected token
  EXPECT_TRUE(m.accept_token(id_of("{\"")));
  EXPECT_TRUE(m.accept_token(id_of("a")));
  EXPECT_TRUE(m.accept_token(id_of("\":")));
  EXPECT_TRUE(m.accept_token(id_of("1,")));
  EXPECT_FALSE(m.accept_token(id_of("}")));  // after a comma a member must follow
  m.rollback(1);                             // back to {"a":
  EXPECT_TRUE(m.accept_token(id_of("1")));
  EXPECT_FALSE(m.can_terminate());
  EXPECT_TRUE(m.accept_token(id_of("}")));
  EXPECT_TRUE(m.can_terminate());
  EXPECT_FALSE(m.is_terminated());
  EXPECT_FALSE(m.accept_token(static_cast<int32_t>(small_vocab()->size() - 2)));  // special
  EXPECT_TRUE(m.accept_token(stop));
  EXPECT_TRUE(m.is_terminated());
  EXPECT_FALSE(m.accept_token(id_of(" ")));
  m.rollback(1);
  EXPECT_FALSE(m.is_terminated());
  EXPECT_TRUE(m.accept_token(id_of(" ")));
  // Only the last 4 steps are kept.
  m.rollback(100);
  EXPECT_TRUE(m.accept_string("\":"));  // {"a  is where 4 steps back lands
  m.reset();
  EXPECT_TRUE(m.accept_string("[1]"));
  EXPECT_TRUE(m.can_terminate());
}

TEST(GrammarMatcher, DeepNestingStaysBoundedAndRollsBack) {
  auto g = compile_or_die(kJson);
  ASSERT_TRUE(g);
  GrammarMatcher m(g, 1000);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(m.accept_string("["));
  EXPECT_LT(m.num_stacks(), 64u);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(m.accept_string("]"));
  EXPECT_TRUE(m.can_terminate());
  EXPECT_FALSE(m.accept_string("]"));
  m.rollback(500);
  EXPECT_FALSE(m.can_terminate());
  EXPECT_TRUE(m.accept_string(std::string(500, ']')));
  EXPECT_TRUE(m.can_terminate());
}

TEST(GrammarMatcher, JumpForward) {
  auto g = compile_or_die(
      "root ::= \"{\\\"name\\\": \\\"\" [a-z]+ \"\\\", \\\"age\\\": \" [0-9]+ \"}\"");
  ASSERT_TRUE(g);
  GrammarMatcher m(g);
  EXPECT_EQ(m.find_jump_forward_string(), "{\"name\": \"");
  EXPECT_TRUE(m.accept_string("{\"name\": \"bo"));
  EXPECT_EQ(m.find_jump_forward_string(), "");  // more letters or the quote
  EXPECT_TRUE(m.accept_string("b\""));
  EXPECT_EQ(m.find_jump_forward_string(), ", \"age\": ");
  EXPECT_TRUE(m.accept_string(", \"age\": 4"));
  EXPECT_EQ(m.find_jump_forward_string(), "");
  EXPECT_TRUE(m.accept_string("2}"));
  EXPECT_EQ(m.find_jump_forward_string(), "");  // the end: nothing is forced
  EXPECT_TRUE(m.can_terminate());
  // Forced through a rule call: the recursive rule's prefix.
  auto r = compile_or_die("root ::= \"<\" item \">\"\nitem ::= \"ab\" (item | \"c\")");
  ASSERT_TRUE(r);
  GrammarMatcher mr(r);
  EXPECT_EQ(mr.find_jump_forward_string(), "<ab");
}

TEST(GrammarMatcher, Utf8ClassesByByte) {
  auto g = compile_or_die("root ::= [α-ω中]+ \"!\"");
  ASSERT_TRUE(g);
  GrammarMatcher m(g);
  EXPECT_TRUE(m.accept_string("\xCE"));  // half of α
  EXPECT_FALSE(m.accept_string("!"));    // not inside a code point
  EXPECT_TRUE(m.accept_string("\xB1"));
  EXPECT_TRUE(m.accept_string("\xE4\xB8\xAD!"));
  EXPECT_TRUE(m.can_terminate());
  EXPECT_FALSE(testing::matches(g, "\xE4\xB8\xAE!"));  // 丮 is not in the class
}

TEST(ApplyTokenBitmask, DisallowedBecomeMinusInfinity) {
  std::vector<float> logits(70);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i);
  std::vector<uint32_t> mask = {0xFFFFFFFFu, 0x80000001u};  // ids 0-31, 32, 63; 64+ past mask
  apply_token_bitmask(logits, mask);
  for (size_t i = 0; i < logits.size(); ++i) {
    bool allowed = i < 33 || i == 63;
    if (allowed) {
      EXPECT_EQ(logits[i], static_cast<float>(i)) << i;
    } else {
      EXPECT_TRUE(std::isinf(logits[i]) && logits[i] < 0) << i;
    }
  }
}

}  // namespace
}  // namespace sglang::grammar
