#pragma once
// Qwen3-Coder's XML-like tool calls (SGLang's Qwen3CoderDetector, "qwen3_coder", v0.5.5):
//   <tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n...</function>\n</tool_call>
// A value is read as JSON, else as a Python literal, else kept as the string (after HTML
// unescaping). Streaming emits the arguments as JSON text built one complete parameter at a
// time, and the closing brace at </tool_call>.
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class Qwen3CoderDetector : public BaseFormatDetector {
 public:
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
  StreamingParseResult parse_streaming_increment(std::string_view new_text,
                                                 const std::vector<Tool>& tools) override;

 private:
  std::vector<ToolCallItem> stream_parameters();
  void reset_call();

  bool in_tool_call_ = false;
  bool function_name_sent_ = false;
  nlohmann::ordered_json current_parameters_ = nlohmann::ordered_json::object();
};

}  // namespace sglang::chat
