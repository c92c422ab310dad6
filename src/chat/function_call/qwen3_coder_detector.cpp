#include "chat/function_call/qwen3_coder_detector.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "chat/function_call/partial_json.h"
#include "chat/function_call/pattern.h"
#include "chat/function_call/python_json.h"
#include "chat/function_call/python_literal.h"
#include "util/json_nesting.h"
#include "util/utf8.h"

namespace sglang::chat {
namespace {

constexpr std::string_view kStart = "<tool_call>";
constexpr std::string_view kEnd = "</tool_call>";

// html.unescape for numeric references and the entities code is written with (&amp; &lt; &gt;
// &quot; &apos; &nbsp;); Python's other named HTML5 entities are left as written here.
std::string html_unescape(std::string_view s) {
  static constexpr std::pair<std::string_view, std::string_view> kNamed[] = {
      {"&amp;", "&"},   {"&lt;", "<"},   {"&gt;", ">"},
      {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", "\xc2\xa0"}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    bool done = false;
    for (auto [name, value] : kNamed) {
      if (s.substr(i).starts_with(name)) {
        out += value;
        i += name.size();
        done = true;
        break;
      }
    }
    if (done) continue;
    if (i + 2 < s.size() && s[i + 1] == '#') {
      bool hex = s[i + 2] == 'x' || s[i + 2] == 'X';
      size_t digits = i + (hex ? 3 : 2);
      size_t end = digits;
      while (end < s.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s[end]))
                                    : std::isdigit(static_cast<unsigned char>(s[end])))) {
        ++end;
      }
      uint32_t cp = 0;
      auto r = std::from_chars(s.data() + digits, s.data() + end, cp, hex ? 16 : 10);
      if (end > digits && r.ec == std::errc()) {
        // As Python: invalid code points become U+FFFD.
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
        append_utf8(out, cp);
        i = end < s.size() && s[end] == ';' ? end + 1 : end;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

// SGLang's _safe_val: JSON, else a Python literal, else the text itself.
nlohmann::ordered_json safe_value(std::string_view raw) {
  std::string text = html_unescape(python_strip(raw));
  auto json = parse_json_within_nesting<nlohmann::ordered_json>(text);
  if (!json.is_discarded()) return json;
  if (auto literal = parse_python_literal(text)) return *literal;
  return text;
}

// The texts of group 1, or group 2 where group 1 did not take part (re.findall over an
// alternation of two groups).
std::vector<std::string_view> find_either(const Pattern& pattern, std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    auto m = pattern.search(text, start);
    if (!m) break;
    auto [b, e] = (*m)[1].first != std::string_view::npos ? (*m)[1] : (*m)[2];
    out.push_back(b == std::string_view::npos ? std::string_view() : text.substr(b, e - b));
    start = (*m)[0].second > (*m)[0].first ? (*m)[0].second : (*m)[0].second + 1;
  }
  return out;
}

std::string strip_newlines(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

bool Qwen3CoderDetector::has_tool_call(std::string_view text) const {
  return text.find(kStart) != std::string_view::npos;
}

StreamingParseResult Qwen3CoderDetector::detect_and_parse(std::string_view text,
                                                          const std::vector<Tool>& tools) {
  static const Pattern kFunction("<function=(.*?)</function>|<function=(.*)$");
  static const Pattern kParameter("<parameter=(.*?)</parameter>|<parameter=(.*?)$");
  StreamingParseResult out;
  size_t cursor = 0;
  while (true) {
    size_t s = text.find(kStart, cursor);
    if (s == std::string_view::npos) {
      out.normal_text += text.substr(cursor);
      break;
    }
    out.normal_text += text.substr(cursor, s - cursor);
    size_t e = text.find(kEnd, s);
    if (e == std::string_view::npos) {
      out.normal_text += text.substr(s);
      break;
    }
    std::string_view block = text.substr(s, e + kEnd.size() - s);
    cursor = e + kEnd.size();
    for (std::string_view function : find_either(kFunction, complete_utf8_prefix(block))) {
      size_t gt = function.find('>');
      if (gt == std::string_view::npos) continue;
      nlohmann::ordered_json params = nlohmann::ordered_json::object();
      for (std::string_view p : find_either(kParameter, function.substr(gt + 1))) {
        size_t pgt = p.find('>');
        if (pgt == std::string_view::npos) continue;
        params[std::string(python_strip(p.substr(0, pgt)))] =
            safe_value(strip_newlines(p.substr(pgt + 1)));
      }
      nlohmann::ordered_json raw = {{"name", std::string(python_strip(function.substr(0, gt)))},
                                    {"arguments", std::move(params)}};
      auto calls = parse_base_json(raw, tools);
      out.calls.insert(out.calls.end(), calls.begin(), calls.end());
    }
  }
  return out;
}

void Qwen3CoderDetector::reset_call() {
  in_tool_call_ = false;
  function_name_sent_ = false;
  current_parameters_ = nlohmann::ordered_json::object();
  current_tool_name_sent_ = false;
}

std::vector<ToolCallItem> Qwen3CoderDetector::stream_parameters() {
  static const Pattern kComplete("<parameter=([^>]+)>(.*?)</parameter>");
  std::vector<ToolCallItem> calls;
  nlohmann::ordered_json new_params = nlohmann::ordered_json::object();
  std::string_view text = complete_utf8_prefix(buffer_);
  for (size_t start = 0; auto m = kComplete.search(text, start);) {
    auto [nb, ne] = (*m)[1];
    auto [vb, ve] = (*m)[2];
    new_params[std::string(python_strip(text.substr(nb, ne - nb)))] =
        safe_value(text.substr(vb, ve - vb));
    start = (*m)[0].second;
  }
  // Dict equality, which ignores key order.
  if (nlohmann::json(new_params) == nlohmann::json(current_parameters_)) return calls;
  const auto id = static_cast<size_t>(current_tool_id_);
  auto item = [](const std::string& key, const nlohmann::ordered_json& value) {
    return python_json_dumps(key, false) + ": " + python_json_dumps(value, false);
  };
  std::string fragment;
  if (current_parameters_.empty()) {
    fragment = "{";
    bool first = true;
    for (const auto& [key, value] : new_params.items()) {
      fragment += (first ? "" : ", ") + item(key, value);
      first = false;
    }
    streamed_args_for_tool_[id] = fragment;
    calls.push_back(ToolCallItem{current_tool_id_, std::nullopt, fragment});
  } else {
    // SGLang iterates a set of the new keys (hash order); here they come in the model's order.
    for (const auto& [key, value] : new_params.items()) {
      if (!current_parameters_.contains(key)) fragment += ", " + item(key, value);
    }
    if (!fragment.empty()) {
      streamed_args_for_tool_[id] += fragment;
      calls.push_back(ToolCallItem{current_tool_id_, std::nullopt, fragment});
    }
  }
  current_parameters_ = new_params;
  prev_tool_call_arr_[id] = std::move(new_params);
  return calls;
}

StreamingParseResult Qwen3CoderDetector::parse_streaming_increment(std::string_view new_text,
                                                                   const std::vector<Tool>& tools) {
  buffer_ += new_text;
  StreamingParseResult out;
  const auto indices = tool_indices(tools);
  static const Pattern kFunctionTag("<function=([^>]+)>");
  while (true) {
    if (!in_tool_call_) {
      size_t s = buffer_.find(kStart);
      if (s == std::string::npos) {
        out.normal_text += buffer_;
        buffer_.clear();
        break;
      }
      out.normal_text += buffer_.substr(0, s);
      buffer_ = buffer_.substr(s + kStart.size());
      in_tool_call_ = true;
      function_name_sent_ = false;
      current_parameters_ = nlohmann::ordered_json::object();
      continue;
    }
    if (!function_name_sent_) {
      std::string_view text = complete_utf8_prefix(buffer_);
      auto m = kFunctionTag.search(text);
      if (!m) break;
      std::string name(python_strip(text.substr((*m)[1].first, (*m)[1].second - (*m)[1].first)));
      if (!indices.contains(name)) {
        // An unknown function: the call is given back as text.
        reset_call();
        out.normal_text += buffer_;
        buffer_.clear();
        break;
      }
      function_name_sent_ = true;
      if (current_tool_id_ == -1) current_tool_id_ = 0;
      const auto id = static_cast<size_t>(current_tool_id_);
      while (prev_tool_call_arr_.size() <= id) {
        prev_tool_call_arr_.emplace_back(nlohmann::ordered_json::object());
      }
      while (streamed_args_for_tool_.size() <= id) streamed_args_for_tool_.emplace_back();
      prev_tool_call_arr_[id] = nlohmann::ordered_json::object();
      out.calls.push_back(ToolCallItem{current_tool_id_, name, ""});
      buffer_ = buffer_.substr((*m)[0].second);
      continue;
    }
    auto params = stream_parameters();
    out.calls.insert(out.calls.end(), params.begin(), params.end());
    size_t end = buffer_.find(kEnd);
    if (end == std::string::npos) break;
    const auto id = static_cast<size_t>(current_tool_id_);
    std::string& streamed = streamed_args_for_tool_[id];
    if (!streamed.empty() && std::count(streamed.begin(), streamed.end(), '{') >
                                 std::count(streamed.begin(), streamed.end(), '}')) {
      out.calls.push_back(ToolCallItem{current_tool_id_, std::nullopt, "}"});
      streamed += "}";
    }
    buffer_ = buffer_.substr(end + kEnd.size());
    reset_call();
    ++current_tool_id_;
  }
  return out;
}

}  // namespace sglang::chat
