#include "chat/function_call/tool_choice.h"

#include "chat/function_call/python_json.h"
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

using nlohmann::ordered_json;

// _get_tool_schema: one call of `tool`, its parameters schema or an empty object's.
ordered_json tool_schema(const Tool& tool) {
  // Python truthiness of `parameters`: null, {}, [], "" fall back to the empty object's schema.
  const auto& p = tool.parameters;
  const bool has_parameters = p.is_string()    ? !p.get_ref<const std::string&>().empty()
                              : p.is_boolean() ? p.get<bool>()
                                               : !p.is_null() && !p.empty();
  ordered_json parameters =
      has_parameters ? tool.parameters
                     : ordered_json{{"type", "object"}, {"properties", ordered_json::object()}};
  ordered_json properties = ordered_json::object();
  properties["name"] = {{"type", "string"}, {"enum", ordered_json::array({tool.name})}};
  properties["parameters"] = std::move(parameters);
  return {{"properties", std::move(properties)},
          {"required", ordered_json::array({"name", "parameters"})}};
}

}  // namespace

Result<ToolChoice> parse_tool_choice(const ordered_json& tool_choice) {
  ToolChoice out;
  if (tool_choice.is_null()) return out;
  if (tool_choice.is_string()) {
    const auto& s = tool_choice.get_ref<const std::string&>();
    if (s == "auto") return out;
    if (s == "none") return ToolChoice{ToolChoice::Kind::kNone, ""};
    if (s == "required") return ToolChoice{ToolChoice::Kind::kRequired, ""};
    return make_error(ErrorCode::kInvalidArgument,
                      "tool_choice must be 'auto', 'none', 'required' or a named function");
  }
  if (tool_choice.is_object()) {
    auto f = tool_choice.find("function");
    if (f != tool_choice.end() && f->is_object()) {
      auto name = f->find("name");
      if (name != f->end() && name->is_string()) {
        return ToolChoice{ToolChoice::Kind::kFunction, name->get<std::string>()};
      }
    }
    return make_error(ErrorCode::kInvalidArgument, "tool_choice.function.name: Field required");
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "tool_choice must be 'auto', 'none', 'required' or a named function");
}

Result<std::optional<ordered_json>> json_schema_constraint(const std::vector<Tool>& tools,
                                                           const ToolChoice& choice) {
  if (choice.kind == ToolChoice::Kind::kFunction) {
    for (const auto& tool : tools) {
      if (tool.name == choice.function_name) {
        return std::optional<ordered_json>(ordered_json{
            {"type", "array"}, {"minItems", 1}, {"maxItems", 1}, {"items", tool_schema(tool)}});
      }
    }
    return std::optional<ordered_json>();
  }
  if (choice.kind != ToolChoice::Kind::kRequired) return std::optional<ordered_json>();
  ordered_json any_of = ordered_json::array();
  for (const auto& tool : tools) any_of.push_back(tool_schema(tool));
  ordered_json schema = {{"type", "array"},
                         {"minItems", 1},
                         {"items", {{"type", "object"}, {"anyOf", std::move(any_of)}}}};
  ordered_json defs = ordered_json::object();
  for (const auto& tool : tools) {
    if (!tool.parameters.is_object()) continue;
    auto d = tool.parameters.find("$defs");
    if (d == tool.parameters.end() || !d->is_object()) continue;
    for (const auto& [name, def] : d->items()) {
      if (defs.contains(name) && defs[name] != def) {
        return make_error(
            ErrorCode::kInvalidArgument,
            "Tool definition '" + name + "' has multiple schemas, which is not supported.");
      }
      defs[name] = def;
    }
  }
  if (!defs.empty()) schema["$defs"] = std::move(defs);
  return std::optional<ordered_json>(std::move(schema));
}

Result<std::vector<ToolCallItem>> parse_required_tool_calls(std::string_view text) {
  auto data = parse_json_within_nesting<ordered_json>(text);
  if (data.is_discarded()) {
    return make_error(ErrorCode::kInvalidArgument, "Tool call parsing error: malformed JSON");
  }
  if (!data.is_array()) {
    return make_error(ErrorCode::kInvalidArgument, "Tool call parsing error: not a list");
  }
  std::vector<ToolCallItem> out;
  for (size_t i = 0; i < data.size(); ++i) {
    const auto& call = data[i];
    if (!call.is_object() || !call.contains("name") || !call["name"].is_string() ||
        !call.contains("parameters")) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "Tool call parsing error: call " + std::to_string(i) + " needs a name and parameters");
    }
    out.push_back(ToolCallItem{static_cast<int>(i), call["name"].get<std::string>(),
                               python_json_dumps(call["parameters"], false)});
  }
  return out;
}

}  // namespace sglang::chat
