#include "chat/reasoning_parser.h"

#include <gtest/gtest.h>

#include "chat/parser_reference.h"

namespace sglang::chat {
namespace {

using nlohmann::ordered_json;

std::unique_ptr<ReasoningParser> make(const ordered_json& c) {
  std::optional<bool> force;
  if (!c["force_reasoning"].is_null()) force = c["force_reasoning"].get<bool>();
  auto parser = ReasoningParser::create(c["parser"], c["stream_reasoning"].get<bool>(), force);
  EXPECT_TRUE(parser.ok());
  return std::move(parser).value();
}

TEST(ReasoningReferenceTest, MatchesSglangWholeAndStreamed) {
  const auto& cases = testing::parser_reference()["reasoning"];
  ASSERT_GE(cases.size(), 16u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    SCOPED_TRACE(c["parser"].get<std::string>() + ": " + text);
    auto whole = make(c)->parse_non_stream(text);
    EXPECT_EQ(ordered_json::array({whole.reasoning_text, whole.normal_text}), c["non_stream"]);
    for (const auto& [chunking, s] : c["streams"].items()) {
      SCOPED_TRACE(chunking);
      auto parser = make(c);
      for (size_t i = 0; i < s["chunks"].size(); ++i) {
        auto r = parser->parse_stream_chunk(s["chunks"][i].get<std::string>());
        ASSERT_EQ(ordered_json::array({r.reasoning_text, r.normal_text}), s["results"][i])
            << "chunk " << i;
      }
    }
  }
}

TEST(ReasoningParserTest, UnknownNameListsSupported) {
  auto parser = ReasoningParser::create("o1");
  ASSERT_FALSE(parser.ok());
  EXPECT_EQ(parser.error().message,
            "Unsupported model type: o1 (supported: deepseek-r1, deepseek-v3, glm45, kimi, "
            "kimi_k2, qwen3, qwen3-thinking, minimax, minimax-append-think, step3)");
  EXPECT_FALSE(ReasoningParser::create("").ok());
  EXPECT_TRUE(ReasoningParser::create("Qwen3").ok());  // SGLang lowers the name
}

TEST(ReasoningParserTest, Qwen3ForceReasoningForPrefilledThink) {
  // enable_thinking / a template that opens <think>: the output starts inside the reasoning.
  auto forced = ReasoningParser::create("qwen3", true, true).value();
  auto r = forced->parse_non_stream("step by step</think>\n\n42");
  EXPECT_EQ(r.reasoning_text, "step by step");
  EXPECT_EQ(r.normal_text, "42");
  auto plain = ReasoningParser::create("qwen3").value();
  EXPECT_EQ(plain->parse_non_stream("step by step</think>\n\n42").normal_text,
            "step by step</think>\n\n42");
}

TEST(ReasoningParserTest, StreamReasoningFalseHoldsReasoningBack) {
  auto parser = ReasoningParser::create("deepseek-r1", false).value();
  EXPECT_EQ(parser->parse_stream_chunk("thinking ").reasoning_text, "");
  EXPECT_EQ(parser->parse_stream_chunk("more").reasoning_text, "");
  auto r = parser->parse_stream_chunk("</think>answer");
  EXPECT_EQ(r.reasoning_text, "thinking more");
  EXPECT_EQ(r.normal_text, "answer");
  EXPECT_EQ(parser->parse_stream_chunk(" more answer").normal_text, " more answer");
}

TEST(ReasoningParserTest, MiniMaxAppendThink) {
  auto parser = ReasoningParser::create("minimax-append-think").value();
  EXPECT_EQ(parser->parse_non_stream("abc").normal_text, "<think>abc");
  EXPECT_EQ(parser->parse_stream_chunk("a").normal_text, "<think>a");
  EXPECT_EQ(parser->parse_stream_chunk("b").normal_text, "b");
  EXPECT_EQ(parser->think_end_token(), "</think>");
}

}  // namespace
}  // namespace sglang::chat
