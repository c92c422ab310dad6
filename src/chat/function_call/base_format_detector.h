#pragma once
// The state and the streaming algorithm every tool-call format shares, as SGLang's
// BaseFormatDetector (function_call/base_format_detector.py, v0.5.5): the output so far is
// buffered until it holds a call; the call's JSON is read partially; its name is emitted first
// (with empty arguments) once complete, then its arguments as the growing common prefix of their
// json.dumps text, and the rest when the call's JSON closes.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_call.h"

namespace sglang::chat {

class BaseFormatDetector {
 public:
  virtual ~BaseFormatDetector() = default;

  // Whether `text` holds this format's start-of-calls marker.
  virtual bool has_tool_call(std::string_view text) const = 0;
  // The whole output at once.
  virtual StreamingParseResult detect_and_parse(std::string_view text,
                                                const std::vector<Tool>& tools) = 0;
  // The next piece of the output.
  virtual StreamingParseResult parse_streaming_increment(std::string_view new_text,
                                                         const std::vector<Tool>& tools);

  // What the serving layer reads when a stream ends (SGLang's prev_tool_call_arr and
  // streamed_args_for_tool): each call's arguments as last read, and the text streamed of them.
  const std::vector<nlohmann::ordered_json>& prev_tool_call_arguments() const {
    return prev_tool_call_arr_;
  }
  const std::vector<std::string>& streamed_args_for_tool() const { return streamed_args_for_tool_; }

 protected:
  // Calls in a decoded {"name", "arguments" | "parameters"} object or list of them; unknown
  // names are dropped (SGLANG_FORWARD_UNKNOWN_TOOLS off). tool_index is -1, as in SGLang.
  std::vector<ToolCallItem> parse_base_json(const nlohmann::ordered_json& action,
                                            const std::vector<Tool>& tools) const;
  // The length of the longest proper prefix of `token` that `buffer` ends with.
  static size_t ends_with_partial_token(std::string_view buffer, std::string_view token);
  static std::map<std::string, int> tool_indices(const std::vector<Tool>& tools);

  std::string buffer_;
  std::vector<nlohmann::ordered_json> prev_tool_call_arr_;  // each call's arguments so far
  int current_tool_id_ = -1;
  bool current_tool_name_sent_ = false;
  std::vector<std::string> streamed_args_for_tool_;
  std::string bot_token_;
  std::string eot_token_;
  std::string tool_call_separator_ = ", ";
};

}  // namespace sglang::chat
