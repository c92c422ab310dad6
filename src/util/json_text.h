#pragma once
// JSON text to an nlohmann::json value, for the large files read at start-up (tokenizer.json: ~7 MB
// for Qwen). One function so that the sanitizer build can compile this third-party parser without
// instrumentation (src/CMakeLists.txt): under ASan it was 87 % of a server's start-up.
#include <nlohmann/json.hpp>
#include <string_view>

namespace sglang {

// The parsed value, or a discarded one (is_discarded()) when `text` is not valid JSON.
nlohmann::json parse_json_text(std::string_view text);

}  // namespace sglang
