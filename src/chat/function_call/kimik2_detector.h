#pragma once
// Kimi K2 tool calls (SGLang's KimiK2Detector, "kimi_k2", v0.5.5):
//   <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:IDX<|tool_call_argument_begin|>{ARGS}<|tool_call_end|>...<|tool_calls_section_end|>
// The arguments are passed on as the model wrote them, tool_index is the IDX the model wrote
// (SGLang's serving layer builds the call id "functions.NAME:IDX" from it), and names are not
// checked against the tools.
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class KimiK2Detector : public BaseFormatDetector {
 public:
  KimiK2Detector();
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
  StreamingParseResult parse_streaming_increment(std::string_view new_text,
                                                 const std::vector<Tool>& tools) override;

 private:
  std::string last_arguments_;
};

}  // namespace sglang::chat
