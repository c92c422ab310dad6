#pragma once
// Pythonic tool calls (SGLang's PythonicDetector, "pythonic", v0.5.5; Llama 4 and others):
// `[get_weather(city="Paris"), search(query='x')]`, optionally inside <|python_start|> ...
// <|python_end|>. Calls are emitted whole (name and arguments in one item) once the list's
// closing bracket arrives; tool_index is the call's position in its list.
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class PythonicDetector : public BaseFormatDetector {
 public:
  bool has_tool_call(std::string_view text) const override;
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
  StreamingParseResult parse_streaming_increment(std::string_view new_text,
                                                 const std::vector<Tool>& tools) override;
};

}  // namespace sglang::chat
