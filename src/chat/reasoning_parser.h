#pragma once
// A reasoning model's output split into its reasoning and its answer: SGLang's ReasoningParser
// (srt/parser/reasoning_parser.py, v0.5.5), the think-tag detectors behind its
// --reasoning-parser names. `force_reasoning` says the output starts inside the reasoning block
// (a chat template that pre-fills <think>, or enable_thinking on Qwen3); `stream_reasoning`
// false holds the reasoning back until its closing tag.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace sglang::chat {

class ReasoningParser {
 public:
  // SGLang's --reasoning-parser names (case-insensitive, as SGLang lowers them); unknown → Error
  // listing them.
  static Result<std::unique_ptr<ReasoningParser>> create(
      const std::string& model_type, bool stream_reasoning = true,
      std::optional<bool> force_reasoning = std::nullopt);
  static std::vector<std::string> supported_names();

  struct Parsed {
    std::string reasoning_text, normal_text;
  };
  Parsed parse_non_stream(std::string_view text);
  Parsed parse_stream_chunk(std::string_view chunk);

  // The tag that ends the reasoning (SGLang's scheduler reads detector.think_end_token).
  const std::string& think_end_token() const { return think_end_; }

 private:
  enum class Kind { kThinkTags, kAppendThink };
  ReasoningParser(Kind kind, std::string think_start, std::string think_end, bool in_reasoning,
                  bool stream_reasoning)
      : kind_(kind),
        think_start_(std::move(think_start)),
        think_end_(std::move(think_end)),
        in_reasoning_(in_reasoning),
        stream_reasoning_(stream_reasoning) {}

  Kind kind_;
  std::string think_start_, think_end_;
  bool in_reasoning_;
  bool stream_reasoning_;
  std::string buffer_;
  bool stripped_think_start_ = false;
  bool first_chunk_seen_ = false;
};

}  // namespace sglang::chat
