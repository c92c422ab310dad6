#pragma once
// Qwen 2.5 / Qwen 3 tool calls (SGLang's Qwen25Detector, "qwen25" and "qwen", v0.5.5): each call
// is `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, calls separated by "\n".
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class Qwen25Detector : public BaseFormatDetector {
 public:
  Qwen25Detector();
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
  StreamingParseResult parse_streaming_increment(std::string_view new_text,
                                                 const std::vector<Tool>& tools) override;

 private:
  std::string normal_text_buffer_;  // normal text that may end in a partial "</tool_call>"
};

}  // namespace sglang::chat
