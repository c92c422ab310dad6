#include "chat/function_call/llama32_detector.h"

#include "chat/function_call/partial_json.h"

namespace sglang::chat {

Llama32Detector::Llama32Detector() {
  bot_token_ = "<|python_tag|>";
  tool_call_separator_ = ";";
}

bool Llama32Detector::has_tool_call(std::string_view text) const {
  return text.find(bot_token_) != std::string_view::npos || text.starts_with("{");
}

StreamingParseResult Llama32Detector::detect_and_parse(std::string_view text,
                                                       const std::vector<Tool>& tools) {
  if (!has_tool_call(text)) return {std::string(text), {}};
  std::string_view normal_text;
  std::string_view action_text = text;
  if (size_t at = text.find(bot_token_); at != std::string_view::npos) {
    normal_text = text.substr(0, at);
    action_text = text.substr(at + bot_token_.size());
  }
  // As SGLang: raw_decode one object after another, stepping over one separator character
  // after each; on a decoding error, resume at the next `{"name":`.
  nlohmann::ordered_json actions = nlohmann::ordered_json::array();
  size_t idx = 0, safe_idx = 0;
  while (idx < action_text.size()) {
    auto decoded = raw_decode_json(action_text.substr(idx));
    if (decoded.ok()) {
      actions.push_back(std::move(decoded->value));
      idx += decoded->consumed + tool_call_separator_.size();
      safe_idx = idx;
      continue;
    }
    size_t next = action_text.find("{\"name\":", idx + 1);
    if (next == std::string_view::npos) break;
    idx = next;
  }
  StreamingParseResult out;
  if (!actions.empty()) out.calls = parse_base_json(actions, tools);
  out.normal_text = std::string(normal_text);
  if (safe_idx < action_text.size()) out.normal_text += python_strip(action_text.substr(safe_idx));
  return out;
}

}  // namespace sglang::chat
