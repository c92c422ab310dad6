#include "chat/function_call/mistral_detector.h"

#include "chat/function_call/partial_json.h"
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

// The JSON array that opens at `start` (a '['), found by counting brackets outside strings as
// SGLang's _extract_json_array does (a backslash skips the next character anywhere).
std::string_view extract_json_array(std::string_view text, size_t start) {
  int depth = 0;
  bool in_string = false, escape_next = false;
  for (size_t i = start; i < text.size(); ++i) {
    char c = text[i];
    if (escape_next) {
      escape_next = false;
      continue;
    }
    if (c == '\\') {
      escape_next = true;
      continue;
    }
    if (c == '"') {
      in_string = !in_string;
      continue;
    }
    if (in_string) continue;
    if (c == '[') {
      ++depth;
    } else if (c == ']' && --depth == 0) {
      return text.substr(start, i + 1 - start);
    }
  }
  return {};
}

}  // namespace

MistralDetector::MistralDetector() {
  bot_token_ = "[TOOL_CALLS] [";
  eot_token_ = "]";
  tool_call_separator_ = ", ";
}

bool MistralDetector::has_tool_call(std::string_view text) const {
  return text.find(bot_token_) != std::string_view::npos;
}

StreamingParseResult MistralDetector::detect_and_parse(std::string_view text,
                                                       const std::vector<Tool>& tools) {
  size_t idx = text.find(bot_token_);
  if (idx == std::string_view::npos) return {std::string(text), {}};
  StreamingParseResult out;
  out.normal_text = std::string(python_strip(text.substr(0, idx)));
  std::string_view array = extract_json_array(text, idx + bot_token_.size() - 1);
  if (array.empty()) return out;
  auto value = parse_json_within_nesting<nlohmann::ordered_json>(array);
  if (value.is_discarded()) return out;  // SGLang logs the JSON error: no calls
  out.calls = parse_base_json(value, tools);
  return out;
}

}  // namespace sglang::chat
