// POST /v1/completions as SGLang's OpenAIServingCompletion (entrypoints/openai/
// serving_completions.py): a CompletionRequest becomes a GenerateReqInput (GenerateCall), its
// outputs become a CompletionResponse or a stream of CompletionStreamResponse chunks.
#include <ctime>

#include "server/api_server.h"
#include "server/openai_common.h"
#include "util/logging.h"

namespace sglang {

namespace {

using json = GenerateCall::json;

struct CompletionOptions {
  std::string id;  // "cmpl-..."
  std::string model;
  int64_t created = 0;
  int64_t n = 1;
  bool logprobs = false;
  bool echo = false;
  std::vector<std::string> echo_texts;  // per prompt, when echo
  StreamOptions stream_options;
  bool enable_cache_report = false;
};

class CompletionOutput : public GenerateCall::Output {
 public:
  explicit CompletionOutput(CompletionOptions o) : o_(std::move(o)) {}

  void on_update(GenerateCall& call, GenerateCall::Item& it) override {
    State& st = state_[it.index];
    const std::string text = it.finished ? call.final_text(it) : it.text;
    std::string delta = text.size() > st.sent ? text.substr(st.sent) : "";
    st.sent = std::max(st.sent, text.size());
    json lp = nullptr;
    if (o_.logprobs) {
      const bool with_input = !st.started && o_.echo;
      json out_tokens = json::array(), out_tops = json::array();
      for (size_t k = st.n_prev; k < it.output_token_logprobs.size(); ++k) {
        out_tokens.push_back(it.output_token_logprobs[k]);
        if (k < it.output_top_logprobs.size()) out_tops.push_back(it.output_top_logprobs[k]);
      }
      st.n_prev = it.output_token_logprobs.size();
      lp = completion_logprobs(with_input ? it.input_token_logprobs : json::array(),
                               with_input ? it.input_top_logprobs : json::array(), out_tokens,
                               out_tops);
    }
    if (!st.started && o_.echo) delta = o_.echo_texts[it.prompt_index] + delta;
    st.started = true;
    json choice;
    choice["index"] = it.index;
    choice["text"] = delta;
    choice["logprobs"] = lp;
    choice["finish_reason"] = finish_type(it);
    choice["matched_stop"] = matched_stop(it);
    json chunk = header();
    chunk["choices"] = json::array({choice});
    chunk["usage"] = nullptr;
    if (o_.stream_options.continuous_usage_stats) chunk["usage"] = item_usage_json(it);
    call.exchange().send_chunk("data: " + dump_json(chunk) + "\n\n");
  }

  void on_done(GenerateCall& call) override {
    http::Exchange& ex = call.exchange();
    if (call.stream()) {
      if (o_.stream_options.include_usage) {
        // model_dump_json(exclude_none=True): no null fields in the usage chunk.
        json chunk = header();
        chunk["choices"] = json::array();
        json usage = usage_json(call, o_.n, o_.enable_cache_report);
        if (usage["prompt_tokens_details"].is_null()) usage.erase("prompt_tokens_details");
        chunk["usage"] = std::move(usage);
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
      json choice;
      choice["index"] = it.index;
      std::string text = call.final_text(it);
      if (o_.echo) text = o_.echo_texts[it.prompt_index] + text;
      choice["text"] = text;
      choice["logprobs"] =
          o_.logprobs ? completion_logprobs(o_.echo ? it.input_token_logprobs : json::array(),
                                            o_.echo ? it.input_top_logprobs : json::array(),
                                            it.output_token_logprobs, it.output_top_logprobs)
                      : json(nullptr);
      choice["finish_reason"] = finish_type(it);
      choice["matched_stop"] = matched_stop(it);
      choices.push_back(std::move(choice));
    }
    json body = header();
    body["choices"] = std::move(choices);
    body["usage"] = usage_json(call, o_.n, o_.enable_cache_report);
    body["metadata"] = json{{"weight_version", call.weight_version()}};
    ex.respond(200, "application/json", dump_json(body));
  }

 private:
  struct State {
    size_t sent = 0;    // bytes of text already sent
    size_t n_prev = 0;  // output logprob entries already sent
    bool started = false;
  };
  json header() const {
    json h;
    h["id"] = o_.id;
    h["object"] = "text_completion";
    h["created"] = o_.created;
    h["model"] = o_.model;
    return h;
  }
  CompletionOptions o_;
  std::map<size_t, State> state_;
};

// CompletionRequest.prompt: str | list[str] | list[int] | list[list[int]].
bool valid_prompt(const nlohmann::json& p) {
  if (p.is_string()) return true;
  if (!p.is_array() || p.empty()) return p.is_array();
  auto all = [&](auto pred) { return std::all_of(p.begin(), p.end(), pred); };
  if (all([](const auto& x) { return x.is_string(); })) return true;
  if (all([](const auto& x) { return x.is_number_integer(); })) return true;
  return all([](const auto& x) {
    return x.is_array() &&
           std::all_of(x.begin(), x.end(), [](const auto& y) { return y.is_number_integer(); });
  });
}

}  // namespace

void ApiServer::openai_completions(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return respond_error(ex, *e);
  }
  RequestFields f(body);
  CompletionOptions o;
  o.model = f.string("model").value_or("default");
  if (!body.contains("prompt"))
    return respond_error(ex, ApiError::validation("Field required: prompt"));
  const nlohmann::json& prompt = body["prompt"];
  if (!valid_prompt(prompt)) {
    return respond_error(
        ex, ApiError::validation("Input should be a valid string or a list of strings or token "
                                 "ids: prompt"));
  }
  const int64_t max_tokens = f.integer("max_tokens").value_or(16);
  if (f.has("max_tokens") && max_tokens <= 0) {
    return respond_error(ex, ApiError::validation("Value error, max_tokens must be positive"));
  }
  o.n = f.integer("n").value_or(1);
  o.echo = f.boolean("echo").value_or(false);
  const std::optional<int64_t> logprobs = f.integer("logprobs");
  o.logprobs = logprobs.has_value();
  const bool stream = f.boolean("stream").value_or(false);
  o.stream_options = read_stream_options(f);
  nlohmann::json sp = read_openai_sampling_params(f, false);
  sp["max_new_tokens"] = max_tokens;
  f.string("user");  // metadata only: type-checked, then unused (as SGLang)
  f.refuse_unless_default("best_of", nullptr);
  f.refuse_unless_default("suffix", nullptr);
  refuse_sglang_extensions(f, SglangRequest::kOpenAI);
  if (f.error()) return respond_error(ex, ApiError::validation(*f.error()));
  // _validate_request
  const bool empty = prompt.is_string()
                         ? prompt.get<std::string>().empty()
                         : std::all_of(prompt.begin(), prompt.end(), [](const auto& p) {
                             return p.is_string()  ? p.template get<std::string>().empty()
                                    : p.is_array() ? p.empty()
                                                   : false;
                           });
  if (empty) return respond_error(ex, ApiError::openai("Prompt cannot be empty"));
  if (o.echo && o.logprobs) {
    SGLANG_LOG_WARN(
        "Echo is not compatible with logprobs. To compute logprobs of input prompt, please use "
        "the native /generate API.");
  }
  if (o.echo) {
    // SGLang's _prepare_echo_prompts / _get_echo_text: the prompt text, or its ids decoded.
    auto decode = [&](const nlohmann::json& ids) {
      std::vector<int32_t> v;
      for (const auto& x : ids) {
        const int64_t id = x.get<int64_t>();
        if (id >= 0 && id < vocab_size_) v.push_back(static_cast<int32_t>(id));
      }
      return tokenizer_ ? tokenizer_->decode(v, true) : std::string();
    };
    if (prompt.is_string()) {
      o.echo_texts.push_back(prompt.get<std::string>());
    } else if (prompt[0].is_string()) {
      for (const auto& p : prompt) o.echo_texts.push_back(p.get<std::string>());
    } else if (prompt[0].is_array()) {
      for (const auto& p : prompt) o.echo_texts.push_back(decode(p));
    } else {
      o.echo_texts.push_back(decode(prompt));
    }
  }
  nlohmann::json gen;
  const bool text_prompt = prompt.is_string() || prompt[0].is_string();
  gen[text_prompt ? "text" : "input_ids"] = prompt;
  gen["sampling_params"] = std::move(sp);
  gen["return_logprob"] = o.logprobs;
  gen["top_logprobs_num"] = logprobs.value_or(0);
  gen["logprob_start_len"] = o.echo && o.logprobs ? 0 : -1;
  gen["return_text_in_logprobs"] = true;
  gen["stream"] = stream;
  o.id = f.has("rid") && body["rid"].is_string() ? body["rid"].get<std::string>()
                                                 : openai_request_id("cmpl-");
  gen["rid"] = o.id;
  o.created = static_cast<int64_t>(std::time(nullptr));
  o.enable_cache_report = args_.enable_cache_report;
  auto call = std::make_shared<GenerateCall>(*this, ex);
  Status st = call->parse(gen);
  if (!st.ok()) return answer_refused_generation(*ex, stream, st.error());
  call->submit(std::make_unique<CompletionOutput>(std::move(o)));
}

}  // namespace sglang
