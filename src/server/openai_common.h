#pragma once
// What the OpenAI routes (openai_*_route.cpp) share, as SGLang's entrypoints/openai/ does:
// pydantic-style typed reading of a request body (RequestFields), the sampling fields every
// generation request has, OpenAI's logprobs and usage objects built from a GenerateCall's items.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/generate_call.h"

namespace sglang {

// Reads fields of a JSON object with pydantic's coercion rules as SGLang's protocol.py declares
// them; the first type error is kept, in the form "Input should be a valid integer: max_tokens".
// A field that SGLang accepts but this server does not honour is refused with "<field> is not
// supported yet", never silently ignored.
class RequestFields {
 public:
  explicit RequestFields(const nlohmann::json& body) : body_(body) {}

  bool has(const char* key) const;                   // present and not null
  const nlohmann::json* raw(const char* key) const;  // nullptr when absent or null
  std::optional<bool> boolean(const char* key);
  std::optional<int64_t> integer(const char* key);
  std::optional<double> number(const char* key);
  std::optional<std::string> string(const char* key);
  // str or list of str (e.g. "stop"); an empty result when absent.
  std::optional<std::vector<std::string>> string_or_list(const char* key);
  std::optional<std::vector<int64_t>> int_list(const char* key);
  const nlohmann::json* object(const char* key);  // a dict, or nullptr when absent
  // Fails unless the field is absent, null, or equal to SGLang's default `default_value`.
  void refuse_unless_default(const char* key, const nlohmann::json& default_value = nullptr,
                             const std::string& why = "");
  void fail(std::string message);
  const std::optional<std::string>& error() const { return error_; }

 private:
  void type_error(const char* what, const char* key);
  const nlohmann::json& body_;
  std::optional<std::string> error_;
};

// The request model whose SGLang extension fields refuse_sglang_extensions checks: the native
// GenerateReqInput (io_struct.py) has a few that CompletionRequest / ChatCompletionRequest
// (protocol.py) lack, and the other way round (cache_salt).
enum class SglangRequest { kGenerate, kOpenAI };

// The SGLang extension fields of /generate, /v1/completions and /v1/chat/completions that this
// server does not honour (LoRA, sessions, hidden states, priority, disaggregation...): each one
// set to anything but SGLang's default is refused, as SGLang's TokenizerManager refuses those a
// server was not started for (with its messages where it has one), never accepted and ignored.
void refuse_sglang_extensions(RequestFields& f, SglangRequest request);
// `priority` (every route that has it; `sglang_default` is its default in that request model).
void refuse_priority(RequestFields& f, const nlohmann::json& sglang_default = nullptr);

// SGLang's OpenAI ids: "chatcmpl-<32 hex>", "cmpl-<32 hex>".
std::string openai_request_id(const std::string& prefix);

// The sampling fields both /v1/completions and /v1/chat/completions carry, read into the
// `sampling_params` of the GenerateReqInput the route builds (CompletionRequest /
// ChatCompletionRequest.to_sampling_params): SGLang's names and defaults. `chat` selects chat's
// defaults (temperature/top_p/top_k/min_p/repetition_penalty None → the OpenAI defaults).
nlohmann::json read_openai_sampling_params(RequestFields& f, bool chat);

// SGLang's to_openai_style_logprobs: {"text_offset", "token_logprobs", "tokens", "top_logprobs"}
// from [logprob, id, text] entries.
GenerateCall::json completion_logprobs(const GenerateCall::json& input_token_logprobs,
                                       const GenerateCall::json& input_top_logprobs,
                                       const GenerateCall::json& output_token_logprobs,
                                       const GenerateCall::json& output_top_logprobs);
// Chat's ChoiceLogprobs {"content": [{token, bytes, logprob, top_logprobs: [...]}]} of output
// entries [begin, end).
GenerateCall::json chat_logprobs(const GenerateCall::Item& it, size_t begin, size_t end);

// SGLang's UsageProcessor: prompt tokens counted once per prompt (every n-th item), completion
// tokens of every item; prompt_tokens_details {"cached_tokens"} with --enable-cache-report when
// any were cached.
GenerateCall::json usage_json(const GenerateCall& call, int64_t n, bool enable_cache_report);

// stream_options: {"include_usage", "continuous_usage_stats"}.
struct StreamOptions {
  bool include_usage = false;
  bool continuous_usage_stats = false;
};
StreamOptions read_stream_options(RequestFields& f);

// One item's UsageInfo (continuous_usage_stats chunks).
GenerateCall::json item_usage_json(const GenerateCall::Item& it);

// The error of an engine abort with a status (SGLang raises it from generate_request): 400
// BadRequestError, or InternalServerError for other statuses.
ApiError engine_abort_error(const GenerateCall::Item& it);

// A GenerateReqInput the engine refused (context length, sampling params...): a 400, or, for a
// streaming request, as SGLang's generators do, an error event inside a 200 event stream.
// A full queue (kResourceExhausted) is SGLang's 503.
void answer_refused_generation(http::Exchange& ex, bool stream, const Error& error);

// SGLang's finish_reason "type" and "matched" of an item (null while running).
GenerateCall::json finish_type(const GenerateCall::Item& it);
GenerateCall::json matched_stop(const GenerateCall::Item& it);

// Chat messages → prompt, shared by /v1/chat/completions and /v1/responses (openai_chat_route.cpp).
// A message as SGLang's pydantic chat message models dump it; an error names the field
// ("messages[i]...").
Result<GenerateCall::json> dump_chat_message(const GenerateCall::json& m, size_t i);
// A tool as the chat template sees it: SGLang's Function.model_dump() (description, name,
// parameters, strict).
GenerateCall::json template_tool(const GenerateCall::json& name,
                                 const GenerateCall::json& description,
                                 const GenerateCall::json& parameters, bool strict);
// How ApiServer::chat_prompt_ids renders dumped messages (SGLang's _apply_jinja_template).
struct ChatPromptOptions {
  GenerateCall::json tools = nullptr;  // template_tool()s, or null
  bool continue_final_message = false;
  std::string reasoning_effort = "medium";
  GenerateCall::json kwargs = GenerateCall::json::object();  // chat_template_kwargs
};

}  // namespace sglang
