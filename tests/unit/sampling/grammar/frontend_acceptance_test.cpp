// The front-ends' EBNF through the engine: valid instances are matched whole (accept_string +
// can_terminate), invalid ones are not. Complements the text checks of the converter suites.
#include <gtest/gtest.h>

#include "grammar_test_util.h"
#include "sampling/grammar/json_schema_converter.h"
#include "sampling/grammar/regex_converter.h"
#include "sampling/grammar/structural_tag_converter.h"

namespace sglang::grammar {
namespace {

using testing::compile_or_die;
using testing::matches;

struct Case {
  std::string input;
  std::vector<std::string> good, bad;
};

void check(Result<std::string> ebnf, const Case& c) {
  ASSERT_TRUE(ebnf.ok()) << c.input << ": " << ebnf.error().message;
  auto g = compile_or_die(*ebnf);
  ASSERT_NE(g, nullptr) << *ebnf;
  for (const auto& s : c.good)
    EXPECT_TRUE(matches(g, s)) << c.input << " should match " << s << "\n" << *ebnf;
  for (const auto& s : c.bad)
    EXPECT_FALSE(matches(g, s)) << c.input << " should not match " << s << "\n" << *ebnf;
}

TEST(FrontendAcceptance, Regex) {
  const std::vector<Case> cases = {
      {"[0-9]+", {"0", "123"}, {"", "a", "12a"}},
      {"(yes|no)?!", {"yes!", "no!", "!"}, {"yes", "maybe!"}},
      {"^\\d{3}-\\d{2,}$", {"123-45", "123-4567"}, {"12-45", "123-4"}},
      {"a.c",
       {"abc", "a\"c",
        "a\xC3\xA9"
        "c"},
       {"a\nc", "ac"}},
      {"[^a-c]x*?", {"d", "dxx", "\xE4\xB8\xAD"}, {"a", "dy"}},
      {"(?:ab){2}\\.\\\\", {"abab.\\"}, {"ab.\\", "ababx\\"}},
  };
  for (const auto& c : cases) check(regex_to_ebnf(c.input), c);
}

TEST(FrontendAcceptance, JsonSchema) {
  const std::vector<Case> cases = {
      {R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer",
          "minimum": 0, "maximum": 120}}, "required": ["name"]})",
       {R"({"name": "x"})", R"({"name":"a\"b","age":120})", "{ \"name\" : \"\" ,\n\t\"age\": 7 }"},
       {R"({"age": 3})", R"({"name": "x", "age": 121})", R"({"age": 1, "name": "x"})",
        R"({"name": "x", "extra": 1})", R"({"name": "x\u12"})", "{\"name\": \"a\nb\"}"}},
      {R"({"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 2})",
       {"[1]", "[-0.5, 2e10]"},
       {"[]", "[1,2,3]", "[01]", "[1.]"}},
      {R"({"enum": ["a", 1, null]})", {"\"a\"", "1", "null"}, {"\"b\"", "2"}},
      {R"({"type": ["integer", "null"], "exclusiveMinimum": -3, "maximum": 10})",
       {"-2", "0", "10", "null"},
       {"-3", "11", "-0", "1.5"}},
      {R"({"type": "string", "minLength": 2, "maxLength": 3})",
       {"\"ab\"", "\"a\\nb\"", "\"\xC3\xA9\xC3\xA9\""},
       {"\"a\"", "\"abcd\""}},
      {R"({"type": "string", "format": "date"})", {"\"2024-02-29\""}, {"\"2024-13-01\""}},
      {R"({"type": "string", "pattern": "^[a-z]+\"$"})", {"\"ab\\\"\""}, {"\"ab\"\"", "\"ab\""}},
      {R"({"$defs": {"n": {"type": "object", "properties": {"c": {"type": "array",
          "items": {"$ref": "#/$defs/n"}}}}}, "$ref": "#/$defs/n"})",
       {"{}", R"({"c": [{}, {"c": []}]})"},
       {R"({"c": [1]})"}},
      {R"({"prefixItems": [{"type": "boolean"}, {"const": "x"}], "items": false})",
       {"[true, \"x\"]"},
       {"[true]", "[true, \"x\", 1]"}},
  };
  for (const auto& c : cases) check(json_schema_to_ebnf(c.input), c);
  JsonSchemaOptions compact;
  compact.any_whitespace = false;
  check(
      json_schema_to_ebnf(R"({"properties": {"a": {"type": "null"}}, "required": ["a"]})", compact),
      {"compact", {R"({"a": null})"}, {R"({"a":null})", R"({ "a": null })"}});
  check(builtin_json_ebnf(), {"builtin", {"{}", "[1, {\"a\": [true, null]}]"}, {"1", "\"s\""}});
}

TEST(FrontendAcceptance, StructuralTags) {
  const std::string legacy = R"({"structures": [{"begin": "<tool=a>", "schema": {"type":
      "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}, "end": "</tool>"}],
      "triggers": ["<tool="]})";
  check(structural_tag_to_ebnf(legacy), {legacy,
                                         {"hello", "", "text <tool=a>{\"x\": 1}</tool> more",
                                          "<tool=a>{\"x\":2}</tool><tool=a>{\"x\":3}</tool>"},
                                         {"<tool=a>{\"x\": \"s\"}</tool>", "<tool=b>{}</tool>"}});
  const std::string tag = R"({"type": "structural_tag", "format": {"type": "sequence", "elements": [
      {"type": "tag", "begin": "<think>", "content": {"type": "any_text"}, "end": "</think>"},
      {"type": "const_string", "value": "A: "},
      {"type": "regex", "pattern": "[0-9]+"}]}})";
  check(structural_tag_to_ebnf(tag),
        {tag, {"<think>hmm</think>A: 42", "<think></think>A: 0"}, {"<think>x</think>A: ", "A: 1"}});
}

}  // namespace
}  // namespace sglang::grammar
