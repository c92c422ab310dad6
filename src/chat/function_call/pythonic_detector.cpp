#include "chat/function_call/pythonic_detector.h"

#include "chat/function_call/partial_json.h"
#include "chat/function_call/pattern.h"
#include "chat/function_call/python_json.h"
#include "chat/function_call/python_literal.h"

namespace sglang::chat {
namespace {

constexpr std::string_view kPythonStart = "<|python_start|>";
constexpr std::string_view kPythonEnd = "<|python_end|>";

// SGLang's tool_call_regex, verbatim: it decides what counts as a call list.
const Pattern& call_list_pattern() {
  static const Pattern kPattern(
      R"(\[([a-zA-Z]+\w*\(([a-zA-Z]+\w*=.*,\s*)*([a-zA-Z]+\w*=.*\s)?\),\s*)*)"
      R"(([a-zA-Z]+\w*\(([a-zA-Z]+\w*=.*,\s*)*([a-zA-Z]+\w*=.*\s*)?\)\s*)+\])");
  return kPattern;
}

std::string strip_python_tokens(std::string_view text) {
  std::string out(text);
  for (std::string_view token : {kPythonStart, kPythonEnd}) {
    for (size_t at = out.find(token); at != std::string::npos; at = out.find(token, at)) {
      out.erase(at, token.size());
    }
  }
  return out;
}

size_t find_matching_bracket(std::string_view buffer, size_t start) {
  int depth = 0;
  for (size_t i = start; i < buffer.size(); ++i) {
    if (buffer[i] == '[') {
      ++depth;
    } else if (buffer[i] == ']' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

bool PythonicDetector::has_tool_call(std::string_view text) const {
  std::string stripped = strip_python_tokens(python_strip(text));
  return call_list_pattern().search(complete_utf8_prefix(stripped)).has_value();
}

StreamingParseResult PythonicDetector::detect_and_parse(std::string_view whole,
                                                        const std::vector<Tool>& tools) {
  std::string text = strip_python_tokens(python_strip(whole));
  auto match = call_list_pattern().search(complete_utf8_prefix(text));
  if (!match) return {text, {}};
  auto [begin, end] = match->front();
  StreamingParseResult out;
  out.normal_text = text.substr(0, begin) + text.substr(end);
  auto calls = parse_python_call_list(std::string_view(text).substr(begin, end - begin));
  if (!calls) return out;  // SGLang logs the failure: no calls
  const auto indices = tool_indices(tools);
  for (size_t i = 0; i < calls->size(); ++i) {
    const PythonCall& call = (*calls)[i];
    if (!call.name) continue;                     // a callee that is not a plain name
    if (!indices.contains(*call.name)) continue;  // an unknown tool, dropped
    out.calls.push_back(
        ToolCallItem{static_cast<int>(i), *call.name, python_json_dumps(call.arguments, false)});
  }
  return out;
}

StreamingParseResult PythonicDetector::parse_streaming_increment(std::string_view new_text,
                                                                 const std::vector<Tool>& tools) {
  buffer_ += new_text;
  // Hold back a possible partial <|python_start|> / <|python_end|> at the end; strip whole ones.
  std::string stripped, held_back;
  bool split = false;
  for (std::string_view token : {kPythonStart, kPythonEnd}) {
    if (size_t partial = ends_with_partial_token(buffer_, token); partial > 0) {
      stripped = strip_python_tokens(std::string_view(buffer_).substr(0, buffer_.size() - partial));
      held_back = buffer_.substr(buffer_.size() - partial);
      split = true;
      break;
    }
  }
  if (!split) stripped = strip_python_tokens(buffer_);

  size_t start = stripped.find('[');
  if (start == std::string::npos) {
    buffer_ = held_back;
    return {stripped, {}};
  }
  std::string normal_text = stripped.substr(0, start);
  size_t end = find_matching_bracket(stripped, start);
  if (end != std::string::npos) {
    StreamingParseResult result =
        detect_and_parse(std::string_view(stripped).substr(start, end + 1 - start), tools);
    buffer_ = stripped.substr(end + 1) + held_back;
    if (!normal_text.empty()) result.normal_text = normal_text + result.normal_text;
    return result;
  }
  buffer_ = stripped.substr(start) + held_back;
  return {normal_text, {}};
}

}  // namespace sglang::chat
