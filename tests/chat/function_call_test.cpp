#include "chat/function_call/function_call_parser.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "chat/function_call/tool_choice.h"
#include "chat/parser_reference.h"

namespace sglang::chat {
namespace {

using nlohmann::ordered_json;
using testing::parser_reference;

std::vector<Tool> reference_tools() {
  ordered_json tools = ordered_json::array();
  for (const auto& t : parser_reference()["tools"]) {
    tools.push_back({{"type", "function"}, {"function", t}});
  }
  return parse_tools(tools).value();
}

std::unique_ptr<FunctionCallParser> make_parser(const std::string& name) {
  if (name == "json_array") return FunctionCallParser::create_json_array(reference_tools());
  auto parser = FunctionCallParser::create(name, reference_tools());
  EXPECT_TRUE(parser.ok()) << name;
  return std::move(parser).value();
}

ordered_json calls_json(const std::vector<ToolCallItem>& calls) {
  ordered_json out = ordered_json::array();
  for (const auto& c : calls) {
    out.push_back(
        {c.tool_index, c.name ? ordered_json(*c.name) : ordered_json(nullptr), c.parameters});
  }
  return out;
}

ordered_json result_json(const StreamingParseResult& r) {
  return ordered_json::array({r.normal_text, calls_json(r.calls)});
}

// Markers a model writes as one token; streams never split them (as the reference's ATOMIC).
const std::map<std::string, std::vector<std::string>>& atomic_markers() {
  static const std::map<std::string, std::vector<std::string>> kMarkers = {
      {"qwen25", {"<tool_call>", "</tool_call>"}},
      {"qwen", {"<tool_call>", "</tool_call>"}},
      {"llama3", {"<|python_tag|>"}},
      {"mistral", {"[TOOL_CALLS]"}},
      {"deepseekv3",
       {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>",
        "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"}},
      {"pythonic", {"<|python_start|>", "<|python_end|>"}},
  };
  return kMarkers;
}

// Byte offsets inside a marker.
std::set<size_t> inside_markers(const std::string& parser, const std::string& text) {
  std::set<size_t> inside;
  for (const auto& m : atomic_markers().at(parser)) {
    for (size_t at = text.find(m); at != std::string::npos; at = text.find(m, at + 1)) {
      for (size_t k = at + 1; k < at + m.size(); ++k) inside.insert(k);
    }
  }
  return inside;
}

bool is_char_boundary(const std::string& text, size_t k) {
  return k >= text.size() || (static_cast<unsigned char>(text[k]) & 0xC0) != 0x80;
}

struct Streamed {
  std::string normal_text;
  std::vector<std::pair<std::string, std::string>> calls;  // per tool_index: name, arguments
  bool names_first = true;  // each call's first item is its name with empty arguments
};

Streamed stream(const std::string& parser_name, const std::vector<std::string>& chunks) {
  auto parser = make_parser(parser_name);
  Streamed out;
  std::map<int, size_t> slot;
  for (const auto& chunk : chunks) {
    auto r = parser->parse_stream_chunk(chunk);
    out.normal_text += r.normal_text;
    for (const auto& c : r.calls) {
      auto [it, fresh] = slot.try_emplace(c.tool_index, out.calls.size());
      if (fresh) {
        out.calls.emplace_back();
        if (parser_name != "pythonic" && (!c.name || !c.parameters.empty())) {
          out.names_first = false;
        }
      } else if (c.name) {
        out.names_first = false;
      }
      out.calls[it->second].first += c.name.value_or("");
      out.calls[it->second].second += c.parameters;
    }
  }
  if (auto tail = parser->unstreamed_tool_args()) {
    auto [it, fresh] = slot.try_emplace(tail->tool_index, out.calls.size());
    if (fresh) out.calls.emplace_back();
    out.calls[it->second].second += tail->parameters;
  }
  return out;
}

// The streamed calls are the whole-text calls: same names, same argument values (SGLang streams
// json.dumps with ensure_ascii and returns it without, so the texts may differ in escapes).
bool same_calls(const Streamed& s, const std::vector<ToolCallItem>& whole) {
  if (s.calls.size() != whole.size()) return false;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (s.calls[i].first != whole[i].name.value_or("")) return false;
    auto a = ordered_json::parse(s.calls[i].second, nullptr, false);
    auto b = ordered_json::parse(whole[i].parameters, nullptr, false);
    if (a.is_discarded() || b.is_discarded() || a != b) return false;
  }
  return true;
}

TEST(FunctionCallReferenceTest, MatchesSglangWholeAndStreamed) {
  const auto& cases = parser_reference()["tool_calls"];
  ASSERT_GE(cases.size(), 50u);
  for (const auto& c : cases) {
    const std::string parser_name = c["parser"];
    const std::string text = c["text"];
    SCOPED_TRACE(parser_name + ": " + text);
    if (parser_name == "json_array") {
      auto calls = parse_required_tool_calls(text);
      EXPECT_EQ(calls.ok() ? calls_json(*calls) : ordered_json(nullptr), c["required_calls"]);
    } else {
      EXPECT_EQ(make_parser(parser_name)->has_tool_call(text), c["has_tool_call"].get<bool>());
      EXPECT_EQ(result_json(make_parser(parser_name)->parse_non_stream(text)), c["non_stream"]);
    }
    for (const auto& [chunking, s] : c["streams"].items()) {
      SCOPED_TRACE(chunking);
      auto parser = make_parser(parser_name);
      ASSERT_EQ(s["chunks"].size(), s["results"].size());
      for (size_t i = 0; i < s["chunks"].size(); ++i) {
        ASSERT_EQ(result_json(parser->parse_stream_chunk(s["chunks"][i].get<std::string>())),
                  s["results"][i])
            << "chunk " << i << ": " << s["chunks"][i];
      }
      auto tail = parser->unstreamed_tool_args();
      ordered_json tail_json =
          tail ? ordered_json::array({tail->tool_index, tail->parameters}) : ordered_json(nullptr);
      EXPECT_EQ(tail_json, s["unstreamed"]);
    }
  }
}

// Every split of every reference text in two (at each byte outside a marker): the streamed
// calls equal the whole-text calls exactly where SGLang's do.
TEST(FunctionCallReferenceTest, SplitAtEveryByte) {
  size_t checked = 0;
  for (const auto& c : parser_reference()["tool_calls"]) {
    if (!c.contains("split_failures")) continue;
    const std::string parser_name = c["parser"];
    const std::string text = c["text"];
    SCOPED_TRACE(parser_name + ": " + text);
    const auto whole = make_parser(parser_name)->parse_non_stream(text).calls;
    const auto inside = inside_markers(parser_name, text);
    std::set<size_t> sglang_fails;
    for (const auto& k : c["split_failures"]) sglang_fails.insert(k.get<size_t>());
    for (size_t k = 1; k < text.size(); ++k) {
      if (inside.contains(k)) continue;
      Streamed s = stream(parser_name, {text.substr(0, k), text.substr(k)});
      if (is_char_boundary(text, k)) {
        EXPECT_EQ(same_calls(s, whole), !sglang_fails.contains(k)) << "split at byte " << k;
      } else {
        // Inside a UTF-8 sequence (Python never sees this): as if split before or after it.
        size_t before = k, after = k;
        while (!is_char_boundary(text, before)) --before;
        while (!is_char_boundary(text, after)) ++after;
        bool ok = same_calls(s, whole);
        EXPECT_TRUE(ok == !sglang_fails.contains(before) || ok == !sglang_fails.contains(after))
            << "split at byte " << k;
        // The text around the calls arrives whole, the split sequence joined again.
        EXPECT_EQ(s.normal_text,
                  stream(parser_name, {text.substr(0, before), text.substr(before)}).normal_text)
            << "split at byte " << k;
      }
      EXPECT_TRUE(s.names_first) << "split at byte " << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, 4000u);
}

// Token-like random chunkings (1 to 8 bytes, UTF-8 sequences split too, markers whole) of the
// texts whose calls survive such streams in SGLang: the joined pieces are the whole-text calls,
// names first.
TEST(FunctionCallReferenceTest, RandomChunkings) {
  std::mt19937 rng(2024);
  size_t streams = 0;
  for (const auto& c : parser_reference()["tool_calls"]) {
    if (!c.value("robust", false)) continue;
    const std::string parser_name = c["parser"];
    const std::string text = c["text"];
    SCOPED_TRACE(parser_name + ": " + text);
    const auto whole = make_parser(parser_name)->parse_non_stream(text).calls;
    const auto inside = inside_markers(parser_name, text);
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<std::string> chunks;
      size_t start = 0;
      while (start < text.size()) {
        size_t k = start + std::uniform_int_distribution<size_t>(1, 8)(rng);
        while (k < text.size() && inside.contains(k)) ++k;
        k = std::min(k, text.size());
        chunks.push_back(text.substr(start, k - start));
        start = k;
      }
      Streamed s = stream(parser_name, chunks);
      EXPECT_TRUE(same_calls(s, whole)) << "trial " << trial;
      EXPECT_TRUE(s.names_first) << "trial " << trial;
      ++streams;
    }
  }
  EXPECT_GT(streams, 1000u);
}

TEST(ToolChoiceTest, JsonSchemaMatchesSglang) {
  const auto& ref = parser_reference()["json_schema"];
  ordered_json tools_json = ordered_json::array();
  for (const auto& t : ref["tools"]) tools_json.push_back({{"type", "function"}, {"function", t}});
  const auto tools = parse_tools(tools_json).value();
  for (const auto& c : ref["cases"]) {
    const std::string name = c[0];
    SCOPED_TRACE(name);
    ToolChoice choice = name == "required" ? ToolChoice{ToolChoice::Kind::kRequired, ""}
                                           : ToolChoice{ToolChoice::Kind::kFunction, name};
    auto schema = json_schema_constraint(tools, choice);
    ASSERT_TRUE(schema.ok());
    EXPECT_EQ(schema->has_value() ? **schema : ordered_json(nullptr), c[1]);
    // Key order too: the schema is compiled into a grammar.
    if (schema->has_value()) {
      EXPECT_EQ((*schema)->dump(), c[1].dump());
    }
  }
  EXPECT_FALSE(json_schema_constraint(tools, ToolChoice{})->has_value());
}

TEST(ToolChoiceTest, ConflictingDefsAndParsing) {
  auto tools = parse_tools(ordered_json::parse(R"([
    {"type": "function", "function": {"name": "a", "parameters": {"$defs": {"d": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "b", "parameters": {"$defs": {"d": {"type": "integer"}}}}}])"))
                   .value();
  auto schema = json_schema_constraint(tools, ToolChoice{ToolChoice::Kind::kRequired, ""});
  ASSERT_FALSE(schema.ok());
  EXPECT_EQ(schema.error().message,
            "Tool definition 'd' has multiple schemas, which is not supported.");
  EXPECT_EQ(parse_tool_choice(nullptr)->kind, ToolChoice::Kind::kAuto);
  EXPECT_EQ(parse_tool_choice("none")->kind, ToolChoice::Kind::kNone);
  EXPECT_EQ(parse_tool_choice("required")->kind, ToolChoice::Kind::kRequired);
  auto named =
      parse_tool_choice(ordered_json::parse(R"({"type": "function", "function": {"name": "a"}})"));
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->kind, ToolChoice::Kind::kFunction);
  EXPECT_EQ(named->function_name, "a");
  EXPECT_FALSE(parse_tool_choice("sometimes").ok());
  EXPECT_FALSE(parse_required_tool_calls("[{\"name\": \"a\"}]").ok());
}

TEST(FunctionCallParserTest, UnknownNameListsSupported) {
  auto parser = FunctionCallParser::create("hermes", reference_tools());
  ASSERT_FALSE(parser.ok());
  EXPECT_EQ(parser.error().message,
            "Unsupported tool_call_parser: hermes (supported: deepseekv3, llama3, mistral, "
            "pythonic, qwen, qwen25)");
}

TEST(FunctionCallParserTest, WithoutToolsTextPassesThrough) {
  auto parser = FunctionCallParser::create("qwen25", {}).value();
  const std::string text = "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>";
  EXPECT_FALSE(parser->has_tool_call(text));
  EXPECT_EQ(parser->parse_non_stream(text).normal_text, text);
  EXPECT_EQ(parser->parse_stream_chunk("<tool_call>\n").normal_text, "<tool_call>\n");
}

TEST(FunctionCallParserTest, StreamsNameThenArgumentFragments) {
  auto parser = make_parser("qwen25");
  std::vector<StreamingParseResult> out;
  for (std::string piece : {"<tool_call>\n", "{\"name\": \"get_weather\", ", "\"arguments\": {",
                            "\"city\": \"Pa", "ris\"}}", "\n</tool_call>"}) {
    out.push_back(parser->parse_stream_chunk(piece));
  }
  ASSERT_EQ(out[1].calls.size(), 1u);  // the name, once its string is complete
  EXPECT_EQ(out[1].calls[0].name, "get_weather");
  EXPECT_EQ(out[1].calls[0].parameters, "");
  EXPECT_TRUE(out[2].calls.empty());  // {} is falsy: nothing streamed yet
  EXPECT_TRUE(out[3].calls.empty());  // first sight of the arguments: no previous state
  ASSERT_EQ(out[4].calls.size(), 1u);
  EXPECT_FALSE(out[4].calls[0].name.has_value());
  EXPECT_EQ(out[4].calls[0].parameters, "{\"city\": \"Paris\"}");
  EXPECT_EQ(out[5].normal_text, "");
}

TEST(FunctionCallParserTest, UnicodeArgumentsStreamEscapedAndParseRaw) {
  // As SGLang: parse_non_stream writes json.dumps(ensure_ascii=False), streaming json.dumps's
  // default (escaped), and the serving layer's tail is unescaped again.
  auto parser = make_parser("qwen25");
  const std::string text =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"東京\"}}\n</tool_call>";
  EXPECT_EQ(parser->parse_non_stream(text).calls.at(0).parameters, "{\"city\": \"東京\"}");
  std::string streamed;
  auto s = make_parser("qwen25");
  for (char c : text) {
    for (const auto& call : s->parse_stream_chunk(std::string(1, c)).calls)
      streamed += call.parameters;
  }
  EXPECT_EQ(streamed, "{\"city\": \"\\u6771\\u4eac\"}");
  EXPECT_FALSE(s->unstreamed_tool_args().has_value());
}

}  // namespace
}  // namespace sglang::chat
