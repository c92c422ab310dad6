#pragma once
// DeepSeek V3 tool calls (SGLang's DeepSeekV3Detector, "deepseekv3", v0.5.5):
// <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{ARGS}\n```<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
// Its streaming path has its own algorithm: arguments stream as the raw text the model writes,
// and names are not checked against the tools.
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class DeepSeekV3Detector : public BaseFormatDetector {
 public:
  DeepSeekV3Detector();
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
  StreamingParseResult parse_streaming_increment(std::string_view new_text,
                                                 const std::vector<Tool>& tools) override;

 private:
  std::string last_arguments_;
};

}  // namespace sglang::chat
