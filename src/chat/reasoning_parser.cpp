#include "chat/reasoning_parser.h"

#include <algorithm>
#include <cctype>

#include "chat/function_call/partial_json.h"

namespace sglang::chat {
namespace {

// How a --reasoning-parser name builds its detector (SGLang's DetectorMap).
enum class Detector { kDeepSeekR1, kQwen3, kKimi, kMiniMaxAppendThink };

struct Entry {
  std::string_view name;
  Detector detector;
};

// gpt-oss (the Harmony channel format) is the one SGLang name not implemented here.
constexpr Entry kTable[] = {
    {"deepseek-r1", Detector::kDeepSeekR1},
    {"deepseek-v3", Detector::kQwen3},
    {"glm45", Detector::kQwen3},
    {"kimi", Detector::kKimi},
    {"kimi_k2", Detector::kDeepSeekR1},
    {"qwen3", Detector::kQwen3},
    {"qwen3-thinking", Detector::kQwen3},
    {"minimax", Detector::kQwen3},
    {"minimax-append-think", Detector::kMiniMaxAppendThink},
    {"step3", Detector::kDeepSeekR1},
};

void erase_all(std::string& text, std::string_view what) {
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at)) {
    text.erase(at, what.size());
  }
}

}  // namespace

std::vector<std::string> ReasoningParser::supported_names() {
  std::vector<std::string> names;
  for (const auto& e : kTable) names.emplace_back(e.name);
  return names;
}

Result<std::unique_ptr<ReasoningParser>> ReasoningParser::create(
    const std::string& model_type, bool stream_reasoning, std::optional<bool> force_reasoning) {
  std::string lower = model_type;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const Entry* entry = nullptr;
  for (const auto& e : kTable) {
    if (e.name == lower) entry = &e;
  }
  if (model_type.empty() || entry == nullptr) {
    std::string list;
    for (const auto& name : supported_names()) list += (list.empty() ? "" : ", ") + name;
    return make_error(ErrorCode::kInvalidArgument,
                      (model_type.empty() ? std::string("Model type must be specified")
                                          : "Unsupported model type: " + model_type) +
                          " (supported: " + list + ")");
  }
  // As SGLang: these names always start in reasoning, whatever the request says.
  if (lower == "qwen3-thinking" || lower == "minimax") force_reasoning = true;
  Kind kind = Kind::kThinkTags;
  std::string start = "<think>", end = "</think>";
  bool in_reasoning = force_reasoning.value_or(false);
  switch (entry->detector) {
    case Detector::kDeepSeekR1:
      in_reasoning = true;
      break;  // R1 ignores force_reasoning
    case Detector::kQwen3:
      break;
    case Detector::kKimi:
      start = "◁think▷";
      end = "◁/think▷";
      in_reasoning = false;
      break;
    case Detector::kMiniMaxAppendThink:
      kind = Kind::kAppendThink;
      break;
  }
  return std::unique_ptr<ReasoningParser>(
      new ReasoningParser(kind, start, end, in_reasoning, stream_reasoning));
}

ReasoningParser::Parsed ReasoningParser::parse_non_stream(std::string_view text) {
  if (kind_ == Kind::kAppendThink) return {"", think_start_ + std::string(text)};
  bool in_reasoning = in_reasoning_ || text.find(think_start_) != std::string_view::npos;
  if (!in_reasoning) return {"", std::string(text)};
  std::string processed(text);
  erase_all(processed, think_start_);
  processed = std::string(python_strip(processed));
  size_t end = processed.find(think_end_);
  // No closing tag: the reasoning was cut short (max_tokens), all of it is reasoning.
  if (end == std::string::npos) return {processed, ""};
  return {processed.substr(0, end),
          std::string(python_strip(std::string_view(processed).substr(end + think_end_.size())))};
}

ReasoningParser::Parsed ReasoningParser::parse_stream_chunk(std::string_view chunk) {
  if (kind_ == Kind::kAppendThink) {
    if (!first_chunk_seen_) {
      first_chunk_seen_ = true;
      return {"", think_start_ + std::string(chunk)};
    }
    return {"", std::string(chunk)};
  }
  buffer_ += chunk;
  std::string current = buffer_;
  // The whole buffer may be the start of a tag: wait for more.
  for (const std::string& token : {think_start_, think_end_}) {
    if (token != current && token.starts_with(current)) return {};
  }
  if (!stripped_think_start_ && current.find(think_start_) != std::string::npos) {
    erase_all(current, think_start_);
    stripped_think_start_ = true;
    in_reasoning_ = true;
  }
  if (in_reasoning_) {
    if (size_t end = current.find(think_end_); end != std::string::npos) {
      std::string reasoning = current.substr(0, end);
      // Python's rstrip(): trailing whitespace goes.
      while (!reasoning.empty() && std::isspace(static_cast<unsigned char>(reasoning.back()))) {
        reasoning.pop_back();
      }
      buffer_.clear();
      in_reasoning_ = false;
      return {reasoning, current.substr(end + think_end_.size())};
    }
    if (stream_reasoning_) {
      buffer_.clear();
      return {current, ""};
    }
    return {};
  }
  buffer_.clear();
  return {"", current};
}

}  // namespace sglang::chat
