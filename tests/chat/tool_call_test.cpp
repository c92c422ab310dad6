#include "chat/tool_call.h"

#include <gtest/gtest.h>

namespace sglang::chat {
namespace {

TEST(ParseToolsTest, ReadsOpenAIFunctionTools) {
  auto tools = parse_tools(nlohmann::ordered_json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather.",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
      "strict": true}}])"));
  ASSERT_TRUE(tools.ok());
  ASSERT_EQ(tools->size(), 1u);
  EXPECT_EQ((*tools)[0].name, "get_weather");
  EXPECT_EQ((*tools)[0].description, "Weather.");
  EXPECT_TRUE((*tools)[0].strict);
  EXPECT_EQ((*tools)[0].parameters["properties"]["city"]["type"], "string");
}

TEST(ParseToolsTest, NamesTheEntryAtFault) {
  auto tools = parse_tools(nlohmann::ordered_json::parse(R"([{"type": "function",
    "function": {"name": "a"}}, {"type": "function", "function": {}}])"));
  ASSERT_FALSE(tools.ok());
  EXPECT_EQ(tools.error().message, "tools[1].function.name: Field required");
  EXPECT_FALSE(parse_tools(nlohmann::ordered_json::parse(R"({"a": 1})")).ok());
  EXPECT_TRUE(parse_tools(nullptr)->empty());
}

}  // namespace
}  // namespace sglang::chat
