#pragma once
// tool_choice "required" or {"type": "function", "function": {"name": ...}}: the output is then
// constrained to a JSON array of {"name", "parameters"} objects, and read as one. SGLang's
// get_json_schema_constraint (function_call/utils.py) and serving_chat's _process_tool_calls
// for that case (v0.5.5).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_call.h"
#include "util/status.h"

namespace sglang::chat {

struct ToolChoice {
  enum class Kind { kAuto, kNone, kRequired, kFunction };
  Kind kind = Kind::kAuto;
  std::string function_name;  // for kFunction
};

// The request's `tool_choice` ("auto", "none", "required", or a named function); absent (null)
// is "auto".
Result<ToolChoice> parse_tool_choice(const nlohmann::ordered_json& tool_choice);

// The JSON schema the output must follow: for a named function, an array of exactly one call of
// it (nullopt when no tool has that name); for "required", an array of at least one call of any
// tool, with the tools' "$defs" merged (an error when two tools define one differently); nullopt
// for "auto" and "none".
Result<std::optional<nlohmann::ordered_json>> json_schema_constraint(const std::vector<Tool>& tools,
                                                                     const ToolChoice& choice);

// The calls of such an output: [{"name": ..., "parameters": {...}}, ...] with tool_index the
// position and parameters json.dumps(ensure_ascii=False); an error when it is not that JSON
// (SGLang then returns the text as content).
Result<std::vector<ToolCallItem>> parse_required_tool_calls(std::string_view text);

}  // namespace sglang::chat
