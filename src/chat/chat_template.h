#pragma once
// Hugging Face chat templates rendered as transformers' apply_chat_template does (jinja2's
// ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loopcontrols, {% generation %},
// transformers' tojson, raise_exception and strftime_now), by our own Jinja2 engine (jinja/).
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace sglang::chat {

namespace jinja {
struct Program;
}

class ChatTemplate {
 public:
  // Parses a template source; a syntax error is an Error whose message says what and where.
  static Result<ChatTemplate> parse(std::string source);
  // Renders with `context` as the template's variables (messages, tools, documents,
  // add_generation_prompt, bos_token, eos_token, chat_template_kwargs...). A raise_exception() or
  // an evaluation error is an Error with jinja2's message ("TemplateError: ..." names the class).
  Result<std::string> render(const nlohmann::ordered_json& context) const;
  // SGLang's detect_jinja_template_content_format: "openai" when the template loops over a
  // message's content (its parts), else "string".
  std::string content_format() const;
  const std::string& source() const { return *source_; }

  ChatTemplate(ChatTemplate&&) noexcept = default;
  ChatTemplate& operator=(ChatTemplate&&) noexcept = default;
  ChatTemplate(const ChatTemplate&) = default;
  ChatTemplate& operator=(const ChatTemplate&) = default;

 private:
  ChatTemplate() = default;
  std::shared_ptr<const std::string> source_;
  std::shared_ptr<const jinja::Program> program_;
};

// SGLang's message preprocessing for a template (serving_chat.py _apply_jinja_template,
// jinja_template_utils.process_content_for_template_format): "string" joins a list content's
// text parts with a space; "openai" keeps the parts (a text part keeps type and text). Assistant
// tool_calls[].function.arguments given as a JSON string become objects.
nlohmann::ordered_json prepare_messages(const nlohmann::ordered_json& messages,
                                        const std::string& content_format);

// Fixed "now" for strftime_now in tests (nullopt: the real clock).
void set_clock_for_testing(std::optional<std::time_t> t);

}  // namespace sglang::chat
