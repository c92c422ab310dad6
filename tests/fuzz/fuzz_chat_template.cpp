// The chat-template renderer (src/chat/jinja) on arbitrary input: a template source, then (after
// the first NUL byte, if any) the messages as JSON. Parsing and rendering give text or an error
// (jinja2's), never a crash, a hang or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  auto parsed = sglang::chat::ChatTemplate::parse(std::string(input.substr(0, nul)));
  if (!parsed.ok()) return 0;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array(
      {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi!"}}});
  if (nul != std::string_view::npos) {
    auto j = nlohmann::ordered_json::parse(input.substr(nul + 1), nullptr, false);
    if (!j.is_discarded()) messages = std::move(j);
  }
  const nlohmann::ordered_json context = {{"messages", messages},
                                          {"add_generation_prompt", true},
                                          {"bos_token", "<s>"},
                                          {"eos_token", "</s>"},
                                          {"tools", nlohmann::ordered_json::array()}};
  (void)parsed->render(context);
  (void)parsed->content_format();
  return 0;
}
