#pragma once
// Mistral tool calls (SGLang's MistralDetector, "mistral", v0.5.5):
// `[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]`.
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class MistralDetector : public BaseFormatDetector {
 public:
  MistralDetector();
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
};

}  // namespace sglang::chat
