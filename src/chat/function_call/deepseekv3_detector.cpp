#include "chat/function_call/deepseekv3_detector.h"

#include "chat/function_call/partial_json.h"
#include "chat/function_call/pattern.h"
#include "chat/function_call/python_json.h"
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";

std::string_view group(std::string_view text, const Pattern::Groups& g, size_t i) {
  return g[i].first == std::string_view::npos ? std::string_view()
                                              : text.substr(g[i].first, g[i].second - g[i].first);
}

// The patterns of each version, and which groups hold the name and the arguments.
struct Format {
  const Pattern& detail;   // one whole call
  const Pattern& partial;  // the call being streamed
  size_t name_group, args_group;
  std::vector<std::string_view> normal_text_drops;  // removed from plain text while streaming
};

const Format& format(DeepSeekV3Detector::Version version) {
  static const Pattern kV3Detail(
      "<｜tool▁call▁begin｜>(.*)<｜tool▁sep｜>(.*)\\n```json\\n(.*)\\n```<｜tool▁call▁end｜>");
  static const Pattern kV3Partial(
      "<｜tool▁call▁begin｜>(.*)<｜tool▁sep｜>(.*)\\n```json\\n(.*)\\n```.*");
  static const Pattern kV31Detail("<｜tool▁call▁begin｜>(.*)<｜tool▁sep｜>(.*)<｜tool▁call▁end｜>");
  static const Format kV3{kV3Detail, kV3Partial, 2, 3, {"<｜tool▁calls▁end｜>", "```", kCallEnd}};
  static const Format kV31{kV31Detail, kV31Detail, 1, 2, {"<｜tool▁calls▁end｜>", kCallEnd}};
  return version == DeepSeekV3Detector::Version::kV3 ? kV3 : kV31;
}

}  // namespace

DeepSeekV3Detector::DeepSeekV3Detector(Version version) : version_(version) {
  bot_token_ = "<｜tool▁calls▁begin｜>";
  eot_token_ = "<｜tool▁calls▁end｜>";
}

bool DeepSeekV3Detector::has_tool_call(std::string_view text) const {
  return text.find(bot_token_) != std::string_view::npos;
}

StreamingParseResult DeepSeekV3Detector::detect_and_parse(std::string_view text,
                                                          const std::vector<Tool>& tools) {
  size_t idx = text.find(bot_token_);
  if (idx == std::string_view::npos) return {std::string(text), {}};
  static const Pattern kCall("<｜tool▁call▁begin｜>.*?<｜tool▁call▁end｜>");
  const Format& f = format(version_);
  StreamingParseResult out;
  out.normal_text = std::string(python_strip(text.substr(0, idx)));
  for (std::string_view call : kCall.find_all(text)) {
    auto detail = f.detail.search(call);
    auto args =
        detail
            ? parse_json_within_nesting<nlohmann::ordered_json>(group(call, *detail, f.args_group))
            : nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
    if (args.is_discarded()) {
      // As SGLang: any failure returns the whole text as normal text, no calls.
      return {std::string(text), {}};
    }
    nlohmann::ordered_json action = {{"name", std::string(group(call, *detail, f.name_group))},
                                     {"parameters", std::move(args)}};
    auto calls = parse_base_json(action, tools);
    out.calls.insert(out.calls.end(), calls.begin(), calls.end());
  }
  return out;
}

StreamingParseResult DeepSeekV3Detector::parse_streaming_increment(
    std::string_view new_text, const std::vector<Tool>& /*tools*/) {
  buffer_ += new_text;
  const std::string current_text = buffer_;
  if (current_text.find(bot_token_) == std::string::npos &&
      current_text.find(kCallBegin) == std::string::npos) {
    buffer_.clear();
    std::string normal(new_text);
    for (std::string_view token :
         {std::string_view(eot_token_), std::string_view("```"), kCallEnd}) {
      for (size_t at = normal.find(token); at != std::string::npos; at = normal.find(token, at)) {
        normal.erase(at, token.size());
      }
    }
    return {normal, {}};
  }

  const Format& f = format(version_);
  std::string_view subject = complete_utf8_prefix(current_text);
  auto match = f.partial.search(subject);
  StreamingParseResult res;
  if (!match) return res;
  std::string func_name(python_strip(group(subject, *match, f.name_group)));
  std::string func_args_raw(python_strip(group(subject, *match, f.args_group)));
  if (current_tool_id_ == -1) {
    current_tool_id_ = 0;
    prev_tool_call_arr_.clear();
    streamed_args_for_tool_.assign(1, "");
  }
  const auto id = static_cast<size_t>(current_tool_id_);
  while (prev_tool_call_arr_.size() <= id)
    prev_tool_call_arr_.emplace_back(nlohmann::ordered_json::object());
  while (streamed_args_for_tool_.size() <= id) streamed_args_for_tool_.emplace_back();

  if (!current_tool_name_sent_) {
    res.calls.push_back(ToolCallItem{current_tool_id_, func_name, ""});
    current_tool_name_sent_ = true;
    prev_tool_call_arr_[id] = nlohmann::ordered_json::object();
    return res;
  }
  std::string argument_diff = func_args_raw.starts_with(last_arguments_)
                                  ? func_args_raw.substr(last_arguments_.size())
                                  : func_args_raw;
  if (!argument_diff.empty()) {
    res.calls.push_back(ToolCallItem{current_tool_id_, std::nullopt, argument_diff});
    last_arguments_ += argument_diff;
    streamed_args_for_tool_[id] += argument_diff;
  }
  auto parsed = parse_json_within_nesting<nlohmann::ordered_json>(func_args_raw);
  if (!parsed.is_discarded()) {
    prev_tool_call_arr_[id] = std::move(parsed);
    static const Pattern kCallSpan("<｜tool▁call▁begin｜>.*?<｜tool▁call▁end｜>");
    auto span = kCallSpan.search(subject);
    buffer_ = span ? current_text.substr(span->front().second) : "";
    ++current_tool_id_;
    last_arguments_.clear();
    current_tool_name_sent_ = false;
  }
  return res;
}

}  // namespace sglang::chat
