// JSON Schema to xgrammar-dialect EBNF: the shape of each construct (schema order, optional
// properties, strict mode, whitespace policy, ranges) and the errors that name the problem.
#include "sampling/grammar/json_schema_converter.h"

#include <gtest/gtest.h>

#include "sampling/grammar/number_range.h"

namespace sglang::grammar {
namespace {

std::string ebnf(std::string_view schema, JsonSchemaOptions options = {}) {
  auto r = json_schema_to_ebnf(schema, options);
  EXPECT_TRUE(r.ok()) << schema << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : "";
}

std::string error_of(std::string_view schema) {
  auto r = json_schema_to_ebnf(schema);
  EXPECT_FALSE(r.ok()) << schema << " converted to " << (r.ok() ? *r : "");
  return r.ok() ? "" : r.error().message;
}

bool has(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

JsonSchemaOptions compact() {
  JsonSchemaOptions o;
  o.any_whitespace = false;
  return o;
}

TEST(JsonSchemaConverter, PlainTypesAreTheBasicRules) {
  EXPECT_EQ(ebnf(R"({"type": "integer"})"),
            "root ::= basic_integer\nbasic_integer ::= \"0\" | \"-\"? [1-9] [0-9]*\n");
  EXPECT_TRUE(has(ebnf(R"({"type": "string", "title": "t"})"), "root ::= basic_string\n"));
  EXPECT_TRUE(has(ebnf("true"), "root ::= basic_any\n"));
  EXPECT_TRUE(has(ebnf("{}"), "root ::= basic_any\n"));
  // JSON strings: any character but `"`, `\` and controls, or one of JSON's escapes.
  const std::string s = ebnf(R"({"type": "string"})");
  EXPECT_TRUE(has(s, "basic_char ::= [^\"\\\\\\u0000-\\u001F] | \"\\\\\" basic_escape\n"));
  EXPECT_TRUE(has(s, "basic_escape ::= [\"\\\\/bfnrt] | \"u\" [A-Fa-f0-9]{4}\n"));
  EXPECT_TRUE(has(ebnf(R"({"type": "number"})"),
                  "basic_number ::= \"-\"? (\"0\" | [1-9] [0-9]*) (\".\" [0-9]+)? ([eE] [+\\-]? "
                  "[0-9]+)?\n"));
}

TEST(JsonSchemaConverter, PropertiesInSchemaOrderOptionalOnesSkippable) {
  const std::string g = ebnf(
      R"({"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}},
          "required": ["b"]})",
      compact());
  EXPECT_TRUE(has(g, "root ::= \"{\" \"\\\"b\\\"\" \": \" basic_integer root_part_0 \"}\"\n"));
  EXPECT_TRUE(has(g, "root_part_0 ::= \", \" \"\\\"a\\\"\" \": \" basic_string | \"\"\n"));
  // All optional: either may come first, and the empty object is allowed.
  const std::string o =
      ebnf(R"({"properties": {"x": {"type": "null"}, "y": {"type": "null"}}})", compact());
  EXPECT_TRUE(has(o,
                  "root ::= \"{\" (\"\\\"x\\\"\" \": \" basic_null root_part_0 | "
                  "\"\\\"y\\\"\" \": \" basic_null) \"}\" | \"{\" \"}\"\n"));
}

TEST(JsonSchemaConverter, AnyWhitespaceIsSglangsDefault) {
  const std::string g = ebnf(R"({"type": "object", "properties": {"a": {"type": "boolean"}},
                                 "required": ["a"]})");
  EXPECT_TRUE(has(g,
                  "root ::= \"{\" [ \\n\\t]* \"\\\"a\\\"\" [ \\n\\t]* \":\" [ \\n\\t]* "
                  "basic_boolean [ \\n\\t]* \"}\"\n"));
}

TEST(JsonSchemaConverter, IndentWritesNewlinesPerLevel) {
  JsonSchemaOptions o = compact();
  o.indent = 2;
  const std::string g = ebnf(R"({"type": "object", "properties": {"a": {"type": "array",
      "items": {"type": "null"}}}, "required": ["a"]})",
                             o);
  EXPECT_TRUE(has(g, "root ::= \"{\" \"\\n  \" \"\\\"a\\\"\" \": \" root_prop_0 \"\\n\" \"}\"\n"));
  EXPECT_TRUE(has(g, "\"[\" \"\\n    \" basic_null (\",\\n    \" basic_null)* \"\\n  \" \"]\""));
}

TEST(JsonSchemaConverter, StrictModeAndAdditionalProperties) {
  EXPECT_TRUE(
      has(ebnf(R"({"type": "object", "properties": {}})", compact()), "root ::= \"{\" \"}\"\n"));
  // {"type": "object"} alone is any object (xgrammar's basic_object).
  EXPECT_TRUE(has(ebnf(R"({"type": "object"})"), "root ::= basic_object\n"));
  const std::string add =
      ebnf(R"({"type": "object", "additionalProperties": {"type": "integer"}})", compact());
  EXPECT_TRUE(has(add,
                  "root ::= \"{\" basic_string \": \" basic_integer (\", \" basic_string \": "
                  "\" basic_integer)* \"}\" | \"{\" \"}\"\n"));
  JsonSchemaOptions loose = compact();
  loose.strict_mode = false;
  EXPECT_TRUE(has(ebnf(R"({"type": "object", "properties": {}})", loose), "basic_any"));
  EXPECT_TRUE(has(ebnf(R"({"type": "array"})", loose), "root ::= basic_array\n"));
}

TEST(JsonSchemaConverter, Arrays) {
  EXPECT_TRUE(has(ebnf(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2,
                           "maxItems": 4})",
                       compact()),
                  "root ::= \"[\" basic_integer (\", \" basic_integer){1,3} \"]\"\n"));
  EXPECT_TRUE(has(ebnf(R"({"prefixItems": [{"type": "null"}, {"type": "boolean"}]})", compact()),
                  "root ::= \"[\" basic_null \", \" basic_boolean \"]\"\n"));
  EXPECT_TRUE(
      has(ebnf(R"({"type": "array", "items": false})", compact()), "root ::= \"[\" \"]\"\n"));
}

TEST(JsonSchemaConverter, EnumConstAnyOfTypeLists) {
  EXPECT_TRUE(has(ebnf(R"({"enum": ["a\"b", 1, null, {"k": [true]}]})"),
                  "root ::= \"\\\"a\\\\\\\"b\\\"\" | \"1\" | \"null\" | \"{\\\"k\\\":[true]}\"\n"));
  EXPECT_TRUE(has(ebnf(R"({"const": "x"})"), "root ::= \"\\\"x\\\"\"\n"));
  EXPECT_TRUE(has(ebnf(R"({"oneOf": [{"type": "string"}, {"type": "integer"}]})"),
                  "root ::= basic_string | basic_integer\n"));
  EXPECT_TRUE(has(ebnf(R"({"type": ["string", "null"]})"), "root ::= basic_string | basic_null\n"));
  EXPECT_TRUE(has(ebnf(R"({"allOf": [{"type": "boolean"}]})"), "root ::= basic_boolean\n"));
}

TEST(JsonSchemaConverter, RefsIncludingRecursive) {
  const std::string g = ebnf(R"({"$defs": {"node": {"type": "object",
      "properties": {"next": {"$ref": "#/$defs/node"}}}}, "$ref": "#/$defs/node"})",
                             compact());
  EXPECT_TRUE(has(g, "root ::= node\n"));
  EXPECT_TRUE(has(g, "node ::= \"{\" \"\\\"next\\\"\" \": \" node \"}\" | \"{\" \"}\"\n"));
  EXPECT_TRUE(has(ebnf(R"({"type": "object", "properties": {"self": {"$ref": "#"}}})", compact()),
                  "\": \" root \"}\""));
}

TEST(JsonSchemaConverter, StringsPatternFormatLength) {
  EXPECT_TRUE(has(ebnf(R"({"type": "string", "pattern": "^[a-c]+\"$"})"),
                  "root ::= \"\\\"\" ([a-c]+ \"\\\\\\\"\") \"\\\"\"\n"));
  EXPECT_TRUE(has(ebnf(R"({"type": "string", "format": "date"})"),
                  "root ::= \"\\\"\" ([0-9]{4} \"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\""));
  EXPECT_TRUE(has(ebnf(R"({"type": "string", "minLength": 2, "maxLength": 5})"),
                  "root ::= \"\\\"\" (basic_counted_char){2,5} \"\\\"\"\n"));
  // An unknown format is ignored (as xgrammar).
  EXPECT_TRUE(has(ebnf(R"({"type": "string", "format": "color"})"), "root ::= basic_string\n"));
}

TEST(JsonSchemaConverter, IntegerRanges) {
  EXPECT_EQ(integer_range_ebnf({0.0, 9.0}).value(), "[0-9]");
  EXPECT_EQ(integer_range_ebnf({-5.0, 120.0}).value(),
            "(\"-\" [1-5] | ([0-9] | [1-9] [0-9] | \"1\" ([0-1] [0-9] | \"2\" \"0\")))");
  EXPECT_EQ(integer_range_ebnf({NumberBounds{10.0, std::nullopt}}).value(),
            "([1-9] [0-9] | [1-9] [0-9]{2,})");
  NumberBounds exclusive{0.0, 10.0, true, true};
  EXPECT_EQ(integer_range_ebnf(exclusive).value(), "[1-9]");
  EXPECT_FALSE(integer_range_ebnf({NumberBounds{5.0, 4.0}}).ok());
  EXPECT_FALSE(integer_range_ebnf({NumberBounds{1e300, std::nullopt}}).ok());
  // Numbers: the integers in range, and N.ddd where [N, N+1) is inside.
  EXPECT_EQ(number_range_ebnf({0.0, 2.0}).value(), "([0-2] | [0-1] \".\" [0-9]+)");
}

TEST(JsonSchemaConverter, ErrorsNameTheProblem) {
  EXPECT_TRUE(has(error_of("{not json"), "not valid JSON"));
  EXPECT_TRUE(has(error_of(R"({"$ref": "#/$defs/missing"})"), "does not resolve"));
  EXPECT_TRUE(has(error_of(R"({"$ref": "http://x/y.json"})"), "same document"));
  EXPECT_TRUE(has(error_of(R"({"type": "string", "pattern": "(a"})"), "pattern (a: invalid regex"));
  EXPECT_TRUE(has(error_of(R"({"type": "strin"})"), "unsupported type \"strin\""));
  EXPECT_TRUE(has(error_of(R"({"enum": []})"), "enum must not be empty"));
  EXPECT_TRUE(has(error_of("false"), "accepts no value"));
  EXPECT_TRUE(has(error_of(R"({"allOf": [{}, {}]})"), "allOf with 2 schemas"));
  EXPECT_TRUE(has(error_of(R"({"type": "array", "minItems": 3, "maxItems": 1, "items": {}})"),
                  "minItems is greater than maxItems"));
  EXPECT_TRUE(has(error_of(R"({"type": "string", "minLength": 3, "maxLength": 1})"),
                  "minLength 3 is greater than maxLength 1"));
  EXPECT_TRUE(has(error_of(R"({"type": "integer", "minimum": 5, "maximum": 1})"), "empty"));
  EXPECT_TRUE(has(error_of(R"({"properties": 3})"), "properties must be an object"));
  // Constraints not enforced yet are refused, not silently dropped (also when nested).
  EXPECT_TRUE(
      has(error_of(R"({"type": "integer", "multipleOf": 3})"), "multipleOf is not supported yet"));
  EXPECT_TRUE(has(error_of(R"({"type": "object", "properties": {"a": {"type": "object",
                  "minProperties": 1}}})"),
                  "minProperties is not supported yet"));
  EXPECT_TRUE(has(error_of(R"({"type": "object", "patternProperties": {"^x": {}}})"),
                  "patternProperties is not supported yet"));
}

TEST(JsonSchemaConverter, DeepSchemasAreAnErrorNotACrash) {
  std::string deep;
  for (int i = 0; i < 500; ++i) deep += R"({"type": "array", "items": )";
  deep += "{}";
  deep += std::string(500, '}');
  EXPECT_TRUE(has(error_of(deep), "nested too deeply"));
}

TEST(JsonSchemaConverter, BuiltinJsonIsAnObjectOrArray) {
  const std::string g = builtin_json_ebnf();
  EXPECT_TRUE(has(g, "root ::= basic_object | basic_array\n"));
  EXPECT_TRUE(has(g, "basic_any ::= "));
}

}  // namespace
}  // namespace sglang::grammar
