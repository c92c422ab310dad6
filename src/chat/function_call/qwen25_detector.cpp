#include "chat/function_call/qwen25_detector.h"

#include "chat/function_call/partial_json.h"
#include "chat/function_call/pattern.h"
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

void erase_all(std::string& text, std::string_view what) {
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at)) {
    text.erase(at, what.size());
  }
}

}  // namespace

Qwen25Detector::Qwen25Detector() {
  bot_token_ = "<tool_call>\n";
  eot_token_ = "\n</tool_call>";
  tool_call_separator_ = "\n";
}

bool Qwen25Detector::has_tool_call(std::string_view text) const {
  return text.find(bot_token_) != std::string_view::npos;
}

StreamingParseResult Qwen25Detector::detect_and_parse(std::string_view text,
                                                      const std::vector<Tool>& tools) {
  size_t idx = text.find(bot_token_);
  if (idx == std::string_view::npos) return {std::string(text), {}};
  StreamingParseResult out;
  // As SGLang: the text before the first call, stripped; text after the calls is dropped.
  out.normal_text = std::string(python_strip(text.substr(0, idx)));
  static const Pattern kBlock("<tool_call>\\n(.*?)\\n</tool_call>");
  for (std::string_view block : kBlock.find_all(text)) {
    auto value = parse_json_within_nesting<nlohmann::ordered_json>(python_strip(block));
    if (value.is_discarded()) continue;  // SGLang logs the JSON error and skips the block
    auto calls = parse_base_json(value, tools);
    out.calls.insert(out.calls.end(), calls.begin(), calls.end());
  }
  return out;
}

StreamingParseResult Qwen25Detector::parse_streaming_increment(std::string_view new_text,
                                                               const std::vector<Tool>& tools) {
  StreamingParseResult result = BaseFormatDetector::parse_streaming_increment(new_text, tools);
  if (result.normal_text.empty()) return result;
  // The base algorithm strips "\n</tool_call>" only when it arrives whole; the closing tag
  // without its newline is held back here until it is known not to be one.
  static constexpr std::string_view kEnd = "</tool_call>";
  normal_text_buffer_ += result.normal_text;
  if (normal_text_buffer_.find(kEnd) != std::string::npos) {
    erase_all(normal_text_buffer_, kEnd);
    result.normal_text = std::move(normal_text_buffer_);
    normal_text_buffer_.clear();
  } else if (size_t partial = ends_with_partial_token(normal_text_buffer_, kEnd); partial > 0) {
    result.normal_text = normal_text_buffer_.substr(0, normal_text_buffer_.size() - partial);
    normal_text_buffer_ = normal_text_buffer_.substr(normal_text_buffer_.size() - partial);
  } else {
    result.normal_text = std::move(normal_text_buffer_);
    normal_text_buffer_.clear();
  }
  return result;
}

}  // namespace sglang::chat
