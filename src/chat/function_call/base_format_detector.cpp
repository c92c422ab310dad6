#include "chat/function_call/base_format_detector.h"

#include "chat/function_call/partial_json.h"
#include "chat/function_call/python_json.h"

namespace sglang::chat {
namespace {

std::string common_prefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return std::string(a.substr(0, n));
}

// Python truthiness, which decides whether SGLang streams a call's arguments at all.
bool truthy(const nlohmann::ordered_json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  if (v.is_number_unsigned()) return v.get<uint64_t>() != 0;
  if (v.is_number_float()) return v.get<double>() != 0.0;
  if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
  return false;
}

}  // namespace

std::map<std::string, int> BaseFormatDetector::tool_indices(const std::vector<Tool>& tools) {
  std::map<std::string, int> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    if (!tools[i].name.empty()) out[tools[i].name] = static_cast<int>(i);
  }
  return out;
}

std::vector<ToolCallItem> BaseFormatDetector::parse_base_json(
    const nlohmann::ordered_json& action, const std::vector<Tool>& tools) const {
  const auto indices = tool_indices(tools);
  std::vector<nlohmann::ordered_json> actions;
  if (action.is_array()) {
    for (const auto& a : action) actions.push_back(a);
  } else {
    actions.push_back(action);
  }
  std::vector<ToolCallItem> out;
  for (const auto& act : actions) {
    // SGLang would raise on a non-object here; it is dropped like an unknown tool.
    if (!act.is_object()) continue;
    auto name = act.find("name");
    if (name == act.end() || !name->is_string() || !indices.contains(name->get<std::string>())) {
      continue;
    }
    // `act.get("parameters") or act.get("arguments", {})`
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    if (auto p = act.find("parameters"); p != act.end() && truthy(*p)) {
      args = *p;
    } else if (auto a = act.find("arguments"); a != act.end()) {
      args = *a;
    }
    out.push_back(ToolCallItem{-1, name->get<std::string>(), python_json_dumps(args, false)});
  }
  return out;
}

size_t BaseFormatDetector::ends_with_partial_token(std::string_view buffer,
                                                   std::string_view token) {
  // As SGLang: the shortest such suffix wins (i counts up from 1).
  for (size_t i = 1; i < std::min(buffer.size() + 1, token.size()); ++i) {
    if (token.starts_with(buffer.substr(buffer.size() - i))) return i;
  }
  return 0;
}

StreamingParseResult BaseFormatDetector::parse_streaming_increment(std::string_view new_text,
                                                                   const std::vector<Tool>& tools) {
  buffer_ += new_text;
  const std::string current_text = buffer_;

  if (!(has_tool_call(current_text) ||
        (current_tool_id_ > 0 && current_text.starts_with(tool_call_separator_)))) {
    if (ends_with_partial_token(buffer_, bot_token_) == 0) {
      std::string normal_text = std::move(buffer_);
      buffer_.clear();
      if (!eot_token_.empty()) {
        for (size_t at = normal_text.find(eot_token_); at != std::string::npos;
             at = normal_text.find(eot_token_, at)) {
          normal_text.erase(at, eot_token_.size());
        }
      }
      return {normal_text, {}};
    }
    return {};
  }

  const auto indices = tool_indices(tools);
  const unsigned flags = current_tool_name_sent_ ? allow::kAll : allow::kAll & ~allow::kStr;

  size_t start_idx = 0;
  if (size_t pos = current_text.find(bot_token_); pos != std::string::npos) {
    start_idx = pos + bot_token_.size();
  } else if (current_tool_id_ > 0 && current_text.starts_with(tool_call_separator_)) {
    start_idx = tool_call_separator_.size();
  }
  if (start_idx >= current_text.size()) return {};

  // Python sees characters: a chunk boundary inside a UTF-8 sequence is read as if the
  // sequence had not arrived yet.
  std::string_view json_text =
      complete_utf8_prefix(std::string_view(current_text).substr(start_idx));
  auto parsed = parse_partial_json(json_text, flags);
  if (!parsed.ok()) return {};
  nlohmann::ordered_json obj = std::move(parsed->value);
  const size_t end_idx = parsed->consumed;
  const bool is_current_complete = parsed->complete;
  // SGLang fails (and logs) on anything but an object: no result, the buffer kept.
  if (!obj.is_object()) return {};

  if (auto name = obj.find("name"); name != obj.end()) {
    if (!name->is_string() || !indices.contains(name->get<std::string>())) {
      // An unknown tool: SGLang resets the stream's state and drops what it buffered.
      buffer_.clear();
      current_tool_id_ = -1;
      current_tool_name_sent_ = false;
      if (!streamed_args_for_tool_.empty()) streamed_args_for_tool_.pop_back();
      return {};
    }
  }
  if (auto p = obj.find("parameters"); p != obj.end()) {
    // SGLang asserts the model did not write both; the assertion fails into "no result".
    if (obj.contains("arguments")) return {};
    obj["arguments"] = *p;
  }
  if (obj.empty()) return {};

  StreamingParseResult res;
  if (!current_tool_name_sent_) {
    auto name = obj.find("name");
    if (name != obj.end() && name->is_string() && indices.contains(name->get<std::string>())) {
      if (current_tool_id_ == -1) {
        current_tool_id_ = 0;
        streamed_args_for_tool_.emplace_back();
      } else {
        while (static_cast<int>(streamed_args_for_tool_.size()) <= current_tool_id_) {
          streamed_args_for_tool_.emplace_back();
        }
      }
      res.calls.push_back(ToolCallItem{current_tool_id_, name->get<std::string>(), ""});
      current_tool_name_sent_ = true;
    }
    return res;
  }

  auto args = obj.find("arguments");
  if (args == obj.end() || !truthy(*args)) return res;
  const size_t sent = streamed_args_for_tool_[static_cast<size_t>(current_tool_id_)].size();
  // json.dumps with its defaults (ensure_ascii): SGLang streams escaped non-ASCII.
  const std::string cur_args_json = python_json_dumps(*args, true);
  std::optional<std::string> argument_diff;
  int completing_tool_id = current_tool_id_;
  if (is_current_complete) {
    argument_diff = sent < cur_args_json.size() ? cur_args_json.substr(sent) : "";
    buffer_ = current_text.substr(start_idx + end_idx);
  } else if (current_tool_id_ < static_cast<int>(prev_tool_call_arr_.size())) {
    const auto& prev = prev_tool_call_arr_[static_cast<size_t>(current_tool_id_)];
    if (truthy(prev)) {
      const std::string prev_args_json = python_json_dumps(prev, true);
      if (cur_args_json != prev_args_json) {
        std::string prefix = common_prefix(prev_args_json, cur_args_json);
        argument_diff = sent < prefix.size() ? prefix.substr(sent) : "";
      }
    }
  }
  while (static_cast<int>(prev_tool_call_arr_.size()) <= current_tool_id_) {
    prev_tool_call_arr_.emplace_back(nlohmann::ordered_json::object());
  }
  prev_tool_call_arr_[static_cast<size_t>(current_tool_id_)] = *args;
  if (is_current_complete) {
    current_tool_name_sent_ = false;
    ++current_tool_id_;
  }
  if (argument_diff) {
    const int index = is_current_complete ? completing_tool_id : current_tool_id_;
    res.calls.push_back(ToolCallItem{index, std::nullopt, *argument_diff});
    streamed_args_for_tool_[static_cast<size_t>(index)] += *argument_diff;
  }
  return res;
}

}  // namespace sglang::chat
