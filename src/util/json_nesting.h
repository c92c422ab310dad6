#pragma once
// A bound on how deep arrays and objects nest in JSON that comes from a request or from a model.
// nlohmann's parser and destructor do not recurse, but its dump() and every consumer of a value
// (the chat template's values, the JSON-schema compiler, the tool-call parsers) do, so a body of
// 100k `[` would overflow a thread's stack. Python's json (SGLang's parser) stops near its
// recursion limit of 1000; this bound keeps our recursive consumers well inside a stack.
#include <string_view>

#include <nlohmann/json.hpp>

namespace sglang {

inline constexpr int kMaxJsonNesting = 512;

// Whether the arrays and objects in `text` nest at most `max_depth` deep. Brackets inside strings
// are skipped; `text` need not be valid JSON (the parser judges that).
inline bool json_nesting_within(std::string_view text, int max_depth = kMaxJsonNesting) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, a quote included
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// Json::parse(text) without exceptions: the value, or a discarded one when `text` is not JSON or
// nests deeper than kMaxJsonNesting. For text a model wrote, where "too deep" is "malformed".
template <class Json>
Json parse_json_within_nesting(std::string_view text) {
  if (!json_nesting_within(text)) return Json(Json::value_t::discarded);
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace sglang
