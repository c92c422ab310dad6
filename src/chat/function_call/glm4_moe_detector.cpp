#include "chat/function_call/glm4_moe_detector.h"

#include "chat/function_call/partial_json.h"
#include "chat/function_call/pattern.h"
#include "chat/function_call/python_json.h"
#include "chat/function_call/python_literal.h"
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

using nlohmann::ordered_json;

std::string_view group(std::string_view text, const Pattern::Groups& g, size_t i) {
  return g[i].first == std::string_view::npos ? std::string_view()
                                              : text.substr(g[i].first, g[i].second - g[i].first);
}

// SGLang's parse_arguments: JSON; else the text as the inside of a JSON string, that string
// read as JSON; else a Python literal; else the text.
ordered_json parse_argument(const std::string& value) {
  auto json = parse_json_within_nesting<ordered_json>(value);
  if (!json.is_discarded()) return json;
  auto wrapped = parse_json_within_nesting<ordered_json>("{\"tmp\": \"" + value + "\"}");
  if (!wrapped.is_discarded() && wrapped["tmp"].is_string()) {
    auto inner = parse_json_within_nesting<ordered_json>(wrapped["tmp"].get<std::string>());
    if (!inner.is_discarded()) return inner;
  }
  if (auto literal = parse_python_literal(value)) return *literal;
  return value;
}

// get_argument_type: the schema's "type" of the argument, or null. SGLang raises (and so drops
// every call of the output) when a called tool's parameters have no "properties".
Result<ordered_json> argument_type(const std::string& function, const std::string& key,
                                   const std::vector<Tool>& tools) {
  const Tool* tool = nullptr;
  for (const auto& t : tools) {
    if (t.name == function) tool = &t;  // the last of a name wins, as in a dict
  }
  if (tool == nullptr) return ordered_json(nullptr);
  if (!tool->parameters.is_object() || !tool->parameters.contains("properties") ||
      !tool->parameters["properties"].is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "tool without properties");
  }
  const auto& props = tool->parameters["properties"];
  auto p = props.find(key);
  if (p == props.end()) return ordered_json(nullptr);
  if (!p->is_object()) return make_error(ErrorCode::kInvalidArgument, "bad property");
  auto type = p->find("type");
  return type == p->end() ? ordered_json(nullptr) : *type;
}

}  // namespace

Glm4MoeDetector::Glm4MoeDetector() {
  bot_token_ = "<tool_call>";
  eot_token_ = "</tool_call>";
}

bool Glm4MoeDetector::has_tool_call(std::string_view text) const {
  return text.find(bot_token_) != std::string_view::npos;
}

StreamingParseResult Glm4MoeDetector::detect_and_parse(std::string_view whole,
                                                       const std::vector<Tool>& tools) {
  size_t idx = whole.find(bot_token_);
  if (idx == std::string_view::npos) return {std::string(whole), {}};
  static const Pattern kCall("<tool_call>.*?</tool_call>");
  static const Pattern kDetail(R"(<tool_call>(.*?)(?:\\n|\n)(.*)</tool_call>)");
  static const Pattern kArg(R"(<arg_key>(.*?)</arg_key>(?:\\n|\s)*<arg_value>(.*?)</arg_value>)");
  std::string_view text = complete_utf8_prefix(whole);
  StreamingParseResult out;
  out.normal_text = std::string(python_strip(whole.substr(0, idx)));
  for (std::string_view call : kCall.find_all(text)) {
    auto detail = kDetail.search(call);
    // As SGLang: any failure gives the whole text back with no calls.
    if (!detail) return {std::string(whole), {}};
    std::string name(group(call, *detail, 1));
    std::string_view args = group(call, *detail, 2);
    ordered_json arguments = ordered_json::object();
    for (size_t start = 0; auto m = kArg.search(args, start);) {
      std::string key(python_strip(group(args, *m, 1)));
      std::string value(python_strip(group(args, *m, 2)));
      auto type = argument_type(name, key, tools);
      if (!type.ok()) return {std::string(whole), {}};
      arguments[key] = *type == "string" ? ordered_json(value) : parse_argument(value);
      start = (*m)[0].second > (*m)[0].first ? (*m)[0].second : (*m)[0].second + 1;
    }
    auto calls = parse_base_json({{"name", name}, {"parameters", std::move(arguments)}}, tools);
    out.calls.insert(out.calls.end(), calls.begin(), calls.end());
  }
  return out;
}

StreamingParseResult Glm4MoeDetector::parse_streaming_increment(std::string_view new_text,
                                                                const std::vector<Tool>& tools) {
  buffer_ += new_text;
  std::string current = buffer_;
  size_t start = current.find(bot_token_);
  if (start == std::string::npos) {
    buffer_.clear();
    // As SGLang: once a call was made, text outside calls is dropped.
    return {current_tool_id_ > 0 ? "" : current, {}};
  }
  size_t end = current.find(eot_token_);
  if (end == std::string::npos) {
    buffer_ = current.substr(start);
    return {current.substr(0, start), {}};
  }
  if (current_tool_id_ == -1) {
    current_tool_id_ = 0;
    prev_tool_call_arr_.clear();
    streamed_args_for_tool_.assign(1, "");
  }
  const auto id = static_cast<size_t>(current_tool_id_);
  while (prev_tool_call_arr_.size() <= id) prev_tool_call_arr_.emplace_back(ordered_json::object());
  while (streamed_args_for_tool_.size() <= id) streamed_args_for_tool_.emplace_back();
  StreamingParseResult result = detect_and_parse(current.substr(0, end + eot_token_.size()), tools);
  if (!result.calls.empty()) {
    prev_tool_call_arr_[id] = ordered_json::parse(result.calls[0].parameters);
    streamed_args_for_tool_[id] = result.calls[0].parameters;
    result.calls[0].tool_index = current_tool_id_;
    ++current_tool_id_;
  }
  buffer_ = current.substr(end + eot_token_.size());
  return result;
}

}  // namespace sglang::chat
