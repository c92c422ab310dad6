#pragma once
// A request's tool-call parser: SGLang's FunctionCallParser (function_call/function_call_parser.py,
// v0.5.5) over one detector per --tool-call-parser name. Without tools it passes text through.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/function_call/base_format_detector.h"
#include "chat/tool_call.h"
#include "util/status.h"

namespace sglang::chat {

class FunctionCallParser {
 public:
  // SGLang's --tool-call-parser names; an unknown name is an Error listing the supported ones.
  static Result<std::unique_ptr<FunctionCallParser>> create(const std::string& parser_name,
                                                            std::vector<Tool> tools);
  static std::vector<std::string> supported_names();
  // The parser for outputs constrained by json_schema_constraint (tool_choice "required" or a
  // named function), whatever --tool-call-parser says: SGLang streams those with its
  // JsonArrayParser. Only parse_stream_chunk and unstreamed_tool_args apply; the whole output is
  // read by parse_required_tool_calls.
  static std::unique_ptr<FunctionCallParser> create_json_array(std::vector<Tool> tools);

  bool has_tool_call(std::string_view text) const;
  // The whole output: its calls (tool_index -1 for the JSON formats, the call's position for
  // pythonic, as SGLang) and the text around them; without calls, the text unchanged.
  StreamingParseResult parse_non_stream(std::string_view text);
  // The next piece of the output (one parser per streamed choice).
  StreamingParseResult parse_stream_chunk(std::string_view chunk);

  // When a stream ends: the arguments of the last call that were read but not yet streamed
  // (SGLang's serving_chat _check_for_unstreamed_tool_args), as an item to send after the
  // last chunk; nullopt when nothing is left. Its text is json.dumps(ensure_ascii=False) of the
  // arguments minus what was streamed.
  std::optional<ToolCallItem> unstreamed_tool_args() const;

 private:
  FunctionCallParser(std::unique_ptr<BaseFormatDetector> detector, std::vector<Tool> tools)
      : detector_(std::move(detector)), tools_(std::move(tools)) {}
  std::unique_ptr<BaseFormatDetector> detector_;
  std::vector<Tool> tools_;
};

}  // namespace sglang::chat
