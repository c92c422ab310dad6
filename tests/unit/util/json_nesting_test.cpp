#include "util/json_nesting.h"

#include <gtest/gtest.h>

#include <string>

namespace sglang {
namespace {

std::string nested(int depth, char open = '[', char close = ']') {
  return std::string(static_cast<size_t>(depth), open) +
         std::string(static_cast<size_t>(depth), close);
}

TEST(JsonNesting, CountsArraysAndObjectsOutsideStrings) {
  EXPECT_TRUE(json_nesting_within(nested(kMaxJsonNesting)));
  EXPECT_FALSE(json_nesting_within(nested(kMaxJsonNesting + 1)));
  EXPECT_TRUE(json_nesting_within(R"({"a": [{"b": [1]}]})", 4));
  EXPECT_FALSE(json_nesting_within(R"({"a": [{"b": [1]}]})", 3));
  // Brackets inside strings, escaped quotes included, do not nest.
  EXPECT_TRUE(json_nesting_within(R"(["[[[[", "\"[[[[", "\\"])", 1));
  EXPECT_FALSE(json_nesting_within(R"(["\\", [[]]])", 2));
  // Closing brackets past the top do not buy depth back.
  EXPECT_FALSE(json_nesting_within("]]]]" + nested(3), 2));
}

TEST(JsonNesting, TooDeepParsesAsDiscarded) {
  EXPECT_EQ(parse_json_within_nesting<nlohmann::ordered_json>("[[1]]").dump(), "[[1]]");
  EXPECT_TRUE(
      parse_json_within_nesting<nlohmann::json>(nested(kMaxJsonNesting + 1)).is_discarded());
  EXPECT_TRUE(parse_json_within_nesting<nlohmann::json>("[1,").is_discarded());
}

}  // namespace
}  // namespace sglang
