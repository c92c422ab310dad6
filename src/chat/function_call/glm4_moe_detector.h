#pragma once
// GLM-4.5 / GLM-4.6 tool calls (SGLang's Glm4MoeDetector, "glm" and "glm45", v0.5.5):
//   <tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n...</tool_call>
// A value is kept as text when the tool's schema says the argument is a string, else read as
// JSON (also with JSON escapes undone), else as a Python literal. Streaming emits each call whole
// (name and arguments in one item) once its </tool_call> arrives.
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class Glm4MoeDetector : public BaseFormatDetector {
 public:
  Glm4MoeDetector();
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
  StreamingParseResult parse_streaming_increment(std::string_view new_text,
                                                 const std::vector<Tool>& tools) override;
};

}  // namespace sglang::chat
