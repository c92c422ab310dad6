#pragma once
// A reader for JSON text that may stop anywhere, as the tool-call parsers see it while the model
// is still writing: SGLang's _partial_json_loads (function_call/utils.py, v0.5.5) over the
// partial_json_parser package (0.2.1.1.post6). The text is completed the way that package
// completes it (an unfinished string is closed, an unfinished container closed after its last
// complete member, a value that is not allowed partial dropped with its key) and then read as
// JSON; a complete value followed by more text is read as json.JSONDecoder.raw_decode reads it.
#include <nlohmann/json.hpp>
#include <string_view>

#include "util/status.h"

namespace sglang::chat {

// partial_json_parser's Allow flags: which kinds of value may be read unfinished.
namespace allow {
inline constexpr unsigned kStr = 1;
inline constexpr unsigned kNum = 2;
inline constexpr unsigned kArr = 4;
inline constexpr unsigned kObj = 8;
inline constexpr unsigned kNull = 16;
inline constexpr unsigned kBool = 32;
inline constexpr unsigned kNan = 64;
inline constexpr unsigned kInfinity = 128;
inline constexpr unsigned kNegInfinity = 256;
inline constexpr unsigned kAll = 511;
}  // namespace allow

struct PartialJson {
  nlohmann::ordered_json value;
  size_t consumed = 0;    // bytes of the input read (SGLang's end_idx)
  bool complete = false;  // the consumed text is complete JSON (SGLang's _is_complete_json)
};

// An error where the package raises: text that cannot become JSON (MalformedJSON), or an
// unfinished value of a kind `allowed` excludes at the top (PartialJSON).
Result<PartialJson> parse_partial_json(std::string_view text, unsigned allowed);

// json.JSONDecoder().raw_decode(text): the one JSON value `text` starts with (no leading blanks)
// and where it ends; an error when it does not start with a complete value.
Result<PartialJson> raw_decode_json(std::string_view text);

// Python's str.strip() over ASCII whitespace.
std::string_view python_strip(std::string_view text);

}  // namespace sglang::chat
