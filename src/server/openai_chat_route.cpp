// POST /v1/chat/completions as SGLang's OpenAIServingChat (entrypoints/openai/serving_chat.py,
// v0.5.5): messages rendered by the model's chat template (chat/chat_template.h) and tokenized,
// generated as a GenerateReqInput (GenerateCall), the output split into reasoning, content and
// tool calls by the --reasoning-parser / --tool-call-parser (chat/), answered as a
// ChatCompletionResponse or a stream of ChatCompletionStreamResponse chunks. Also where the chat
// template is chosen at start-up (SGLang's TemplateManager).
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/function_call/function_call_parser.h"
#include "chat/function_call/tool_choice.h"
#include "chat/reasoning_parser.h"
#include "server/api_server.h"
#include "server/openai_common.h"
#include "util/logging.h"

namespace sglang {

namespace {

using json = GenerateCall::json;

// transformers' error when a tokenizer has no chat template.
constexpr const char* kNoChatTemplate =
    "Cannot use chat template functions because tokenizer.chat_template is not set and no "
    "template argument was passed! For information about writing templates and setting the "
    "tokenizer.chat_template attribute, please see the documentation at "
    "https://huggingface.co/docs/transformers/main/en/chat_templating";

struct ChatOptions {
  std::string id;  // "chatcmpl-..."
  std::string model;
  int64_t n = 1;
  bool logprobs = false;
  StreamOptions stream_options;
  bool enable_cache_report = false;
  bool separate_reasoning = true;
  bool stream_reasoning = true;
  bool force_reasoning = false;
  std::optional<std::string> reasoning_parser;
  std::optional<std::string> tool_call_parser;  // set only when the request's tools apply
  std::vector<chat::Tool> tools;
  // tool_choice "required" or a named function with a tool-call parser: the output is the JSON
  // array of calls the constraint produced, read as one (SGLang's _process_tool_calls).
  bool required_tool_calls = false;
};

json tool_call_json(const std::optional<std::string>& id, json index,
                    const std::optional<std::string>& name, const std::string& arguments) {
  json t;
  t["id"] = id ? json(*id) : json(nullptr);
  t["index"] = std::move(index);
  t["type"] = "function";
  t["function"] = {{"name", name ? json(*name) : json(nullptr)}, {"arguments", arguments}};
  return t;
}

// As SGLang's _process_tool_call_id for every parser but kimi_k2.
std::string tool_call_id() {
  return "call_" + openai_request_id("").substr(0, 24);
}

class ChatOutput : public GenerateCall::Output {
 public:
  explicit ChatOutput(ChatOptions o) : o_(std::move(o)) { created_ = std::time(nullptr); }

  void on_update(GenerateCall& call, GenerateCall::Item& it) override {
    State& st = state_[it.index];
    http::Exchange& ex = call.exchange();
    json choice_logprobs = nullptr;
    if (o_.logprobs) {
      choice_logprobs = chat_logprobs(it, st.n_prev, it.output_token_logprobs.size());
      st.n_prev = it.output_token_logprobs.size();
    }
    if (it.finish && !st.finish_recorded) {
      st.finish_recorded = true;
      finish_order_.push_back(it.index);
    }
    if (!st.started) {
      st.started = true;
      send(ex, choice(it.index, delta("assistant", json(""), nullptr, nullptr), nullptr, nullptr,
                      nullptr));
    }
    const std::string text = it.finished ? call.final_text(it) : it.text;
    std::string d = text.size() > st.sent ? text.substr(st.sent) : "";
    st.sent = std::max(st.sent, text.size());
    if (o_.reasoning_parser && o_.separate_reasoning) {
      if (!st.reasoning) {
        st.reasoning = std::move(*chat::ReasoningParser::create(
            *o_.reasoning_parser, o_.stream_reasoning, o_.force_reasoning));
      }
      auto parsed = st.reasoning->parse_stream_chunk(d);
      d = std::move(parsed.normal_text);
      if (!parsed.reasoning_text.empty()) {
        send(ex,
             choice(it.index, delta(nullptr, nullptr, json(parsed.reasoning_text), nullptr),
                    nullptr, nullptr, nullptr),
             &it);
      }
    }
    if (o_.required_tool_calls) {
      // SGLang streams such an array through its JsonArrayParser; here the calls go out whole
      // once the array is complete (the same calls, in fewer chunks).
      if (it.finished) send_required_tool_calls(ex, it.index, text, st);
    } else if (o_.tool_call_parser) {
      if (!st.tools) {
        st.tools = std::move(*chat::FunctionCallParser::create(*o_.tool_call_parser, o_.tools));
      }
      chat::StreamingParseResult r = st.tools->parse_stream_chunk(d);
      if (!r.normal_text.empty()) {
        send(ex,
             choice(it.index, delta(nullptr, json(r.normal_text), nullptr, nullptr), nullptr,
                    nullptr, nullptr),
             &it);
      }
      for (const auto& c : r.calls) {
        st.has_tool_calls = true;
        // As SGLang: the id and the name come with a call's first piece only.
        const std::optional<std::string> id =
            c.name ? std::optional<std::string>(tool_call_id()) : std::nullopt;
        send(ex,
             choice(it.index,
                    delta(nullptr, nullptr, nullptr,
                          json::array({tool_call_json(id, c.tool_index, c.name, c.parameters)})),
                    nullptr, nullptr, nullptr),
             &it);
      }
      if (it.finished) {
        // SGLang's _check_for_unstreamed_tool_args.
        if (auto rest = st.tools->unstreamed_tool_args()) {
          send(ex, choice(it.index,
                          delta(nullptr, nullptr, nullptr,
                                json::array({tool_call_json(std::nullopt, rest->tool_index,
                                                            std::nullopt, rest->parameters)})),
                          nullptr, nullptr, nullptr));
        }
      }
    } else if (!d.empty()) {
      send(ex,
           choice(it.index, delta(nullptr, json(d), nullptr, nullptr), choice_logprobs, nullptr,
                  nullptr),
           &it);
    }
  }

  void on_done(GenerateCall& call) override {
    http::Exchange& ex = call.exchange();
    if (call.stream()) {
      for (size_t index : finish_order_) {
        const GenerateCall::Item& it = call.items()[index];
        json reason = finish_type(it);
        if (state_[index].has_tool_calls && reason == "stop") reason = "tool_calls";
        send(ex, choice(index, delta(nullptr, nullptr, nullptr, nullptr), nullptr, reason,
                        matched_stop(it)));
      }
      if (o_.stream_options.include_usage) {
        json chunk = header("chat.completion.chunk");
        chunk["choices"] = json::array();
        chunk["usage"] = usage_json(call, o_.n, o_.enable_cache_report);
        ex.send_chunk("data: " + dump_json(chunk) + "\n\n");
      }
      ex.send_chunk("data: [DONE]\n\n");
      ex.end_stream();
      return;
    }
    if (const GenerateCall::Item* bad = call.error_item()) {
      return respond_error(ex, engine_abort_error(*bad));
    }
    json choices = json::array();
    for (const auto& it : call.items()) {
      std::string text = call.final_text(it);
      std::string reasoning;
      if (o_.reasoning_parser && o_.separate_reasoning) {
        auto parser =
            chat::ReasoningParser::create(*o_.reasoning_parser, false, o_.force_reasoning);
        auto parsed = (*parser)->parse_non_stream(text);
        reasoning = std::move(parsed.reasoning_text);
        text = std::move(parsed.normal_text);
      }
      json reason = finish_type(it);
      json matched = matched_stop(it);
      json tool_calls = nullptr;
      if (o_.required_tool_calls) {
        if (reason == "stop") {
          reason = "tool_calls";
          matched = nullptr;
        }
        if (auto calls = chat::parse_required_tool_calls(text); calls.ok()) {
          text.clear();
          tool_calls = json::array();
          for (const auto& c : *calls) {
            tool_calls.push_back(
                tool_call_json(tool_call_id(), c.tool_index, c.name, c.parameters));
          }
        }
      } else if (o_.tool_call_parser) {
        auto parser = std::move(*chat::FunctionCallParser::create(*o_.tool_call_parser, o_.tools));
        if (parser->has_tool_call(text)) {
          if (reason == "stop") {
            reason = "tool_calls";
            matched = nullptr;
          }
          chat::StreamingParseResult r = parser->parse_non_stream(text);
          text = std::move(r.normal_text);
          tool_calls = json::array();
          for (const auto& c : r.calls) {
            tool_calls.push_back(
                tool_call_json(tool_call_id(), c.tool_index, c.name, c.parameters));
          }
        }
      }
      json message;
      message["role"] = "assistant";
      message["content"] = text.empty() ? json(nullptr) : json(text);
      message["reasoning_content"] = reasoning.empty() ? json(nullptr) : json(reasoning);
      message["tool_calls"] = std::move(tool_calls);
      json c;
      c["index"] = it.index;
      c["message"] = std::move(message);
      c["logprobs"] =
          o_.logprobs ? chat_logprobs(it, 0, it.output_token_logprobs.size()) : json(nullptr);
      c["finish_reason"] = std::move(reason);
      c["matched_stop"] = std::move(matched);
      choices.push_back(std::move(c));
    }
    json body = header("chat.completion");
    body["choices"] = std::move(choices);
    body["usage"] = usage_json(call, o_.n, o_.enable_cache_report);
    body["metadata"] = json{{"weight_version", call.weight_version()}};
    ex.respond(200, "application/json", dump_json(body));
  }

 private:
  struct State;
  void send_required_tool_calls(http::Exchange& ex, size_t index, const std::string& text,
                                State& st) {
    auto calls = chat::parse_required_tool_calls(text);
    if (!calls.ok()) {
      // As SGLang: what does not parse stays content.
      if (!text.empty()) {
        send(ex, choice(index, delta(nullptr, json(text), nullptr, nullptr), nullptr, nullptr,
                        nullptr));
      }
      return;
    }
    for (const auto& c : *calls) {
      st.has_tool_calls = true;
      send(ex, choice(index,
                      delta(nullptr, nullptr, nullptr,
                            json::array({tool_call_json(tool_call_id(), c.tool_index, c.name,
                                                        c.parameters)})),
                      nullptr, nullptr, nullptr));
    }
  }

  struct State {
    bool started = false;
    size_t sent = 0;
    size_t n_prev = 0;
    bool has_tool_calls = false;
    bool finish_recorded = false;
    std::unique_ptr<chat::ReasoningParser> reasoning;
    std::unique_ptr<chat::FunctionCallParser> tools;
  };

  json header(const char* object) const {
    json h;
    h["id"] = o_.id;
    h["object"] = object;
    h["created"] = static_cast<int64_t>(created_);
    h["model"] = o_.model;
    return h;
  }
  // SGLang's DeltaMessage (hidden_states dropped when null).
  static json delta(json role, json content, json reasoning, json tool_calls) {
    json d;
    d["role"] = std::move(role);
    d["content"] = std::move(content);
    d["reasoning_content"] = std::move(reasoning);
    d["tool_calls"] = std::move(tool_calls);
    return d;
  }
  static json choice(size_t index, json d, json logprobs, json finish, json matched) {
    json c;
    c["index"] = index;
    c["delta"] = std::move(d);
    c["logprobs"] = std::move(logprobs);
    c["finish_reason"] = std::move(finish);
    c["matched_stop"] = std::move(matched);
    return c;
  }
  void send(http::Exchange& ex, json c, const GenerateCall::Item* usage_of = nullptr) {
    json chunk = header("chat.completion.chunk");
    chunk["choices"] = json::array({std::move(c)});
    chunk["usage"] = nullptr;
    if (usage_of && o_.stream_options.continuous_usage_stats) {
      chunk["usage"] = item_usage_json(*usage_of);
    }
    ex.send_chunk("data: " + dump_json(chunk) + "\n\n");
  }

  ChatOptions o_;
  std::time_t created_;
  std::map<size_t, State> state_;
  std::vector<size_t> finish_order_;
};

// SGLang's _get_enable_thinking_from_request.
bool enable_thinking(const std::optional<std::string>& reasoning_parser, const json& kwargs) {
  if (!reasoning_parser || !kwargs.is_object()) return false;
  auto flag = [&](const char* key) {
    auto v = kwargs.find(key);
    return v != kwargs.end() && v->is_boolean() && v->get<bool>();
  };
  if (*reasoning_parser == "qwen3" || *reasoning_parser == "glm45") return flag("enable_thinking");
  if (*reasoning_parser == "deepseek-v3") return flag("thinking");
  return false;
}

}  // namespace

// A message as SGLang's pydantic models dump it (ChatCompletionMessageUserParam: role, content;
// ChatCompletionMessageGenericParam: role, content, tool_call_id, name, reasoning_content,
// tool_calls), content None turned into "" as _apply_jinja_template does. An error names the field.
Result<GenerateCall::json> dump_chat_message(const GenerateCall::json& m, size_t i) {
  const std::string where = "messages[" + std::to_string(i) + "]";
  auto bad = [&](const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); };
  if (!m.is_object()) return bad("Input should be a valid dictionary: " + where);
  auto role_it = m.find("role");
  if (role_it == m.end()) return bad("Field required: " + where + ".role");
  if (!role_it->is_string()) return bad("'role' must be a string: " + where + ".role");
  std::string role = role_it->get<std::string>();
  std::string lower = role;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const bool user = role == "user";
  if (!user && lower != "system" && lower != "assistant" && lower != "tool" &&
      lower != "function") {
    return bad(
        "'role' must be one of 'system', 'assistant', 'tool', or 'function' "
        "(case-insensitive), or 'user': " +
        where + ".role");
  }
  json out;
  out["role"] = user ? role : lower;
  auto content_it = m.find("content");
  json content = content_it == m.end() ? json(nullptr) : json(*content_it);
  if (user && content.is_null()) return bad("Field required: " + where + ".content");
  if (content.is_array()) {
    for (size_t k = 0; k < content.size(); ++k) {
      const json& part = content[k];
      const std::string pw = where + ".content[" + std::to_string(k) + "]";
      if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
        return bad("Input should be a valid content part: " + pw);
      }
      const std::string type = part["type"];
      if (type == "text") {
        if (!part.contains("text") || !part["text"].is_string()) {
          return bad("Field required: " + pw + ".text");
        }
      } else if (type == "image_url" || type == "video_url" || type == "audio_url") {
        return bad(type + " content is not supported yet: this server serves text models only (" +
                   pw + ").");
      } else {
        return bad("Input tag '" + type +
                   "' found using 'type' does not match any of the expected tags: 'text', "
                   "'image_url', 'video_url', 'audio_url': " +
                   pw);
      }
    }
  } else if (!content.is_string() && !content.is_null()) {
    return bad("Input should be a valid string or a list of content parts: " + where + ".content");
  }
  out["content"] = content.is_null() ? json("") : content;
  if (user) return out;
  for (const char* key : {"tool_call_id", "name", "reasoning_content"}) {
    auto v = m.find(key);
    if (v != m.end() && !v->is_null() && !v->is_string()) {
      return bad("Input should be a valid string: " + where + "." + key);
    }
    out[key] = v == m.end() ? json(nullptr) : json(*v);
  }
  auto tc = m.find("tool_calls");
  if (tc == m.end() || tc->is_null()) {
    out["tool_calls"] = nullptr;
    return out;
  }
  if (!tc->is_array()) return bad("Input should be a valid list: " + where + ".tool_calls");
  json calls = json::array();
  for (size_t k = 0; k < tc->size(); ++k) {
    const auto& c = (*tc)[k];
    const std::string cw = where + ".tool_calls[" + std::to_string(k) + "]";
    if (!c.is_object() || !c.contains("function") || !c["function"].is_object()) {
      return bad("Field required: " + cw + ".function");
    }
    const auto& fn = c["function"];
    json call;
    call["id"] = c.contains("id") ? json(c["id"]) : json(nullptr);
    call["index"] = c.contains("index") ? json(c["index"]) : json(nullptr);
    call["type"] = "function";
    call["function"] = {
        {"name", fn.contains("name") ? json(fn["name"]) : json(nullptr)},
        {"arguments", fn.contains("arguments") ? json(fn["arguments"]) : json(nullptr)}};
    if (call["function"]["arguments"].is_string()) {
      // SGLang parses JSON-string arguments with orjson.loads; invalid JSON is a 400 here.
      const std::string& a = call["function"]["arguments"].get_ref<const std::string&>();
      if (json::parse(a, nullptr, false).is_discarded()) {
        return bad("Invalid JSON in " + cw + ".function.arguments");
      }
    }
    calls.push_back(std::move(call));
  }
  out["tool_calls"] = std::move(calls);
  return out;
}

GenerateCall::json template_tool(const GenerateCall::json& name,
                                 const GenerateCall::json& description,
                                 const GenerateCall::json& parameters, bool strict) {
  json d;
  d["description"] = description;
  d["name"] = name;
  d["parameters"] = parameters;
  d["strict"] = strict;
  return d;
}

namespace {

// A template that raises (raise_exception, an undefined name, a type error): a 400 with the
// template's message (SGLang answers apply_chat_template's exceptions other than ValueError with a
// 500, but a template refusing a conversation is the client's error, not the server's).
// ChatTemplate::render's message is "<Python class>: <str(e)>" (chat/chat_template.h).
ApiError template_error(const std::string& message) {
  const size_t colon = message.find(": ");
  return ApiError::openai(colon == std::string::npos ? message : message.substr(colon + 2));
}

}  // namespace

Status ApiServer::load_chat_template() {
  // SGLang's TemplateManager.load_chat_template: --chat-template (a file; SGLang's built-in
  // conversation names are Python code we do not have), else the tokenizer's template
  // (tokenizer_config.json's chat_template, chat_template.jinja beside it, or the GGUF's
  // tokenizer.chat_template, read by the tokenizer loader).
  std::string source;
  std::string origin;
  if (args_.chat_template) {
    const std::string& path = *args_.chat_template;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return make_error(ErrorCode::kInvalidArgument,
                        "Chat template " + path +
                            " is not a built-in template name or a valid chat template file path "
                            "(SGLang's built-in conversation templates are not available here; "
                            "pass a Jinja file).");
    }
    if (path.size() >= 5 && path.substr(path.size() - 5) == ".json") {
      return make_error(ErrorCode::kUnsupported,
                        "Chat template " + path +
                            ": JSON conversation templates are not supported; pass a Jinja file.");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    source = ss.str();
    origin = path;
  } else {
    source = tokenizer_config_.chat_template;
    origin = "the tokenizer";
  }
  if (source.empty()) return {};
  auto parsed = chat::ChatTemplate::parse(source);
  if (!parsed.ok()) {
    // A model whose template we cannot parse still serves the native API; chat requests get this.
    chat_template_error_ =
        "The chat template of " + origin + " cannot be used: " + parsed.error().message;
    SGLANG_LOG_ERROR("{}", chat_template_error_);
    if (args_.chat_template) return make_error(ErrorCode::kInvalidArgument, chat_template_error_);
    return {};
  }
  chat_template_ = std::make_shared<chat::ChatTemplate>(std::move(*parsed));
  if (!args_.chat_template && !tokenizer_config_.tool_use_chat_template.empty()) {
    // transformers' get_chat_template: with tools, a named "tool_use" template wins.
    auto tool_use = chat::ChatTemplate::parse(tokenizer_config_.tool_use_chat_template);
    if (tool_use.ok()) {
      tool_use_template_ = std::make_shared<chat::ChatTemplate>(std::move(*tool_use));
    } else {
      SGLANG_LOG_ERROR("The tokenizer's tool_use chat template cannot be used: {}",
                       tool_use.error().message);
    }
  }
  // SGLang's _detect_reasoning_pattern (its hard-coded Qwen pattern).
  force_reasoning_ = source.find("<|im_start|>assistant\\n<think>\\n") != std::string::npos;
  SGLANG_LOG_INFO("Chat template from {}; content format {}{}", origin,
                  chat_template_->content_format(),
                  force_reasoning_ ? "; it forces reasoning" : "");
  return {};
}

Result<std::vector<int32_t>> ApiServer::chat_prompt_ids(const GenerateCall::json& messages,
                                                        const ChatPromptOptions& options) const {
  auto refuse = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  if (!tokenizer_) return refuse("The server has no tokenizer (--skip-tokenizer-init).");
  if (!chat_template_)
    return refuse(chat_template_error_.empty() ? kNoChatTemplate : chat_template_error_);
  json prepared = chat::prepare_messages(messages, chat_template_->content_format());
  std::optional<std::string> assistant_prefix;
  if (!prepared.empty() && prepared.back()["role"] == "assistant" &&
      options.continue_final_message) {
    const json& c = prepared.back()["content"];
    assistant_prefix = c.is_string() ? c.get<std::string>() : c.dump();
    prepared.erase(prepared.size() - 1);
  }
  auto render = [&](const json& tools_arg) {
    // transformers: render(messages, tools, documents, add_generation_prompt,
    // **special_tokens_map, **kwargs).
    json ctx;
    const TokenizerConfig& tc = tokenizer_config_;
    if (tc.bos_token) ctx["bos_token"] = *tc.bos_token;
    if (tc.eos_token) ctx["eos_token"] = *tc.eos_token;
    if (tc.unk_token) ctx["unk_token"] = *tc.unk_token;
    if (tc.pad_token) ctx["pad_token"] = *tc.pad_token;
    ctx["messages"] = prepared;
    ctx["tools"] = tools_arg;
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = true;
    ctx["reasoning_effort"] = options.reasoning_effort;
    for (auto it = options.kwargs.begin(); it != options.kwargs.end(); ++it)
      ctx[it.key()] = it.value();
    return (tool_use_template_ && !tools_arg.is_null() ? tool_use_template_ : chat_template_)
        ->render(ctx);
  };
  auto rendered = render(options.tools);
  if (!rendered.ok() && options.tools.is_array()) {
    // As SGLang: retry with tools wrapped as {"function": ...} (templates such as Mistral's).
    json wrapped = json::array();
    for (const auto& t : options.tools) wrapped.push_back(json{{"function", t}});
    rendered = render(wrapped);
  }
  // kInternal: the template raised ("<Python class>: <str(e)>"), which SGLang's routes answer
  // each in their own way.
  if (!rendered.ok()) return make_error(ErrorCode::kInternal, rendered.error().message);
  // apply_chat_template(tokenize=True) encodes without special tokens.
  std::vector<int32_t> ids = tokenizer_->encode(*rendered, false);
  if (assistant_prefix && !assistant_prefix->empty()) {
    std::vector<int32_t> extra = tokenizer_->encode(*assistant_prefix, true);
    const int32_t bos =
        tokenizer_config_.bos_token ? tokenizer_->token_to_id(*tokenizer_config_.bos_token) : -1;
    if (!extra.empty() && bos >= 0 && extra[0] == bos) {
      extra.erase(extra.begin());
    }
    ids.insert(ids.end(), extra.begin(), extra.end());
  }
  if (ids.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "The chat template rendered an empty prompt.");
  }
  return ids;
}

void ApiServer::openai_chat_completions(const http::Request& req,
                                        std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return respond_error(ex, *e);
  }
  RequestFields f(body);
  ChatOptions o;
  o.model = f.string("model").value_or("default");
  if (!body.contains("messages")) {
    return respond_error(ex, ApiError::validation("Field required: messages"));
  }
  // The body again with its keys in the client's order (`body` sorts them): SGLang's dicts keep
  // it, and a template's tojson writes it into the prompt (tool parameters, tool-call arguments,
  // chat_template_kwargs).
  const json ordered = json::parse(req.body, nullptr, false);
  if (!body["messages"].is_array()) {
    return respond_error(ex, ApiError::validation("Input should be a valid list: messages"));
  }
  json messages = json::array();
  for (size_t i = 0; i < ordered["messages"].size(); ++i) {
    auto m = dump_chat_message(ordered["messages"][i], i);
    if (!m.ok()) return respond_error(ex, ApiError::validation(m.error().message));
    messages.push_back(std::move(*m));
  }
  // Tools and tool_choice (None: "none" without tools, else "auto").
  auto tools = chat::parse_tools(ordered.contains("tools") ? ordered["tools"] : json(nullptr));
  if (!tools.ok()) return respond_error(ex, ApiError::validation(tools.error().message));
  const bool has_tools = f.has("tools");
  auto tool_choice = chat::parse_tool_choice(
      f.has("tool_choice") ? json(body["tool_choice"]) : json(has_tools ? "auto" : "none"));
  if (!tool_choice.ok()) {
    return respond_error(ex, ApiError::validation(tool_choice.error().message));
  }
  const std::optional<int64_t> max_tokens = f.integer("max_tokens");
  const std::optional<int64_t> max_completion_tokens = f.integer("max_completion_tokens");
  o.n = f.integer("n").value_or(1);
  o.logprobs = f.boolean("logprobs").value_or(false);
  const int64_t top_logprobs = f.integer("top_logprobs").value_or(0);
  const bool stream = f.boolean("stream").value_or(false);
  o.stream_options = read_stream_options(f);
  o.separate_reasoning = f.boolean("separate_reasoning").value_or(true);
  o.stream_reasoning = f.boolean("stream_reasoning").value_or(true);
  const bool continue_final_message = f.boolean("continue_final_message").value_or(false);
  json kwargs = json::object();
  if (f.object("chat_template_kwargs")) kwargs = ordered["chat_template_kwargs"];
  std::string reasoning_effort = "medium";
  if (auto v = kwargs.find("reasoning_effort"); v != kwargs.end()) {
    // As SGLang: chat_template_kwargs' reasoning_effort overrides the field.
    if (v->is_string()) reasoning_effort = v->get<std::string>();
    kwargs.erase(v);
  } else if (auto e = f.string("reasoning_effort")) {
    reasoning_effort = *e;
  }
  if (reasoning_effort != "low" && reasoning_effort != "medium" && reasoning_effort != "high") {
    f.fail("Input should be 'low', 'medium' or 'high': reasoning_effort");
  }
  nlohmann::json sp = read_openai_sampling_params(f, true);
  f.string("user");
  refuse_sglang_extensions(f, SglangRequest::kOpenAI);
  if (f.error()) return respond_error(ex, ApiError::validation(*f.error()));

  // SGLang's _validate_request.
  auto refuse = [&](const std::string& m) { respond_error(ex, ApiError::openai(m)); };
  if (messages.empty()) return refuse("Messages cannot be empty.");
  using TC = chat::ToolChoice::Kind;
  if (tool_choice->kind == TC::kRequired && tools->empty()) {
    return refuse("Tools cannot be empty if tool choice is set to required.");
  }
  if (tool_choice->kind == TC::kFunction) {
    if (tools->empty())
      return refuse("Tools cannot be empty if tool choice is set to a specific tool.");
    const bool exists = std::any_of(tools->begin(), tools->end(), [&](const chat::Tool& t) {
      return t.name == tool_choice->function_name;
    });
    if (!exists)
      return refuse("Tool '" + tool_choice->function_name + "' not found in tools list.");
  }
  const bool required_calls =
      has_tools && (tool_choice->kind == TC::kRequired || tool_choice->kind == TC::kFunction);
  if (required_calls) {
    // SGLang constrains the output to a JSON array of calls of the tools (get_json_schema_
    // constraint), unless the request has a constraint of its own.
    auto schema = chat::json_schema_constraint(*tools, *tool_choice);
    if (!schema.ok()) return refuse(schema.error().message);
    const bool has_constraint = sp.contains("regex") || sp.contains("ebnf") ||
                                sp.contains("json_schema") || sp.contains("structural_tag");
    if (has_constraint) {
      SGLANG_LOG_WARN("Constrained decoding is not compatible with tool calls.");
    } else if (*schema) {
      sp["json_schema"] = (*schema)->dump();
    }
  }
  const std::optional<int64_t> max_out = max_tokens ? max_tokens : max_completion_tokens;
  if (max_out && *max_out > scheduler_->context_length()) {
    return refuse("max_completion_tokens is too large: " + std::to_string(*max_out) +
                  ".This model supports at most " + std::to_string(scheduler_->context_length()) +
                  " completion tokens.");
  }
  // _process_messages / _apply_jinja_template.
  ChatPromptOptions prompt_options;
  if (has_tools && tool_choice->kind != TC::kNone) {
    sp["skip_special_tokens"] = false;
    prompt_options.tools = json::array();
    for (const auto& tool : ordered["tools"]) {
      const auto& fn = tool["function"];
      prompt_options.tools.push_back(template_tool(
          fn["name"], fn.contains("description") ? json(fn["description"]) : json(nullptr),
          fn.contains("parameters") ? json(fn["parameters"]) : json(nullptr),
          fn.value("strict", false)));
    }
    if (args_.tool_call_parser) {
      o.tool_call_parser = args_.tool_call_parser;
      o.tools = *tools;
      o.required_tool_calls = required_calls;
    }
  }
  prompt_options.continue_final_message = continue_final_message;
  prompt_options.reasoning_effort = reasoning_effort;
  prompt_options.kwargs = kwargs;
  auto prompt = chat_prompt_ids(messages, prompt_options);
  if (!prompt.ok()) {
    if (prompt.error().code == ErrorCode::kInternal) {
      return respond_error(ex, template_error(prompt.error().message));
    }
    return refuse(prompt.error().message);
  }
  std::vector<int32_t> ids = std::move(*prompt);
  // max_new_tokens None: SGLang's scheduler allows up to the request length limit.
  const int64_t max_req_len =
      std::min(scheduler_->context_length(), scheduler_->stats().max_total_num_tokens) - 1;
  sp["max_new_tokens"] =
      max_out ? *max_out : std::max<int64_t>(0, max_req_len - static_cast<int64_t>(ids.size()) - 1);

  o.reasoning_parser = args_.reasoning_parser;
  o.force_reasoning = force_reasoning_ || enable_thinking(args_.reasoning_parser, kwargs);
  o.enable_cache_report = args_.enable_cache_report;
  nlohmann::json gen;
  gen["input_ids"] = ids;
  gen["sampling_params"] = std::move(sp);
  gen["return_logprob"] = o.logprobs;
  gen["top_logprobs_num"] = top_logprobs;
  gen["logprob_start_len"] = -1;
  gen["return_text_in_logprobs"] = true;
  gen["stream"] = stream;
  o.id = f.has("rid") && body["rid"].is_string() ? body["rid"].get<std::string>()
                                                 : openai_request_id("chatcmpl-");
  gen["rid"] = o.id;
  auto call = std::make_shared<GenerateCall>(*this, ex);
  Status st = call->parse(gen);
  if (!st.ok()) return answer_refused_generation(*ex, stream, st.error());
  call->submit(std::make_unique<ChatOutput>(std::move(o)));
}

}  // namespace sglang
