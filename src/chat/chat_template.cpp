#include "chat/chat_template.h"

#include <atomic>

#include "chat/jinja/evaluator.h"
#include "chat/jinja/parser.h"
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

std::atomic<bool> g_clock_fixed{false};
std::atomic<std::time_t> g_clock{0};

}  // namespace

void set_clock_for_testing(std::optional<std::time_t> t) {
  g_clock = t.value_or(0);
  g_clock_fixed = t.has_value();
}

Result<ChatTemplate> ChatTemplate::parse(std::string source) {
  auto parsed = [&]() -> Result<std::shared_ptr<const jinja::Program>> {
    try {
      return jinja::parse_template(source);
    } catch (const std::exception& e) {  // as in render()
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("TemplateSyntaxError: ") + e.what());
    }
  }();
  SGLANG_ASSIGN_OR_RETURN(auto program, std::move(parsed));
  ChatTemplate t;
  t.source_ = std::make_shared<const std::string>(std::move(source));
  t.program_ = std::move(program);
  return t;
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& context) const {
  jinja::RenderOptions options;
  if (g_clock_fixed) options.now = g_clock.load();
  try {
    return jinja::render_program(*program_, jinja::Value::from_json(context), options);
  } catch (const jinja::TemplateException& e) {
    return make_error(ErrorCode::kInvalidArgument, e.type() + ": " + e.what());
  } catch (const std::exception& e) {
    // A library error the engine did not foresee (std::out_of_range, bad_alloc): a failed
    // render, never a failed server.
    return make_error(ErrorCode::kInvalidArgument, std::string("TemplateError: ") + e.what());
  }
}

std::string ChatTemplate::content_format() const {
  return program_->has_content_loop ? "openai" : "string";
}

nlohmann::ordered_json prepare_messages(const nlohmann::ordered_json& messages,
                                        const std::string& content_format) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  if (!messages.is_array()) return out;
  for (const auto& m : messages) {
    nlohmann::ordered_json msg = m;
    if (msg.is_object() && msg.contains("content") && msg["content"].is_array()) {
      const auto& parts = msg["content"];
      if (content_format == "string") {
        // As SGLang: the text parts, joined by a space.
        std::string text;
        bool first = true;
        for (const auto& p : parts) {
          if (p.is_object() && p.value("type", "") == "text" && p.contains("text") &&
              p["text"].is_string()) {
            if (!first) text += ' ';
            first = false;
            text += p["text"].get<std::string>();
          }
        }
        msg["content"] = text;
      } else {
        nlohmann::ordered_json kept = nlohmann::ordered_json::array();
        for (const auto& p : parts) {
          if (p.is_object() && p.value("type", "") == "text") {
            kept.push_back({{"type", "text"}, {"text", p.value("text", "")}});
          } else if (p.is_object() && p.contains("type")) {
            // Media parts reach the template as their type (SGLang collects the data apart).
            kept.push_back({{"type", p["type"]}});
          }
        }
        msg["content"] = kept;
      }
    }
    if (msg.is_object() && msg.value("role", "") == "assistant" && msg.contains("tool_calls") &&
        msg["tool_calls"].is_array()) {
      for (auto& call : msg["tool_calls"]) {
        if (!call.is_object() || !call.contains("function")) continue;
        auto& fn = call["function"];
        if (fn.is_object() && fn.contains("arguments") && fn["arguments"].is_string()) {
          auto parsed =
              parse_json_within_nesting<nlohmann::ordered_json>(fn["arguments"].get<std::string>());
          if (!parsed.is_discarded()) fn["arguments"] = parsed;
        }
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace sglang::chat
