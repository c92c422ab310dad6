#include "chat/function_call/function_call_parser.h"

#include <functional>
#include <utility>

#include "chat/function_call/deepseekv3_detector.h"
#include "chat/function_call/json_array_detector.h"
#include "chat/function_call/llama32_detector.h"
#include "chat/function_call/mistral_detector.h"
#include "chat/function_call/python_json.h"
#include "chat/function_call/pythonic_detector.h"
#include "chat/function_call/qwen25_detector.h"

namespace sglang::chat {
namespace {

using Factory = std::function<std::unique_ptr<BaseFormatDetector>()>;

template <typename T>
Factory make() {
  return [] { return std::make_unique<T>(); };
}

// SGLang's ToolCallParserEnum, the names implemented here. (SGLang 0.5.5 has no "hermes":
// Hermes-format models, e.g. Qwen 2.5, use "qwen25".)
const std::vector<std::pair<std::string, Factory>>& table() {
  static const std::vector<std::pair<std::string, Factory>> kTable = {
      {"deepseekv3", make<DeepSeekV3Detector>()}, {"llama3", make<Llama32Detector>()},
      {"mistral", make<MistralDetector>()},       {"pythonic", make<PythonicDetector>()},
      {"qwen", make<Qwen25Detector>()},           {"qwen25", make<Qwen25Detector>()},
  };
  return kTable;
}

}  // namespace

std::vector<std::string> FunctionCallParser::supported_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : table()) names.push_back(name);
  return names;
}

Result<std::unique_ptr<FunctionCallParser>> FunctionCallParser::create(
    const std::string& parser_name, std::vector<Tool> tools) {
  for (const auto& [name, factory] : table()) {
    if (name == parser_name) {
      return std::unique_ptr<FunctionCallParser>(
          new FunctionCallParser(factory(), std::move(tools)));
    }
  }
  std::string list;
  for (const auto& name : supported_names()) list += (list.empty() ? "" : ", ") + name;
  return make_error(ErrorCode::kInvalidArgument,
                    "Unsupported tool_call_parser: " + parser_name + " (supported: " + list + ")");
}

std::unique_ptr<FunctionCallParser> FunctionCallParser::create_json_array(std::vector<Tool> tools) {
  return std::unique_ptr<FunctionCallParser>(
      new FunctionCallParser(std::make_unique<JsonArrayDetector>(), std::move(tools)));
}

bool FunctionCallParser::has_tool_call(std::string_view text) const {
  return !tools_.empty() && detector_->has_tool_call(text);
}

StreamingParseResult FunctionCallParser::parse_non_stream(std::string_view text) {
  if (tools_.empty()) return {std::string(text), {}};
  StreamingParseResult result = detector_->detect_and_parse(text, tools_);
  if (result.calls.empty()) return {std::string(text), {}};
  return result;
}

StreamingParseResult FunctionCallParser::parse_stream_chunk(std::string_view chunk) {
  if (tools_.empty()) return {std::string(chunk), {}};
  return detector_->parse_streaming_increment(chunk, tools_);
}

std::optional<ToolCallItem> FunctionCallParser::unstreamed_tool_args() const {
  const auto& prev = detector_->prev_tool_call_arguments();
  const auto& streamed = detector_->streamed_args_for_tool();
  if (prev.empty() || streamed.empty()) return std::nullopt;
  const size_t index = prev.size() - 1;
  if (index >= streamed.size()) return std::nullopt;
  const std::string expected = python_json_dumps(prev[index], false);
  const std::string& actual = streamed[index];
  // `expected.replace(actual, "", 1) if actual in expected else ""`
  size_t at = expected.find(actual);
  if (at == std::string::npos) return std::nullopt;
  std::string remaining = expected.substr(0, at) + expected.substr(at + actual.size());
  if (remaining.empty()) return std::nullopt;
  return ToolCallItem{static_cast<int>(index), std::nullopt, remaining};
}

}  // namespace sglang::chat
