#include "sampling/grammar/ebnf_parser.h"

#include <gtest/gtest.h>

#include "grammar_test_util.h"

namespace sglang::grammar {
namespace {

using testing::compile_or_die;
using testing::error_of;
using testing::matches;

struct Case {
  const char* grammar;
  std::vector<std::string> accepted;
  std::vector<std::string> rejected;
};

TEST(EbnfParser, EachConstructAcceptsAndRejects) {
  const std::vector<Case> cases = {
      {R"(root ::= "abc")", {"abc"}, {"", "ab", "abcd", "abd"}},
      {R"(root ::= "a" | "bc" | "")", {"a", "bc", ""}, {"b", "ab", "abc"}},
      {R"(root ::= "a" "b" ("c" | "d"))", {"abc", "abd"}, {"ab", "abe", "abcd"}},
      {R"(root ::= "x"*)", {"", "x", "xxxx"}, {"y", "xxy"}},
      {R"(root ::= "x"+)", {"x", "xxx"}, {"", "xy"}},
      {R"(root ::= "x"? "y")", {"y", "xy"}, {"x", "xxy"}},
      {R"(root ::= "ab"{3})", {"ababab"}, {"abab", "abababab"}},
      {R"(root ::= "a"{2,})", {"aa", "aaaaaa"}, {"", "a"}},
      {R"(root ::= "a"{1,3} "b")", {"ab", "aab", "aaab"}, {"b", "aaaab"}},
      {R"(root ::= "a"{0,0} "b")", {"b"}, {"ab"}},
      {R"(root ::= [a-c]+)", {"abcabc", "c"}, {"", "d", "abd"}},
      {R"(root ::= [^"\\]*)", {"", "hello world", "\xC3\xA9t\xC3\xA9"}, {"\"", "a\\b"}},
      {R"(root ::= [a-zA-Z_] [a-zA-Z0-9_-]*)", {"_x-1", "Ab9"}, {"9a", "a b"}},
      {R"(root ::= "\n\t\r\\\"\'\x41\u00e9\U0001F600")",
       {"\n\t\r\\\"'A\xC3\xA9\xF0\x9F\x98\x80"},
       {"\n"}},
      {R"(root ::= [\x00-\x7f]+)", {"abc", std::string("\0", 1)}, {"\xC3\xA9"}},
      // Code point classes become UTF-8 byte sequences of each length.
      {R"(root ::= [α-ω]+)", {"\xCE\xB1\xCE\xB2\xCF\x89"}, {"a", "\xCE\xB0", "\xCF\x8A"}},
      {R"(root ::= [^a]+)",
       {"b", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80"},
       {"a", "\xC3", "\xED\xA0\x80", "\xFF"}},
      {R"(root ::= [\u4e00-\u9fff]{2})", {"\xE4\xB8\xAD\xE6\x96\x87"}, {"\xE4\xB8\xAD"}},
      {R"(root ::= [\d]+ [\s] [\w]+)", {"12 ab_9"}, {"1 -"}},
      {R"(root ::= [-a] [a-])", {"-a", "a-"}, {"b-"}},
      {R"(root ::= () "a" "")", {"a"}, {""}},
      // Rule references, forward ones included; rule names with xgrammar's characters.
      {"root ::= greeting \" \" name\ngreeting ::= \"hi\" | \"hello\"\nname ::= [a-z]+",
       {"hi bob", "hello x"},
       {"hi", "hey bob"}},
      {"root ::= rule-with.dots_1\nrule-with.dots_1 ::= \"ok\"", {"ok"}, {"ko"}},
      // Comments and line breaks anywhere between elements.
      {"# a comment\nroot ::= \"a\" # trailing\n  | \"b\"  # more\n", {"a", "b"}, {"ab"}},
      // The lookahead assertion is parsed and only a hint.
      {"root ::= item \";\"\nitem ::= [a-z]+ (= \";\")", {"abc;"}, {"abc"}},
      // Recursion: balanced parentheses (root calls itself), and nesting through another rule.
      {R"g(root ::= "(" root ")" root | "")g", {"", "()", "(())()", "((()))"}, {"(", ")(", "(()"}},
      {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9]+ | list",
       {"[]", "[1,[2,[]],3]", "[[[[]]]]"},
       {"[", "[1,]", "[[]"}},
      // Right recursion stays shallow (tail calls).
      {"root ::= \"x\" root | \"y\"", {"y", "xxxxxxxxxxy"}, {"x", "yx"}},
  };
  for (const Case& c : cases) {
    auto g = compile_or_die(c.grammar);
    ASSERT_TRUE(g) << c.grammar;
    for (const auto& s : c.accepted) EXPECT_TRUE(matches(g, s)) << c.grammar << " / " << s;
    for (const auto& s : c.rejected) EXPECT_FALSE(matches(g, s)) << c.grammar << " / " << s;
  }
}

TEST(EbnfParser, TagDispatch) {
  auto g = compile_or_die(
      "root ::= TagDispatch((\"<tool>\", call), (\"<x>\", other), stop_eos=true, "
      "loop_after_dispatch=true)\n"
      "call ::= \"{\" [a-z]* \"}</tool>\"\nother ::= \"!\"");
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, ""));
  EXPECT_TRUE(matches(g, "free text < <to"));
  EXPECT_TRUE(matches(g, "a<tool>{ab}</tool> then <x>! more"));
  EXPECT_FALSE(matches(g, "a<tool>{ab}"));  // inside the dispatched rule: cannot end
  EXPECT_FALSE(matches(g, "a<tool>oops"));  // a tag must be followed by its rule
  EXPECT_FALSE(matches(g, "<x>?"));
  EXPECT_TRUE(matches(g, "<<tool>{}</tool>"));  // a tag found after a false start

  auto once = compile_or_die(
      "root ::= TagDispatch((\"<t>\", r), stop_eos=false, stop_str=(\"END\"), "
      "loop_after_dispatch=false)\nr ::= \"1\"");
  ASSERT_TRUE(once);
  EXPECT_FALSE(matches(once, "text"));  // no stop_eos: only a stop string or the rule ends it
  EXPECT_TRUE(matches(once, "text END"));
  EXPECT_TRUE(matches(once, "text <t>1"));
  EXPECT_FALSE(matches(once, "text <t>1 more"));
  EXPECT_FALSE(matches(once, "END more"));

  auto excl = compile_or_die("root ::= TagDispatch((\"<t>\", r), excludes=(\"bad\"))\nr ::= \"1\"");
  ASSERT_TRUE(excl);
  EXPECT_TRUE(matches(excl, "good <t>1 ba d"));
  EXPECT_FALSE(matches(excl, "this is bad"));
}

TEST(EbnfParser, ErrorsNameTheProblemAndWhere) {
  auto has = [](const std::string& grammar, const std::string& what) {
    std::string e = error_of(grammar);
    EXPECT_NE(e.find(what), std::string::npos) << grammar << "\n  -> " << e;
  };
  has("root ::= undefined_rule", "line 1:10: rule \"undefined_rule\" is not defined");
  has("a ::= \"x\"", "the root rule \"root\" is not defined");
  has("root ::= \"x\"\nroot ::= \"y\"", "rule \"root\" is defined more than once");
  has("root ::= \"abc", "line 1:14: unterminated string literal");
  has("root ::= [abc", "unterminated character class");
  has("root ::= [z-a]", "reversed");
  has("root ::= \"\\q\"", "invalid escape sequence \\q");
  has("root ::= \"\\x4\"", "\\x needs 2 hex digits");
  has("root ::= (\"a\"", "line 1:14: expected ), got the end of the grammar");
  has("root ::= \"a\" )", "unexpected \")\" after the body of rule \"root\"");
  has("root ::= | \"a\"", "line 1:10: expected an element, got \"|\"");
  has("root ::= \"a\"{3,1}", "upper bound 1 is below the lower bound 3");
  has("root ::= \"a\"{x}", "expected a non-negative integer");
  has("root ::= \"a\" b ::= \"c\"", "the rule name \"b\" must start a line");
  has("root ::= \"a\"\n\n  $", "line 3:3: unexpected character '$'");
  has("root ::= TagDispatch((\"t\", nope))", "rule \"nope\" is not defined");
  has("root ::= TagDispatch((\"\", r))\nr ::= \"a\"", "tag must not be empty");
  has("root ::= TagDispatch((\"t\", r), colour=true)\nr ::= \"a\"", "unknown TagDispatch argument");
  has("root ::= TagDispatch(\"t\")\n", "must be a pair");
  has("root ::= Regex(\"a+\")", "Regex(...) is not supported");
  has(std::string("root ::= ") + std::string(300, '(') + "\"a\"" + std::string(300, ')'),
      "nests deeper than 200");
  has("root ::= \"\xFF\"", "invalid UTF-8");
}

TEST(EbnfParser, RefusedGrammarsAreErrorsNotHangs) {
  auto has = [](const std::string& grammar, const std::string& what) {
    std::string e = error_of(grammar);
    EXPECT_NE(e.find(what), std::string::npos) << grammar << "\n  -> " << e;
  };
  has("root ::= root \"a\" | \"b\"", "left-recursive");
  has("root ::= a\na ::= b \"x\" | \"y\"\nb ::= c\nc ::= \"\"? a", "left-recursive");
  has("root ::= \"a\"{100001}", "repetition count 100001");
  has("root ::= \"\"{50000000}", "repetition count");
  has("root ::= ([a-z]{1000}){1000}", "grammar too large");
  // Deep but fine: a long chain of inlined rules.
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 300; ++i) {
    chain += "r" + std::to_string(i) + " ::= \"a\" r" + std::to_string(i + 1) + "\n";
  }
  chain += "r300 ::= \"b\"\n";
  auto g = testing::compile_or_die(chain);
  ASSERT_TRUE(g);
  EXPECT_TRUE(matches(g, std::string(300, 'a') + "b"));
}

}  // namespace
}  // namespace sglang::grammar
