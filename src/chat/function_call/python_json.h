#pragma once
// JSON text as Python's json.dumps writes it, which is what SGLang's parsers emit as a call's
// arguments: separators ", " and ": ", floats as repr() (shortest round trip, "1.0", "1e+16"),
// and with ensure_ascii every character outside ' '..'~' as \uXXXX (UTF-16 surrogate pairs).
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sglang::chat {

std::string python_json_dumps(const nlohmann::ordered_json& value, bool ensure_ascii);

// The longest prefix of `text` that does not end inside a UTF-8 sequence: what Python, which
// sees characters, would hold when a chunk boundary falls inside one.
std::string_view complete_utf8_prefix(std::string_view text);

}  // namespace sglang::chat
