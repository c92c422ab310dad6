#include "chat/function_call/json_array_detector.h"

namespace sglang::chat {

JsonArrayDetector::JsonArrayDetector() {
  bot_token_ = "[";
  eot_token_ = "]";
  tool_call_separator_ = ",";
}

bool JsonArrayDetector::has_tool_call(std::string_view text) const {
  return text.find('[') != std::string_view::npos || text.find('{') != std::string_view::npos;
}

StreamingParseResult JsonArrayDetector::detect_and_parse(std::string_view text,
                                                         const std::vector<Tool>& /*tools*/) {
  return {std::string(text), {}};
}

}  // namespace sglang::chat
