#include "chat/function_call/kimik2_detector.h"

#include <charconv>

#include "chat/function_call/pattern.h"
#include "chat/function_call/python_json.h"
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

constexpr std::string_view kCallBegin = "<|tool_call_begin|>";
constexpr std::string_view kCallEnd = "<|tool_call_end|>";

std::string_view group(std::string_view text, const Pattern::Groups& g, size_t i) {
  return g[i].first == std::string_view::npos ? std::string_view()
                                              : text.substr(g[i].first, g[i].second - g[i].first);
}

// "functions.NAME:IDX" → NAME and IDX (SGLang's tool_call_id_regex).
std::optional<std::pair<std::string, int>> split_call_id(std::string_view id) {
  static const Pattern kId(R"(^(?:functions\.)?([\w\.]+):(\d+)$)", /*dotall=*/false);
  auto m = kId.search(id);
  if (!m) return std::nullopt;
  std::string_view digits = group(id, *m, 2);
  int index = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (r.ec != std::errc()) return std::nullopt;
  return std::pair{std::string(group(id, *m, 1)), index};
}

}  // namespace

KimiK2Detector::KimiK2Detector() {
  bot_token_ = "<|tool_calls_section_begin|>";
  eot_token_ = "<|tool_calls_section_end|>";
}

bool KimiK2Detector::has_tool_call(std::string_view text) const {
  return text.find(bot_token_) != std::string_view::npos;
}

StreamingParseResult KimiK2Detector::detect_and_parse(std::string_view whole,
                                                      const std::vector<Tool>& /*tools*/) {
  if (whole.find(bot_token_) == std::string_view::npos) return {std::string(whole), {}};
  // (no DOTALL: as SGLang, the arguments' braces must be on one line)
  static const Pattern kCall(
      R"(<\|tool_call_begin\|>\s*([\w\.]+:\d+)\s*<\|tool_call_argument_begin\|>\s*(\{.*?\})\s*<\|tool_call_end\|>)",
      /*dotall=*/false);
  std::string_view text = complete_utf8_prefix(whole);
  StreamingParseResult out;
  for (size_t start = 0; auto m = kCall.search(text, start);) {
    start = (*m)[0].second;
    auto id = split_call_id(group(text, *m, 1));
    if (!id) continue;
    out.calls.push_back(ToolCallItem{id->second, id->first, std::string(group(text, *m, 2))});
  }
  out.normal_text = std::string(whole.substr(0, whole.find(bot_token_)));
  return out;
}

StreamingParseResult KimiK2Detector::parse_streaming_increment(std::string_view new_text,
                                                               const std::vector<Tool>& /*tools*/) {
  buffer_ += new_text;
  const std::string current = buffer_;
  if (current.find(bot_token_) == std::string::npos &&
      current.find(kCallBegin) == std::string::npos) {
    buffer_.clear();
    std::string normal(new_text);
    for (std::string_view token : {std::string_view(eot_token_), kCallEnd}) {
      for (size_t at = normal.find(token); at != std::string::npos; at = normal.find(token, at)) {
        normal.erase(at, token.size());
      }
    }
    return {normal, {}};
  }
  static const Pattern kPortion(
      R"(<\|tool_call_begin\|>\s*([\w\.]+:\d+)\s*<\|tool_call_argument_begin\|>\s*(\{.*))",
      /*dotall=*/false);
  std::string_view subject = complete_utf8_prefix(current);
  StreamingParseResult res;
  auto m = kPortion.search(subject);
  if (!m) return res;
  auto id = split_call_id(group(subject, *m, 1));
  if (!id) return res;
  std::string function_args(group(subject, *m, 2));
  if (current_tool_id_ == -1) {
    current_tool_id_ = 0;
    prev_tool_call_arr_.clear();
    streamed_args_for_tool_.assign(1, "");
  }
  const auto tool = static_cast<size_t>(current_tool_id_);
  while (prev_tool_call_arr_.size() <= tool) {
    prev_tool_call_arr_.emplace_back(nlohmann::ordered_json::object());
  }
  while (streamed_args_for_tool_.size() <= tool) streamed_args_for_tool_.emplace_back();
  if (!current_tool_name_sent_) {
    res.calls.push_back(ToolCallItem{current_tool_id_, id->first, ""});
    current_tool_name_sent_ = true;
    prev_tool_call_arr_[tool] = nlohmann::ordered_json::object();
    return res;
  }
  std::string argument_diff = function_args.starts_with(last_arguments_)
                                  ? function_args.substr(last_arguments_.size())
                                  : function_args;
  std::string parsed_diff = argument_diff.substr(0, argument_diff.find(kCallEnd));
  if (!parsed_diff.empty()) {
    res.calls.push_back(ToolCallItem{current_tool_id_, std::nullopt, parsed_diff});
    last_arguments_ += argument_diff;
    streamed_args_for_tool_[tool] += parsed_diff;
  }
  std::string parsed_args = function_args.substr(0, function_args.find(kCallEnd));
  auto parsed = parse_json_within_nesting<nlohmann::ordered_json>(parsed_args);
  if (!parsed.is_discarded()) {
    prev_tool_call_arr_[tool] = std::move(parsed);
    static const Pattern kCallSpan(R"(<\|tool_call_begin\|>.*?<\|tool_call_end\|>)");
    auto span = kCallSpan.search(subject);
    buffer_ = span ? current.substr(span->front().second) : "";
    ++current_tool_id_;
    last_arguments_.clear();
    current_tool_name_sent_ = false;
  }
  return res;
}

}  // namespace sglang::chat
