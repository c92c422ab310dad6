#pragma once
// Tool calls as a plain JSON array, which the model writes when tool_choice is "required" or
// names a function (the request is then constrained by json_schema_constraint): SGLang's
// JsonArrayParser (function_call/json_array_parser.py, v0.5.5), the base streaming algorithm
// with "[" / "]" / ",". Only streaming is defined; the whole text is read by
// parse_required_tool_calls (tool_choice.h).
#include "chat/function_call/base_format_detector.h"

namespace sglang::chat {

class JsonArrayDetector : public BaseFormatDetector {
 public:
  JsonArrayDetector();
  bool has_tool_call(std::string_view text) const override;
  // SGLang raises NotImplementedError here; this returns the text unparsed.
  StreamingParseResult detect_and_parse(std::string_view text,
                                        const std::vector<Tool>& tools) override;
};

}  // namespace sglang::chat
