#pragma once
// Llama 3.x JSON tool calls (SGLang's Llama32Detector, "llama3", v0.5.5):
// `<|python_tag|>{"name": ..., "parameters": {...}}`, or the bare JSON object when the prompt
// does not make the model write the tag; several calls separated by ";".
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class Llama32Detector : public BaseFormatDetector {
 public:
  Llama32Detector();
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
};

}  // namespace sglang::chat
