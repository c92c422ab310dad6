#pragma once
// The tools of an OpenAI request and the calls a model's output makes of them, as SGLang's
// function_call/core_types.py (Tool, ToolCallItem, StreamingParseResult): the types shared by the
// tool-call parsers (chat/function_call/) and the OpenAI routes (server/).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace sglang::chat {

// One entry of a request's `tools`: {"type": "function", "function": {"name", "description",
// "parameters", "strict"}}.
struct Tool {
  std::string name;
  std::string description;
  nlohmann::ordered_json parameters;  // a JSON schema object, or null when not given
  bool strict = false;
};

// One call, or one streamed piece of a call: `name` set on the first piece of a call only,
// `parameters` the JSON text of the arguments (or the next fragment of it when streaming).
struct ToolCallItem {
  int tool_index = -1;  // the call's position among the calls of this output (SGLang's tool_index)
  std::optional<std::string> name;
  std::string parameters;
};

struct StreamingParseResult {
  std::string normal_text;  // text that is not part of a call
  std::vector<ToolCallItem> calls;
};

// The request's `tools` (a list of {"type": "function", "function": {...}}) as Tools; an error
// names the entry at fault.
Result<std::vector<Tool>> parse_tools(const nlohmann::ordered_json& tools);

}  // namespace sglang::chat
