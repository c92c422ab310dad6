// SGLang's native parser routes (http_server.py): POST /parse_function_call splits a text into
// normal text and tool calls with a named --tool-call-parser format; POST /separate_reasoning
// splits a reasoning model's text. The parsers are chat/'s, the same the OpenAI chat route uses.
#include "chat/function_call/function_call_parser.h"
#include "chat/reasoning_parser.h"
#include "server/api_server.h"

namespace sglang {

using json = nlohmann::ordered_json;

void ApiServer::parse_function_call(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body)) return respond_error(ex, *e);
  if (!body.contains("text"))
    return respond_error(ex, ApiError::validation("Field required: text"));
  if (!body["text"].is_string()) {
    return respond_error(ex, ApiError::validation("Input should be a valid string: text"));
  }
  auto tools = chat::parse_tools(body.contains("tools") ? json(body["tools"]) : json(nullptr));
  if (!tools.ok()) return respond_error(ex, ApiError::validation(tools.error().message));
  const auto name = body.find("tool_call_parser");
  if (name == body.end() || !name->is_string()) {
    return respond_error(
        ex, ApiError::validation("tool_call_parser is required (a string: one of " + [] {
          std::string s;
          for (const auto& n : chat::FunctionCallParser::supported_names())
            s += (s.empty() ? "" : ", ") + n;
          return s;
        }() + ")"));
  }
  auto parser = chat::FunctionCallParser::create(name->get<std::string>(), std::move(*tools));
  if (!parser.ok()) return respond_error(ex, ApiError::openai(parser.error().message));
  chat::StreamingParseResult r = (*parser)->parse_non_stream(body["text"].get<std::string>());
  json calls = json::array();
  for (const auto& c : r.calls) {
    // ToolCallItem.model_dump()
    calls.push_back(json{{"tool_index", c.tool_index},
                         {"name", c.name ? json(*c.name) : json(nullptr)},
                         {"parameters", c.parameters}});
  }
  ex->respond(200, "application/json",
              dump_json(json{{"normal_text", r.normal_text}, {"calls", std::move(calls)}}));
}

void ApiServer::separate_reasoning(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body)) return respond_error(ex, *e);
  for (const char* key : {"text", "reasoning_parser"}) {
    if (!body.contains(key)) {
      return respond_error(ex, ApiError::validation(std::string("Field required: ") + key));
    }
    if (!body[key].is_string()) {
      return respond_error(
          ex, ApiError::validation(std::string("Input should be a valid string: ") + key));
    }
  }
  auto parser = chat::ReasoningParser::create(body["reasoning_parser"].get<std::string>());
  if (!parser.ok()) return respond_error(ex, ApiError::openai(parser.error().message));
  auto parsed = (*parser)->parse_non_stream(body["text"].get<std::string>());
  ex->respond(
      200, "application/json",
      dump_json(json{{"reasoning_text", parsed.reasoning_text}, {"text", parsed.normal_text}}));
}

}  // namespace sglang
