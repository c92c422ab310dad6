#include "util/json_text.h"

namespace sglang {

nlohmann::json parse_json_text(std::string_view text) {
  // A (const char*, const char*) range: an instantiation of the parser used only here.
  return nlohmann::json::parse(text.data(), text.data() + text.size(), nullptr, false);
}

}  // namespace sglang
