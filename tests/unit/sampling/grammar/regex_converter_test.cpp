// Python `re` patterns to xgrammar-dialect EBNF: the text of each construct, and the errors for
// what a grammar cannot express. (Acceptance of strings through the engine is in
// frontend_acceptance_test.cpp once the engine is there.)
#include "sampling/grammar/regex_converter.h"

#include <gtest/gtest.h>

namespace sglang::grammar {
namespace {

std::string expr(std::string_view pattern, bool json = false) {
  auto r = regex_to_ebnf_expr(pattern, RegexOptions{json});
  EXPECT_TRUE(r.ok()) << pattern << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : "";
}

std::string error_of(std::string_view pattern) {
  auto r = regex_to_ebnf_expr(pattern);
  EXPECT_FALSE(r.ok()) << pattern << " converted to " << (r.ok() ? *r : "");
  return r.ok() ? "" : r.error().message;
}

TEST(RegexConverter, LiteralsMergeAndQuote) {
  EXPECT_EQ(expr("abc"), "\"abc\"");
  EXPECT_EQ(expr(""), "\"\"");
  EXPECT_EQ(expr("a\"b\\\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(expr("\\n\\t\\r"), "\"\\n\\t\\r\"");
  EXPECT_EQ(expr("\\x41\\u00e9\\U0001F600"), "\"A\xC3\xA9\xF0\x9F\x98\x80\"");
  EXPECT_EQ(expr("\\.\\*\\{"), "\".*{\"");
  EXPECT_EQ(expr("\\x01"), "\"\\u0001\"");  // never \x: xgrammar reads any number of hex digits
  EXPECT_EQ(regex_to_ebnf("ab").value(), "root ::= \"ab\"\n");
}

TEST(RegexConverter, ClassesAndEscapes) {
  EXPECT_EQ(expr("[a-z0-9_]"), "[0-9_a-z]");
  EXPECT_EQ(expr("[]a]"), "[\\]a]");
  EXPECT_EQ(expr("[a-]"), "[\\-a]");
  EXPECT_EQ(expr("\\d"), "[0-9]");
  EXPECT_EQ(expr("\\w"), "[0-9A-Z_a-z]");
  EXPECT_EQ(expr("\\s"),
            "[\\t-\\r\\u001C- \xC2\x85\xC2\xA0\xE1\x9A\x80\xE2\x80\x80-\xE2\x80\x8A"
            "\xE2\x80\xA8\xE2\x80\xA9\xE2\x80\xAF\xE2\x81\x9F\xE3\x80\x80]");
  // Negation: everything but the listed code points (surrogates are never matched).
  EXPECT_EQ(expr("[^a]"), "[\\u0000-`b-\xED\x9F\xBF\xEE\x80\x80-\xF4\x8F\xBF\xBF]");
  EXPECT_EQ(expr("."), "[\\u0000-\\t\\u000B-\xED\x9F\xBF\xEE\x80\x80-\xF4\x8F\xBF\xBF]");
  // \D and \W stay ASCII (Python's \d and \w are Unicode-wide): every output still matches.
  EXPECT_EQ(expr("\\D"), "[\\u0000-/:-\\u007F]");
  EXPECT_EQ(expr("[^\\d]"), "[\\u0000-/:-\\u007F]");
  EXPECT_EQ(expr("[\\b]"), "\"\\u0008\"");
  EXPECT_EQ(expr("[.]"), "\".\"");
}

TEST(RegexConverter, QuantifiersAndGroups) {
  EXPECT_EQ(expr("a*b+c?"), "\"a\"* \"b\"+ \"c\"?");
  EXPECT_EQ(expr("a{3}"), "\"a\"{3}");
  EXPECT_EQ(expr("a{2,}"), "\"a\"{2,}");
  EXPECT_EQ(expr("a{2,5}"), "\"a\"{2,5}");
  EXPECT_EQ(expr("a{,5}"), "\"a\"{0,5}");
  EXPECT_EQ(expr("a{0}b"), "\"b\"");
  EXPECT_EQ(expr("a*?b+?c??d{1,2}?"), "\"a\"* \"b\"+ \"c\"? \"d\"{1,2}");
  EXPECT_EQ(expr("a{"), "\"a{\"");
  EXPECT_EQ(expr("a{}"), "\"a{}\"");
  EXPECT_EQ(expr("a{x}"), "\"a{x}\"");
  EXPECT_EQ(expr("ab|cd|"), "\"ab\" | \"cd\" | \"\"");
  EXPECT_EQ(expr("(ab)+"), "\"ab\"+");  // a literal is one element
  EXPECT_EQ(expr("(?:a|b)*c"), "(\"a\" | \"b\")* \"c\"");
  EXPECT_EQ(expr("(?P<year>\\d{4})-(\\d{2})"), "[0-9]{4} \"-\" [0-9]{2}");
  EXPECT_EQ(expr("a(?#comment)b"), "\"ab\"");
}

TEST(RegexConverter, AnchorsAtTheEnds) {
  EXPECT_EQ(expr("^abc$"), "\"abc\"");
  EXPECT_EQ(expr("^(a|b)$"), "\"a\" | \"b\"");
  EXPECT_EQ(expr("^a$|^b$"), "\"a\" | \"b\"");
  EXPECT_EQ(expr("(^a$|^b$)"), "\"a\" | \"b\"");
  EXPECT_EQ(expr("x(a|b)y"), "\"x\" (\"a\" | \"b\") \"y\"");
  EXPECT_EQ(expr("\\Aab\\Z"), "\"ab\"");
  EXPECT_NE(error_of("a^b").find("'^' anchor"), std::string::npos);
  EXPECT_NE(error_of("a$b").find("'$' anchor"), std::string::npos);
  EXPECT_NE(error_of("(a$|b)c").find("'$' anchor"), std::string::npos);
}

TEST(RegexConverter, JsonStringModeEscapesWhatJsonMust) {
  EXPECT_EQ(expr("a\"b", true), "\"a\\\\\\\"b\"");  // the JSON text a\"b
  EXPECT_EQ(expr("\\\\", true), "\"\\\\\\\\\"");    // the JSON text \\ (one backslash)
  EXPECT_EQ(expr("\\n", true), "\"\\\\n\"");        // the JSON text \n
  EXPECT_EQ(expr("[a\"]", true), "(\"a\" | \"\\\\\\\"\")");
  // A class keeps its printable part; JSON-escaped members become alternatives.
  const std::string dot = expr(".", true);
  EXPECT_EQ(dot.substr(0, 5), "([ !#");
  EXPECT_NE(dot.find("\"\\\\u001f\""), std::string::npos);
  EXPECT_EQ(dot.find("\"\\\\n\""), std::string::npos);  // '.' does not match a newline
}

TEST(RegexConverter, ErrorsNameTheConstruct) {
  EXPECT_NE(error_of("(a)\\1").find("backreference"), std::string::npos);
  EXPECT_NE(error_of("(?P<x>a)(?P=x)").find("backreference"), std::string::npos);
  EXPECT_NE(error_of("a(?=b)").find("lookahead"), std::string::npos);
  EXPECT_NE(error_of("a(?!b)").find("lookahead"), std::string::npos);
  EXPECT_NE(error_of("(?<=a)b").find("lookbehind"), std::string::npos);
  EXPECT_NE(error_of("\\bfoo").find("word boundary"), std::string::npos);
  EXPECT_NE(error_of("(?i)abc").find("inline flags"), std::string::npos);
  EXPECT_NE(error_of("a*+").find("possessive"), std::string::npos);
  EXPECT_NE(error_of("(?>a*)").find("atomic group"), std::string::npos);
  EXPECT_NE(error_of("(ab").find("missing ')'"), std::string::npos);
  EXPECT_NE(error_of("ab)").find("unbalanced parenthesis"), std::string::npos);
  EXPECT_NE(error_of("[ab").find("unterminated character set"), std::string::npos);
  EXPECT_NE(error_of("*a").find("nothing to repeat"), std::string::npos);
  EXPECT_NE(error_of("a**").find("multiple repeat"), std::string::npos);
  EXPECT_NE(error_of("a{3,2}").find("min repeat greater than max repeat"), std::string::npos);
  EXPECT_NE(error_of("[z-a]").find("bad character range"), std::string::npos);
  EXPECT_NE(error_of("[\\d-z]").find("bad character range"), std::string::npos);
  EXPECT_NE(error_of("\\q").find("bad escape \\q"), std::string::npos);
  EXPECT_NE(error_of("\\x4").find("incomplete escape \\x"), std::string::npos);
  EXPECT_NE(error_of("a{1000000}").find("repeat count"), std::string::npos);
  EXPECT_NE(error_of("[^\\x00-\\U0010FFFF]").find("matches nothing"), std::string::npos);
  EXPECT_NE(error_of("\\").find("bad escape"), std::string::npos);
}

TEST(RegexConverter, DeepNestingIsAnErrorNotACrash) {
  std::string deep(5000, '(');
  deep += "a" + std::string(5000, ')');
  EXPECT_NE(error_of(deep).find("too many nested groups"), std::string::npos);
}

}  // namespace
}  // namespace sglang::grammar
