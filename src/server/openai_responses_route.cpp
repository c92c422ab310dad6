// POST /v1/responses, GET /v1/responses/{id} and POST /v1/responses/{id}/cancel as SGLang's
// OpenAIServingResponses (entrypoints/openai/serving_responses.py, v0.5.5) serves a model that is
// not gpt-oss (its non-harmony path): `instructions` + the stored conversation of
// `previous_response_id` + `input` become chat messages, rendered by the chat template as for
// /v1/chat/completions (ApiServer::chat_prompt_ids), generated as a GenerateReqInput, the text
// split by the --reasoning-parser (a reasoning item) and the --tool-call-parser (function_call
// items), answered as a ResponsesResponse or a stream of response.* events; `store` keeps the
// response (ResponseStore), `background` answers at once and runs on, cancel aborts it.
//
// Where this differs from SGLang 0.5.5, deliberately:
// - usage counts the tokens (SGLang's non-harmony path reads meta_info from a dict attribute that
//   is never there and reports zeros) and has the Responses shape (input_tokens, output_tokens,
//   ...) in the body too, not only in response.completed;
// - a stream carries the text as it comes (response.output_item.added, content_part.added,
//   output_text.delta, ... as SGLang's harmony path sends them); SGLang's non-harmony stream sends
//   response.created, response.in_progress and response.completed only;
// - previous_response_id continues with the previous output as an assistant message (SGLang
//   appends an empty system message per output part instead, a slip of its port from vLLM);
// - input items are read as the Responses API defines them (input_text / output_text parts,
//   function_call, function_call_output, developer role) instead of SGLang's fallback of
//   "role: content" lines for anything its chat models reject;
// - function tools ({"type": "function", "name", ...}) are accepted and go into the template as
//   chat's do; built-in tools (web search, code interpreter, MCP, ...) are refused: no tool server;
// - a stored streaming response is in the store while it runs, so it can be read and cancelled.
#include <ctime>
#include <map>

#include "chat/function_call/function_call_parser.h"
#include "chat/reasoning_parser.h"
#include "server/api_server.h"
#include "server/openai_common.h"
#include "util/logging.h"

namespace sglang {

namespace {

using json = GenerateCall::json;

struct ResponsesOptions {
  std::string id;  // "resp_..."; also the rid of the generation
  std::string model;
  json echo;      // the request fields a ResponsesResponse repeats (from_request)
  json messages;  // the conversation, kept with a stored response
  bool store = true;
  bool stream = false;
  bool background = false;
  std::optional<std::string> reasoning_parser;
  std::optional<std::string> tool_call_parser;  // set only when the request's tools apply
  std::vector<chat::Tool> tools;
  int64_t created = 0;
};

std::string hex_id(const std::string& prefix) {
  return openai_request_id(prefix);  // prefix + 32 hex digits, as SGLang's random_uuid()
}

// SGLang's ResponsesResponse.from_request(...).model_dump(), keys in its field order.
json response_body(const ResponsesOptions& o, json output, const std::string& status, json usage) {
  // _is_text_only: text.format is given only for output of messages alone.
  bool text_only = !output.empty();
  for (const auto& item : output) text_only = text_only && item["type"] == "message";
  json r;
  r["id"] = o.id;
  r["object"] = "response";
  r["created_at"] = o.created;
  r["model"] = o.model;
  r["output"] = std::move(output);
  r["status"] = status;
  r["usage"] = std::move(usage);
  r["parallel_tool_calls"] = true;  // SGLang: request.parallel_tool_calls or True
  for (const char* key : {"tool_choice", "tools"}) r[key] = o.echo[key];
  r["error"] = nullptr;
  r["incomplete_details"] = nullptr;
  for (const char* key : {"instructions", "max_output_tokens", "previous_response_id", "reasoning",
                          "store", "temperature"}) {
    r[key] = o.echo[key];
  }
  r["text"] = text_only ? json{{"format", {{"type", "text"}}}} : json(nullptr);
  for (const char* key : {"top_p", "truncation", "user", "metadata"}) r[key] = o.echo[key];
  return r;
}

// openai's ResponseUsage; reasoning tokens are not counted (0, as SGLang).
json usage_body(const GenerateCall::Item& it) {
  json u;
  u["input_tokens"] = it.prompt_tokens;
  u["input_tokens_details"] = {{"cached_tokens", it.cached_tokens}};
  u["output_tokens"] = it.completion_tokens;
  u["output_tokens_details"] = {{"reasoning_tokens", 0}};
  u["total_tokens"] = it.prompt_tokens + it.completion_tokens;
  return u;
}

json output_text_part(const std::string& text) {
  return json{{"annotations", json::array()},
              {"text", text},
              {"type", "output_text"},
              {"logprobs", nullptr}};
}

// openai's ResponseOutputMessage.
json message_item(const std::string& id, json content, const char* status) {
  return json{{"id", id},
              {"content", std::move(content)},
              {"role", "assistant"},
              {"status", status},
              {"type", "message"}};
}

// openai's ResponseReasoningItem.
json reasoning_item(const std::string& id, json content, json status) {
  return json{{"id", id},
              {"summary", json::array()},
              {"type", "reasoning"},
              {"content", std::move(content)},
              {"encrypted_content", nullptr},
              {"status", std::move(status)}};
}

json reasoning_content(const std::string& text) {
  return json::array({json{{"text", text}, {"type", "reasoning_text"}}});
}

// openai's ResponseFunctionToolCall.
json function_call_item(const std::string& id, const std::string& call_id, const std::string& name,
                        const std::string& arguments, const char* status) {
  return json{{"arguments", arguments},  {"call_id", call_id}, {"name", name},
              {"type", "function_call"}, {"id", id},           {"status", status}};
}

// As SGLang's _process_tool_call_id.
std::string call_id() {
  return "call_" + openai_request_id("").substr(0, 24);
}

class ResponsesOutput : public GenerateCall::Output {
 public:
  ResponsesOutput(ResponseStore& store, ResponsesOptions o) : store_(store), o_(std::move(o)) {}

  void on_update(GenerateCall& call, GenerateCall::Item& it) override {
    http::Exchange& ex = call.exchange();
    start(ex);
    const std::string text = it.finished ? call.final_text(it) : it.text;
    std::string d = text.size() > sent_ ? text.substr(sent_) : "";
    sent_ = std::max(sent_, text.size());
    if (o_.reasoning_parser) {
      if (!reasoning_) {
        reasoning_ = std::move(*chat::ReasoningParser::create(*o_.reasoning_parser, true, false));
      }
      auto parsed = reasoning_->parse_stream_chunk(d);
      if (!parsed.reasoning_text.empty()) reasoning_delta(ex, parsed.reasoning_text);
      d = std::move(parsed.normal_text);
    }
    if (o_.tool_call_parser) {
      if (!tools_) {
        tools_ = std::move(*chat::FunctionCallParser::create(*o_.tool_call_parser, o_.tools));
      }
      chat::StreamingParseResult r = tools_->parse_stream_chunk(d);
      d = std::move(r.normal_text);
      for (const auto& c : r.calls) add_call_piece(c);
      if (it.finished) {
        if (auto rest = tools_->unstreamed_tool_args()) add_call_piece(*rest);
      }
    }
    if (!d.empty()) text_delta(ex, d);
  }

  void on_done(GenerateCall& call) override {
    http::Exchange& ex = call.exchange();
    const GenerateCall::Item& it = call.items()[0];
    const GenerateCall::Item* bad = call.error_item();
    if (bad) {
      const std::string& message = bad->finish->message;
      if (o_.store) {
        store_.update(o_.id, [](ResponseStore::Entry& e) {
          const auto& s = e.response["status"];
          if (s != "completed" && s != "cancelled") e.response["status"] = "failed";
        });
      }
      if (o_.stream) {
        start(ex);
        ex.send_chunk(ApiError::responses(message, "BadRequestError", bad->finish->status_code)
                          .stream_event());
        ex.end_stream();
      } else if (!o_.background) {
        respond_error(
            ex, ApiError::responses(message, "invalid_request_error", bad->finish->status_code));
      }
      return;
    }
    if (o_.stream) start(ex);
    json output = o_.stream ? streamed_output(ex) : final_output(call.final_text(it));
    json response = response_body(o_, std::move(output), "completed", usage_body(it));
    if (o_.store) {
      // As SGLang: a response cancelled meanwhile stays cancelled.
      bool cancelled = false;
      const bool present = store_.update(o_.id, [&](ResponseStore::Entry& e) {
        cancelled = e.response["status"] == "cancelled";
        if (!cancelled) e.response = response;
      });
      if (!present) store_.put(o_.id, {response, o_.messages});
      if (cancelled) response["status"] = "cancelled";
    }
    if (o_.stream) {
      send(ex, "response.completed", json{{"response", std::move(response)}});
      ex.end_stream();
      return;
    }
    if (!o_.background) ex.respond(200, "application/json", dump_json(response));
  }

 private:
  enum class Open { kNone, kReasoning, kMessage };
  struct Call {
    std::string name, arguments;
  };

  // SGLang's _send_event: "event: <type>" + the event's JSON with the next sequence number
  // (`fields` are the event's others, in openai's field order; sequence_number and type end it).
  void send(http::Exchange& ex, const char* type, json fields) {
    fields["sequence_number"] = sequence_++;
    fields["type"] = type;
    ex.send_chunk(std::string("event: ") + type + "\ndata: " + dump_json(fields) + "\n\n");
  }

  // response.created and response.in_progress (the response with no output yet), once, before
  // anything else of the stream.
  void start(http::Exchange& ex) {
    if (started_) return;
    started_ = true;
    const json initial = response_body(o_, json::array(), "in_progress", nullptr);
    send(ex, "response.created", json{{"response", initial}});
    send(ex, "response.in_progress", json{{"response", initial}});
  }

  void reasoning_delta(http::Exchange& ex, const std::string& delta) {
    if (open_ != Open::kReasoning) {
      close(ex);
      open_ = Open::kReasoning;
      item_id_ = hex_id("rs_");
      json added = {{"item", reasoning_item(item_id_, nullptr, "in_progress")},
                    {"output_index", done_items_.size()}};
      send(ex, "response.output_item.added", std::move(added));
      json part = {{"content_index", 0},
                   {"item_id", item_id_},
                   {"output_index", done_items_.size()},
                   {"part", {{"text", ""}, {"type", "reasoning_text"}}}};
      send(ex, "response.content_part.added", std::move(part));
    }
    item_text_ += delta;
    json ev = {{"content_index", 0},
               {"delta", delta},
               {"item_id", item_id_},
               {"output_index", done_items_.size()}};
    send(ex, "response.reasoning_text.delta", std::move(ev));
  }

  void text_delta(http::Exchange& ex, const std::string& delta) {
    if (open_ != Open::kMessage) {
      close(ex);
      open_ = Open::kMessage;
      item_id_ = hex_id("msg_");
      json added = {{"item", message_item(item_id_, json::array(), "in_progress")},
                    {"output_index", done_items_.size()}};
      send(ex, "response.output_item.added", std::move(added));
      json part = {{"content_index", 0},
                   {"item_id", item_id_},
                   {"output_index", done_items_.size()},
                   {"part", output_text_part("")}};
      send(ex, "response.content_part.added", std::move(part));
    }
    item_text_ += delta;
    json ev = {{"content_index", 0},
               {"delta", delta},
               {"item_id", item_id_},
               {"logprobs", json::array()},
               {"output_index", done_items_.size()}};
    send(ex, "response.output_text.delta", std::move(ev));
  }

  // Ends the open item with its *.done events and keeps it for the final response.
  void close(http::Exchange& ex) {
    const size_t index = done_items_.size();
    if (open_ == Open::kReasoning) {
      json done = {{"content_index", 0},
                   {"item_id", item_id_},
                   {"output_index", index},
                   {"text", item_text_}};
      send(ex, "response.reasoning_text.done", std::move(done));
      done_items_.push_back(reasoning_item(item_id_, reasoning_content(item_text_), "completed"));
    } else if (open_ == Open::kMessage) {
      json done = {{"content_index", 0},
                   {"item_id", item_id_},
                   {"logprobs", json::array()},
                   {"output_index", index},
                   {"text", item_text_}};
      send(ex, "response.output_text.done", std::move(done));
      json part = {{"content_index", 0},
                   {"item_id", item_id_},
                   {"output_index", index},
                   {"part", output_text_part(item_text_)}};
      send(ex, "response.content_part.done", std::move(part));
      done_items_.push_back(
          message_item(item_id_, json::array({output_text_part(item_text_)}), "completed"));
    } else {
      return;
    }
    json item_done = {{"item", done_items_.back()}, {"output_index", index}};
    send(ex, "response.output_item.done", std::move(item_done));
    open_ = Open::kNone;
    item_text_.clear();
  }

  void add_call_piece(const chat::ToolCallItem& c) {
    Call& call = calls_[c.tool_index];
    if (c.name) call.name = *c.name;
    call.arguments += c.parameters;
  }

  // The stream's items, closed, and the function calls (whole, each added and done).
  json streamed_output(http::Exchange& ex) {
    close(ex);
    for (const auto& [index, c] : calls_) {
      const std::string id = hex_id("fc_");
      const std::string cid = call_id();
      json added = {{"item", function_call_item(id, cid, c.name, c.arguments, "in_progress")},
                    {"output_index", done_items_.size()}};
      send(ex, "response.output_item.added", std::move(added));
      done_items_.push_back(function_call_item(id, cid, c.name, c.arguments, "completed"));
      json done = {{"item", done_items_.back()}, {"output_index", done_items_.size() - 1}};
      send(ex, "response.output_item.done", std::move(done));
    }
    return done_items_;
  }

  // SGLang's _make_response_output_items: a reasoning item, a message, (here) function calls.
  json final_output(std::string text) const {
    json items = json::array();
    if (o_.reasoning_parser) {
      auto parser = chat::ReasoningParser::create(*o_.reasoning_parser, false, false);
      auto parsed = (*parser)->parse_non_stream(text);
      if (!parsed.reasoning_text.empty()) {
        items.push_back(
            reasoning_item(hex_id("rs_"), reasoning_content(parsed.reasoning_text), nullptr));
      }
      text = std::move(parsed.normal_text);
    }
    std::vector<chat::ToolCallItem> calls;
    if (o_.tool_call_parser) {
      auto parser = std::move(*chat::FunctionCallParser::create(*o_.tool_call_parser, o_.tools));
      if (parser->has_tool_call(text)) {
        chat::StreamingParseResult r = parser->parse_non_stream(text);
        text = std::move(r.normal_text);
        calls = std::move(r.calls);
      }
    }
    if (!text.empty()) {
      items.push_back(
          message_item(hex_id("msg_"), json::array({output_text_part(text)}), "completed"));
    }
    for (const auto& c : calls) {
      items.push_back(function_call_item(hex_id("fc_"), call_id(), c.name.value_or(""),
                                         c.parameters, "completed"));
    }
    return items;
  }

  ResponseStore& store_;
  ResponsesOptions o_;
  bool started_ = false;
  int64_t sequence_ = 0;
  size_t sent_ = 0;
  Open open_ = Open::kNone;
  std::string item_id_, item_text_;
  json done_items_ = json::array();
  std::map<int64_t, Call> calls_;
  std::unique_ptr<chat::ReasoningParser> reasoning_;
  std::unique_ptr<chat::FunctionCallParser> tools_;
};

// Built-in tool types of the Responses API: they need a tool server, which this server has not.
bool is_builtin_tool(const std::string& type) {
  return type != "function";
}

// The text of a Responses content: a string, or a list of input_text / output_text parts (as
// chat content parts, which the template joins). An error says what is wrong.
Result<json> item_content(const nlohmann::json& content, const std::string& where) {
  auto bad = [&](const std::string& m) { return make_error(ErrorCode::kInvalidArgument, m); };
  if (content.is_string()) return json(content);
  if (!content.is_array()) {
    return bad("Input should be a valid string or a list of content parts: " + where);
  }
  json parts = json::array();
  for (size_t k = 0; k < content.size(); ++k) {
    const auto& p = content[k];
    const std::string pw = where + "[" + std::to_string(k) + "]";
    const std::string type = p.is_object() && p.contains("type") && p["type"].is_string()
                                 ? p["type"].get<std::string>()
                                 : "";
    if (type == "input_text" || type == "output_text" || type == "refusal") {
      const char* key = type == "refusal" ? "refusal" : "text";
      if (!p.contains(key) || !p[key].is_string()) return bad("Field required: " + pw + "." + key);
      parts.push_back(json{{"type", "text"}, {"text", p[key]}});
    } else if (type == "input_image" || type == "input_file" || type == "input_audio") {
      return bad(type + " content is not supported yet: this server serves text models only (" +
                 pw + ").");
    } else {
      return bad(
          "Input should be a content part of type 'input_text', 'output_text', 'refusal', "
          "'input_image', 'input_file' or 'input_audio': " +
          pw);
    }
  }
  return parts;
}

// One item of `input` as a chat message (reasoning items are dropped, as SGLang drops the
// previous response's reasoning); nullopt when the item adds no message.
Result<std::optional<json>> input_item_message(const nlohmann::json& item, size_t i) {
  const std::string where = "input[" + std::to_string(i) + "]";
  auto bad = [&](const std::string& m) { return make_error(ErrorCode::kInvalidArgument, m); };
  if (!item.is_object()) return bad("Input should be a valid dictionary: " + where);
  const std::string type = item.contains("type") && item["type"].is_string()
                               ? item["type"].get<std::string>()
                               : "message";
  auto str = [&](const char* key) -> Result<std::string> {
    if (!item.contains(key) || !item[key].is_string()) {
      return bad("Field required: " + where + "." + key);
    }
    return item[key].get<std::string>();
  };
  if (type == "message") {
    auto role = str("role");
    if (!role.ok()) return role.error();
    if (*role != "user" && *role != "assistant" && *role != "system" && *role != "developer") {
      return bad("Input should be 'user', 'assistant', 'system' or 'developer': " + where +
                 ".role");
    }
    if (!item.contains("content")) return bad("Field required: " + where + ".content");
    auto content = item_content(item["content"], where + ".content");
    if (!content.ok()) return content.error();
    // The developer role is the system prompt of chat templates.
    return std::optional<json>(
        json{{"role", *role == "developer" ? "system" : *role}, {"content", *content}});
  }
  if (type == "function_call") {
    auto cid = str("call_id");
    auto name = str("name");
    auto arguments = str("arguments");
    for (const auto* r : {&cid, &name, &arguments}) {
      if (!r->ok()) return r->error();
    }
    json call = {{"id", *cid},
                 {"type", "function"},
                 {"function", {{"name", *name}, {"arguments", *arguments}}}};
    return std::optional<json>(
        json{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}});
  }
  if (type == "function_call_output") {
    auto cid = str("call_id");
    auto out = str("output");
    if (!cid.ok()) return cid.error();
    if (!out.ok()) return out.error();
    return std::optional<json>(json{{"role", "tool"}, {"tool_call_id", *cid}, {"content", *out}});
  }
  if (type == "reasoning") return std::optional<json>();
  return bad("Input item type '" + type +
             "' is not supported: expected 'message', 'function_call', 'function_call_output' "
             "or 'reasoning' (" +
             where + ").");
}

// The previous response's output as the conversation's assistant turn(s).
json previous_output_messages(const json& output) {
  json messages = json::array();
  for (const auto& item : output) {
    if (item["type"] == "message") {
      std::string text;
      for (const auto& part : item["content"]) {
        if (part.contains("text") && part["text"].is_string()) text += part["text"];
      }
      messages.push_back(json{{"role", "assistant"}, {"content", text}});
    } else if (item["type"] == "function_call") {
      json call = {{"id", item["call_id"]},
                   {"type", "function"},
                   {"function", {{"name", item["name"]}, {"arguments", item["arguments"]}}}};
      messages.push_back(
          json{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}});
    }
  }
  return messages;
}

// SGLang's _make_invalid_id_error / _make_not_found_error.
ApiError invalid_id(const std::string& id) {
  return ApiError::responses(
      "Invalid 'response_id': '" + id + "'. Expected an ID that begins with 'resp'.",
      "invalid_request_error", 400, "response_id");
}
ApiError not_found(const std::string& id) {
  return ApiError::responses("Response with id '" + id + "' not found.", "invalid_request_error",
                             404, "response_id");
}
bool valid_id(const std::string& id) {
  return id.rfind("resp_", 0) == 0;
}

// A pydantic Literal field: absent or null gives the default.
std::optional<std::string> literal(RequestFields& f, const char* key,
                                   const std::vector<std::string>& allowed, std::string fallback) {
  auto v = f.string(key);
  if (!v) return fallback;
  if (std::find(allowed.begin(), allowed.end(), *v) != allowed.end()) return v;
  std::string list;
  for (size_t k = 0; k < allowed.size(); ++k) {
    list += (k == 0 ? "'" : k + 1 == allowed.size() ? " or '" : ", '") + allowed[k] + "'";
  }
  f.fail("Input should be " + list + ": " + key);
  return std::nullopt;
}

}  // namespace

void ApiServer::openai_responses(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  // Validation errors under /v1/responses: http_server.py's nested envelope, type "Bad Request".
  auto invalid = [&](const std::string& m) {
    respond_error(ex, ApiError::responses(m, "Bad Request"));
  };
  auto refuse = [&](const std::string& m, std::optional<std::string> param = std::nullopt) {
    respond_error(ex, ApiError::responses(m, "invalid_request_error", 400, std::move(param)));
  };
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return invalid(e->message);
  }
  RequestFields f(body);
  ResponsesOptions o;
  o.model = f.string("model").value_or("default");
  if (!f.has("input")) return invalid("Field required: input");
  const nlohmann::json& input = body["input"];
  if (!input.is_string() && !input.is_array()) {
    return invalid("Input should be a valid string or a list of input items: input");
  }
  o.background = f.boolean("background").value_or(false);
  o.stream = f.boolean("stream").value_or(false);
  o.store = f.boolean("store").value_or(true);
  const std::optional<std::string> instructions = f.string("instructions");
  const std::optional<int64_t> max_output_tokens = f.integer("max_output_tokens");
  f.integer("max_tool_calls");
  const nlohmann::json* metadata = f.object("metadata");
  f.boolean("parallel_tool_calls");
  const std::optional<std::string> previous_id = f.string("previous_response_id");
  json effort = nullptr;
  if (const nlohmann::json* reasoning = f.object("reasoning")) {
    RequestFields r(*reasoning);
    effort = "medium";
    if (auto e = literal(r, "effort", {"low", "medium", "high"}, "medium")) effort = *e;
    if (reasoning->contains("effort") && (*reasoning)["effort"].is_null()) effort = nullptr;
    if (r.error()) f.fail(*r.error() + " (reasoning)");
  }
  literal(f, "service_tier", {"auto", "default", "flex", "scale", "priority"}, "auto");
  const std::optional<double> temperature = f.number("temperature");
  const std::optional<double> top_p = f.number("top_p");
  const std::string tool_choice =
      literal(f, "tool_choice", {"auto", "required", "none"}, "auto").value_or("auto");
  const std::string truncation =
      literal(f, "truncation", {"auto", "disabled"}, "disabled").value_or("disabled");
  const std::optional<std::string> user = f.string("user");
  f.refuse_unless_default("include", nullptr);
  f.refuse_unless_default("top_logprobs", 0);
  refuse_priority(f, 0);
  f.refuse_unless_default("extra_key", nullptr);
  f.refuse_unless_default("cache_salt", nullptr);
  o.id = f.string("request_id").value_or(hex_id("resp_"));
  nlohmann::json sp;
  sp["temperature"] = temperature.value_or(0.7);  // _DEFAULT_SAMPLING_PARAMS
  sp["top_p"] = top_p.value_or(1.0);
  sp["frequency_penalty"] = f.number("frequency_penalty").value_or(0.0);
  sp["presence_penalty"] = f.number("presence_penalty").value_or(0.0);
  if (auto stop = f.string_or_list("stop"); stop && !stop->empty()) sp["stop"] = *stop;
  sp["top_k"] = f.integer("top_k").value_or(-1);
  sp["min_p"] = f.number("min_p").value_or(0.0);
  sp["repetition_penalty"] = f.number("repetition_penalty").value_or(1.0);
  // Tools: function tools as chat's; built-in ones need a tool server.
  json tools_echo = json::array();
  std::vector<chat::Tool> tools;
  if (f.has("tools")) {
    if (!body["tools"].is_array()) return invalid("Input should be a valid list: tools");
    // In the client's key order (`body` sorts its keys), as chat's: a template's tojson writes
    // the parameters into the prompt.
    const json ordered_tools = json::parse(req.body, nullptr, false)["tools"];
    for (size_t k = 0; k < ordered_tools.size(); ++k) {
      const json& t = ordered_tools[k];
      const std::string where = "tools[" + std::to_string(k) + "]";
      if (!t.is_object() || !t.contains("type") || !t["type"].is_string()) {
        return invalid("Field required: " + where + ".type");
      }
      const std::string type = t["type"];
      if (is_builtin_tool(type)) {
        return refuse("Built-in tool '" + type +
                          "' is not supported: this server has no tool server (web search, code "
                          "interpreter, MCP and the other built-in tools do not apply); only "
                          "function tools are.",
                      "tools");
      }
      if (!t.contains("name") || !t["name"].is_string()) {
        return invalid("Field required: " + where + ".name");
      }
      chat::Tool tool;
      tool.name = t["name"];
      if (t.contains("description") && t["description"].is_string()) {
        tool.description = t["description"];
      }
      tool.parameters = t.contains("parameters") ? t["parameters"] : json(nullptr);
      tool.strict = t.contains("strict") && t["strict"].is_boolean() && t["strict"].get<bool>();
      tools.push_back(std::move(tool));
      tools_echo.push_back(t);
    }
  }
  if (f.error()) return invalid(*f.error());
  if (tool_choice == "required") {
    if (tools.empty()) return refuse("Tools cannot be empty if tool choice is set to required.");
    return refuse(
        "tool_choice \"required\" is not supported yet by /v1/responses (SGLang's Responses API "
        "has no such path either); /v1/chat/completions constrains the output to the tools' "
        "calls.");
  }
  o.created = static_cast<int64_t>(std::time(nullptr));
  o.echo["tool_choice"] = tool_choice;
  o.echo["tools"] = tools_echo;
  o.echo["instructions"] = instructions ? json(*instructions) : json(nullptr);
  o.echo["max_output_tokens"] = max_output_tokens ? json(*max_output_tokens) : json(nullptr);
  o.echo["previous_response_id"] = previous_id ? json(*previous_id) : json(nullptr);
  o.echo["reasoning"] =
      json{{"effort", f.has("reasoning") ? effort : json(nullptr)}, {"summary", nullptr}};
  o.echo["store"] = o.store;
  o.echo["temperature"] = temperature ? json(*temperature) : json(nullptr);
  o.echo["top_p"] = top_p ? json(*top_p) : json(nullptr);
  o.echo["truncation"] = truncation;
  o.echo["user"] = user ? json(*user) : json(nullptr);
  o.echo["metadata"] = metadata ? json(*metadata) : json::object();

  // The previous response (create_responses) and the conversation (_construct_input_messages).
  std::optional<ResponseStore::Entry> previous;
  if (previous_id) {
    if (!valid_id(*previous_id)) return respond_error(ex, invalid_id(*previous_id));
    previous = responses_.get(*previous_id);
    if (!previous) return respond_error(ex, not_found(*previous_id));
  }
  json raw = json::array();
  if (instructions && !instructions->empty()) {
    raw.push_back(json{{"role", "system"}, {"content", *instructions}});
  }
  json messages = json::array();
  auto dump_all = [&](json& list) -> bool {
    for (const auto& m : list) {
      auto d = dump_chat_message(m, messages.size());
      if (!d.ok()) {
        invalid(d.error().message);
        return false;
      }
      messages.push_back(std::move(*d));
    }
    list = json::array();
    return true;
  };
  if (!dump_all(raw)) return;
  if (previous) {
    for (const auto& m : previous->messages) messages.push_back(m);
    raw = previous_output_messages(previous->response["output"]);
    if (!dump_all(raw)) return;
  }
  if (input.is_string()) {
    raw.push_back(json{{"role", "user"}, {"content", input}});
  } else {
    for (size_t i = 0; i < input.size(); ++i) {
      auto m = input_item_message(input[i], i);
      if (!m.ok()) return invalid(m.error().message);
      if (*m) raw.push_back(std::move(**m));
    }
  }
  if (!dump_all(raw)) return;
  if (messages.empty()) return refuse("The input has no messages.", "input");

  ChatPromptOptions prompt_options;
  if (!tools.empty() && tool_choice != "none") {
    sp["skip_special_tokens"] = false;
    prompt_options.tools = json::array();
    for (const auto& t : tools) {
      prompt_options.tools.push_back(
          template_tool(t.name, t.description.empty() ? json(nullptr) : json(t.description),
                        t.parameters, t.strict));
    }
    if (args_.tool_call_parser) {
      o.tool_call_parser = args_.tool_call_parser;
      o.tools = tools;
    }
  }
  // As SGLang: the template gets chat's default reasoning_effort; `reasoning` is only echoed.
  auto prompt = chat_prompt_ids(messages, prompt_options);
  if (!prompt.ok()) return refuse(prompt.error().message);
  // create_responses: max(context_len - prompt_len, 512), capped by max_output_tokens, minus 2
  // ("avoid exceeding the context length").
  const int64_t prompt_len = static_cast<int64_t>(prompt->size());
  const int64_t default_max = std::max<int64_t>(scheduler_->context_length() - prompt_len, 512);
  sp["max_new_tokens"] = std::max<int64_t>(
      0, (max_output_tokens ? std::min(*max_output_tokens, default_max) : default_max) - 2);
  o.reasoning_parser = args_.reasoning_parser;
  o.messages = std::move(messages);

  nlohmann::json gen;
  gen["input_ids"] = std::move(*prompt);
  gen["sampling_params"] = std::move(sp);
  gen["stream"] = o.stream && !o.background;
  gen["rid"] = o.id;
  auto call = std::make_shared<GenerateCall>(*this, ex);
  Status st = call->parse(gen);
  if (!st.ok()) {
    SGLANG_LOG_ERROR("[http_server] Error: {}", st.error().message);
    if (st.error().code == ErrorCode::kResourceExhausted) {  // a full queue: SGLang's 503
      return respond_error(ex, ApiError::responses(st.error().message, "503", 503));
    }
    return refuse(st.error().message);
  }
  if (o.background) {
    // Answered at once with the queued response; the generation goes on detached.
    o.stream = false;
    json queued = response_body(o, json::array(), "queued", nullptr);
    if (o.store) {
      json running = queued;
      running["status"] = "in_progress";
      responses_.put(o.id, {std::move(running), o.messages});
    }
    ex->respond(200, "application/json", dump_json(queued));
    call->submit(std::make_unique<ResponsesOutput>(responses_, std::move(o)), true);
    return;
  }
  if (o.store && o.stream) {
    responses_.put(o.id, {response_body(o, json::array(), "in_progress", nullptr), o.messages});
  }
  call->submit(std::make_unique<ResponsesOutput>(responses_, std::move(o)));
}

void ApiServer::openai_retrieve_response(const std::string& id,
                                         std::shared_ptr<http::Exchange> ex) {
  if (!valid_id(id)) return respond_error(ex, invalid_id(id));
  auto entry = responses_.get(id);
  if (!entry) return respond_error(ex, not_found(id));
  ex->respond(200, "application/json", dump_json(entry->response));
}

void ApiServer::openai_cancel_response(const std::string& id, std::shared_ptr<http::Exchange> ex) {
  if (!valid_id(id)) return respond_error(ex, invalid_id(id));
  bool running = false;
  json response;
  const bool present = responses_.update(id, [&](ResponseStore::Entry& e) {
    const auto& status = e.response["status"];
    running = status == "queued" || status == "in_progress";
    if (running) e.response["status"] = "cancelled";
    response = e.response;
  });
  if (!present) return respond_error(ex, not_found(id));
  if (!running) {
    return respond_error(ex, ApiError::responses("Cannot cancel a synchronous response."));
  }
  // The response id is the rid of its generation.
  scheduler_->abort(id);
  ex->respond(200, "application/json", dump_json(response));
}

}  // namespace sglang
