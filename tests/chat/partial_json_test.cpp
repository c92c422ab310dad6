#include "chat/function_call/partial_json.h"

#include <gtest/gtest.h>

#include "chat/function_call/python_json.h"
#include "chat/function_call/python_literal.h"
#include "chat/parser_reference.h"

namespace sglang::chat {
namespace {

using nlohmann::ordered_json;

// The byte length of the first `chars` code points of `text` (Python counts characters).
size_t utf8_bytes(const std::string& text, size_t chars) {
  size_t i = 0;
  for (size_t c = 0; c < chars && i < text.size(); ++c) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

// Every prefix of the reference texts through SGLang's _partial_json_loads, both flag sets.
TEST(PartialJsonTest, MatchesSglangOnEveryPrefix) {
  const auto& entries = testing::parser_reference()["partial_json"];
  ASSERT_GT(entries.size(), 400u);
  for (const auto& e : entries) {
    const std::string text = e[0];
    const unsigned flags = e[1] == "all" ? allow::kAll : allow::kAll & ~allow::kStr;
    SCOPED_TRACE(text + " / " + e[1].get<std::string>());
    auto got = parse_partial_json(text, flags);
    if (e[2].is_null()) {
      EXPECT_FALSE(got.ok());
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(python_json_dumps(got->value, false), e[2].get<std::string>());
    EXPECT_EQ(got->consumed, utf8_bytes(text, e[3].get<size_t>()));
    EXPECT_EQ(got->complete, e[4].get<bool>());
  }
}

TEST(PartialJsonTest, CompletesAsPartialJsonParser) {
  auto read = [](std::string_view text, unsigned flags = allow::kAll) {
    auto r = parse_partial_json(text, flags);
    return r.ok() ? python_json_dumps(r->value, false) : "error";
  };
  EXPECT_EQ(read(R"({"a": "hel)"), R"({"a": "hel"})");
  EXPECT_EQ(read(R"({"a": "hel)", allow::kAll & ~allow::kStr), "{}");
  EXPECT_EQ(read(R"({"a": 12)"), R"({"a": 12})");
  EXPECT_EQ(read(R"({"a": 1.)"), R"({"a": 1})");
  EXPECT_EQ(read(R"({"a": tr)"), R"({"a": true})");  // a partial literal reads as the literal
  EXPECT_EQ(read(R"({"a": "x\)"), R"({"a": "x"})");  // an unfinished escape is dropped
  EXPECT_EQ(read(R"({"a": "x\u00)"), R"({"a": "x"})");
  EXPECT_EQ(read(R"({"a": [1, 2, {"b)"), R"({"a": [1, 2, {}]})");
  EXPECT_EQ(read(R"({"a": 1, "b)"), R"({"a": 1})");
  EXPECT_EQ(read(R"({"a": "x  )"), R"({"a": "x"})");  // the text is stripped first
  EXPECT_EQ(read(R"({"a" 1})"), "error");
  EXPECT_EQ(read("   "), "error");
  auto extra = parse_partial_json("{\"a\": 1}\n</tool_call>", allow::kAll);
  ASSERT_TRUE(extra.ok());
  EXPECT_EQ(extra->consumed, 8u);  // raw_decode's end when text follows
  EXPECT_TRUE(extra->complete);
  auto blanks = parse_partial_json("{\"a\": 1}\n ", allow::kAll);
  EXPECT_EQ(blanks->consumed, 10u);  // json.loads took it all
}

TEST(PartialJsonTest, RawDecode) {
  auto r = raw_decode_json(R"({"a": [1]};{"b": 2})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->consumed, 10u);
  EXPECT_FALSE(raw_decode_json(R"( {"a": 1})").ok());  // raw_decode does not skip blanks
  EXPECT_FALSE(raw_decode_json(R"({"a": })").ok());
  EXPECT_FALSE(raw_decode_json(R"({"a": 1)").ok());
}

TEST(PythonJsonTest, DumpsAsPython) {
  auto dumps = [](std::string_view json, bool ascii) {
    return python_json_dumps(ordered_json::parse(json), ascii);
  };
  EXPECT_EQ(dumps(R"({"a":1,"b":[true,null,"x"],"c":{}})", false),
            R"({"a": 1, "b": [true, null, "x"], "c": {}})");
  EXPECT_EQ(dumps("[1.0, 1.5, 100000.0, 1e16, 1e-5, 0.0001, -0.0, 123456789012345678]", false),
            "[1.0, 1.5, 100000.0, 1e+16, 1e-05, 0.0001, -0.0, 123456789012345678]");
  EXPECT_EQ(dumps("[0.1, 2.5e-7, 1.7976931348623157e308, 12345.678]", false),
            "[0.1, 2.5e-07, 1.7976931348623157e+308, 12345.678]");
  EXPECT_EQ(dumps(R"(["é東😀\n\t\"\\\u0001\u007f"])", false), "[\"é東😀\\n\\t\\\"\\\\\\u0001\x7f\"]");
  EXPECT_EQ(dumps(R"(["é東😀\u007f"])", true), R"(["\u00e9\u6771\ud83d\ude00\u007f"])");
}

TEST(PythonJsonTest, CompleteUtf8Prefix) {
  const std::string s = "a東";  // 61 e6 9d b1
  EXPECT_EQ(complete_utf8_prefix(s), s);
  EXPECT_EQ(complete_utf8_prefix(s.substr(0, 3)), "a");
  EXPECT_EQ(complete_utf8_prefix(s.substr(0, 2)), "a");
  EXPECT_EQ(complete_utf8_prefix(""), "");
}

TEST(PythonLiteralTest, ReadsCallLists) {
  auto calls = parse_python_call_list(
      R"([f(a=1, b='x', c="y\n", d=[1, 2.5, None], e={"k": True, 1: False}), m.g(z=0), h()])");
  ASSERT_TRUE(calls.has_value());
  ASSERT_EQ(calls->size(), 3u);
  EXPECT_EQ((*calls)[0].name, "f");
  EXPECT_EQ(python_json_dumps((*calls)[0].arguments, false),
            R"({"a": 1, "b": "x", "c": "y\n", "d": [1, 2.5, null], "e": {"k": true, "1": false}})");
  EXPECT_FALSE((*calls)[1].name.has_value());  // a dotted callee: SGLang skips the call
  EXPECT_TRUE((*calls)[2].arguments.empty());
  // What ast gives SGLang as a non-literal (UnaryOp, Tuple, Name, JoinedStr) fails the list.
  EXPECT_FALSE(parse_python_call_list("[f(a=-1)]").has_value());
  EXPECT_FALSE(parse_python_call_list("[f(a=(1, 2))]").has_value());
  EXPECT_FALSE(parse_python_call_list("[f(a=x)]").has_value());
  EXPECT_FALSE(parse_python_call_list("[f(a=f'x')]").has_value());
  EXPECT_FALSE(parse_python_call_list("[f(a=1, a=2)]").has_value());
  EXPECT_FALSE(parse_python_call_list("[1, f(a=1)]").has_value());
  auto positional = parse_python_call_list("[f('ignored', a=0x1F, s='a' \"b\", r=r'\\d')]");
  ASSERT_TRUE(positional.has_value());
  EXPECT_EQ(python_json_dumps((*positional)[0].arguments, false),
            R"({"a": 31, "s": "ab", "r": "\\d"})");
}

}  // namespace
}  // namespace sglang::chat
