#include "server/openai_common.h"

#include <cmath>
#include <random>

#include "util/logging.h"

namespace sglang {

using json = GenerateCall::json;

bool RequestFields::has(const char* key) const {
  return raw(key) != nullptr;
}

const nlohmann::json* RequestFields::raw(const char* key) const {
  auto it = body_.find(key);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

void RequestFields::fail(std::string message) {
  if (!error_) error_ = std::move(message);
}

void RequestFields::type_error(const char* what, const char* key) {
  fail(std::string("Input should be a valid ") + what + ": " + key);
}

std::optional<bool> RequestFields::boolean(const char* key) {
  const nlohmann::json* v = raw(key);
  if (!v) return std::nullopt;
  // pydantic's lax bool: true/false, 0/1.
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number_integer() && (v->get<int64_t>() == 0 || v->get<int64_t>() == 1)) {
    return v->get<int64_t>() == 1;
  }
  type_error("boolean", key);
  return std::nullopt;
}

std::optional<int64_t> RequestFields::integer(const char* key) {
  const nlohmann::json* v = raw(key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  // pydantic's lax int: a float without a fractional part.
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
      return static_cast<int64_t>(d);
    }
  }
  type_error("integer", key);
  return std::nullopt;
}

std::optional<double> RequestFields::number(const char* key) {
  const nlohmann::json* v = raw(key);
  if (!v) return std::nullopt;
  if (v->is_number()) return v->get<double>();
  type_error("number", key);
  return std::nullopt;
}

std::optional<std::string> RequestFields::string(const char* key) {
  const nlohmann::json* v = raw(key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  type_error("string", key);
  return std::nullopt;
}

std::optional<std::vector<std::string>> RequestFields::string_or_list(const char* key) {
  const nlohmann::json* v = raw(key);
  if (!v) return std::nullopt;
  if (v->is_string()) return std::vector<std::string>{v->get<std::string>()};
  if (v->is_array()) {
    std::vector<std::string> out;
    for (const auto& s : *v) {
      if (!s.is_string()) {
        type_error("string", key);
        return std::nullopt;
      }
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  type_error("string or list of strings", key);
  return std::nullopt;
}

std::optional<std::vector<int64_t>> RequestFields::int_list(const char* key) {
  const nlohmann::json* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_array()) {
    type_error("list", key);
    return std::nullopt;
  }
  std::vector<int64_t> out;
  for (const auto& x : *v) {
    if (!x.is_number_integer()) {
      type_error("integer", key);
      return std::nullopt;
    }
    out.push_back(x.get<int64_t>());
  }
  return out;
}

const nlohmann::json* RequestFields::object(const char* key) {
  const nlohmann::json* v = raw(key);
  if (!v) return nullptr;
  if (v->is_object()) return v;
  type_error("dictionary", key);
  return nullptr;
}

void RequestFields::refuse_unless_default(const char* key, const nlohmann::json& default_value,
                                          const std::string& why) {
  const nlohmann::json* v = raw(key);
  if (!v || *v == default_value) return;
  fail(std::string(key) + " is not supported yet" + (why.empty() ? "" : " (" + why + ")") + ".");
}

void refuse_sglang_extensions(RequestFields& f, SglangRequest request) {
  const bool generate = request == SglangRequest::kGenerate;
  // TokenizerManager._validate_one_request, for a server without --enable-custom-logit-processor
  // (which this server refuses at start: its processors are pickled Python callables) ...
  if (f.has("custom_logit_processor")) {
    f.fail(
        "The server is not configured to enable custom logit processor. Please set "
        "`--enable-custom-logit-processor` to enable this feature.");
  }
  // ... and without --enable-return-hidden-states (this one has none).
  if (const nlohmann::json* v = f.raw("return_hidden_states"); v && v->is_boolean() && *v) {
    f.fail(
        "The server is not configured to return the hidden states. Please set "
        "`--enable-return-hidden-states` to enable this feature.");
  }
  f.refuse_unless_default("return_hidden_states", false);
  if (generate) {
    for (const char* k : {"input_embeds", "image_data", "video_data", "audio_data", "modalities"}) {
      f.refuse_unless_default(k, nullptr, "this server serves text-only models from token ids");
    }
  }
  f.refuse_unless_default("lora_path", nullptr, "LoRA adapters");
  if (generate) f.refuse_unless_default("lora_id", nullptr, "LoRA adapters");
  f.refuse_unless_default("session_params", nullptr);
  refuse_priority(f);
  f.refuse_unless_default("extra_key", nullptr);
  if (generate) {
    f.refuse_unless_default("background", false);
    f.refuse_unless_default("return_bytes", false);
    f.refuse_unless_default("return_entropy", false);
  } else {
    f.refuse_unless_default("cache_salt", nullptr);
  }
  for (const char* k : {"bootstrap_host", "bootstrap_port", "bootstrap_room"}) {
    f.refuse_unless_default(k, nullptr, "disaggregated serving");
  }
  if (generate) f.refuse_unless_default("bootstrap_pair_key", nullptr, "disaggregated serving");
}

void refuse_priority(RequestFields& f, const nlohmann::json& sglang_default) {
  // SGLang honours it only with --enable-priority-scheduling.
  f.refuse_unless_default("priority", sglang_default, "priority scheduling");
}

std::string openai_request_id(const std::string& prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return prefix + buf;
}

nlohmann::json read_openai_sampling_params(RequestFields& f, bool chat) {
  nlohmann::json sp = nlohmann::json::object();
  auto put_number = [&](const char* from, const char* to, std::optional<double> fallback) {
    if (auto v = f.number(from)) {
      sp[to] = *v;
    } else if (fallback) {
      sp[to] = *fallback;
    }
  };
  // CompletionRequest's defaults are concrete; ChatCompletionRequest's are None, which
  // to_sampling_params turns into the OpenAI defaults (no generation_config.json here).
  put_number("temperature", "temperature", 1.0);
  put_number("top_p", "top_p", 1.0);
  if (auto v = f.integer("top_k")) sp["top_k"] = *v;
  put_number("min_p", "min_p", 0.0);
  put_number("presence_penalty", "presence_penalty", 0.0);
  put_number("frequency_penalty", "frequency_penalty", 0.0);
  put_number("repetition_penalty", "repetition_penalty", 1.0);
  if (auto v = f.integer("min_tokens")) sp["min_new_tokens"] = *v;
  if (auto v = f.string_or_list("stop")) sp["stop"] = *v;
  if (auto v = f.int_list("stop_token_ids")) sp["stop_token_ids"] = *v;
  if (auto v = f.integer("n")) sp["n"] = *v;
  if (auto v = f.boolean("no_stop_trim")) sp["no_stop_trim"] = *v;
  if (auto v = f.boolean("ignore_eos")) sp["ignore_eos"] = *v;
  if (auto v = f.boolean("skip_special_tokens")) sp["skip_special_tokens"] = *v;
  if (const nlohmann::json* v = f.object("logit_bias")) sp["logit_bias"] = *v;
  if (auto v = f.integer("seed")) {
    // As later SGLang releases (sampling_seed = request.seed): a seeded request is reproducible.
    if (*v < 0) {
      f.fail("seed must be non-negative.");
    } else {
      sp["sampling_seed"] = *v;
    }
  }
  // Passed on so that SamplingParams refuses them with its message until structured output exists.
  for (const char* key : {"regex", "ebnf", "stop_regex"}) {
    if (const nlohmann::json* v = f.raw(key)) sp[key] = *v;
  }
  if (!chat) {
    if (const nlohmann::json* v = f.raw("json_schema")) sp["json_schema"] = *v;
  }
  if (const nlohmann::json* rf = f.object("response_format")) {
    const std::string type = rf->value("type", std::string());
    if (type == "json_schema") {
      const auto js = rf->find("json_schema");
      if (js == rf->end() || !js->is_object() || !js->contains("schema")) {
        f.fail("schema_ is required for json_schema response format request.");
      } else {
        sp["json_schema"] = (*js)["schema"].dump();
      }
    } else if (type == "json_object") {
      sp["json_schema"] = R"({"type": "object"})";
    } else if (type == "structural_tag") {
      sp["structural_tag"] = rf->dump();
    } else if (type != "text") {
      f.fail("Input should be 'text', 'json_object' or 'json_schema': response_format.type");
    }
  }
  if (const nlohmann::json* v = f.raw("custom_params")) sp["custom_params"] = *v;
  return sp;
}

json completion_logprobs(const json& input_token_logprobs, const json& input_top_logprobs,
                         const json& output_token_logprobs, const json& output_top_logprobs) {
  json lp;
  lp["text_offset"] = json::array();
  lp["token_logprobs"] = json::array();
  lp["tokens"] = json::array();
  lp["top_logprobs"] = json::array();
  auto tokens = [&](const json& entries) {
    for (const auto& e : entries) {
      lp["tokens"].push_back(e[2]);
      lp["token_logprobs"].push_back(e[0]);
      lp["text_offset"].push_back(-1);  // "Not supported yet", as SGLang
    }
  };
  auto tops = [&](const json& entries) {
    for (const auto& top : entries) {
      if (top.is_null()) {
        lp["top_logprobs"].push_back(nullptr);
        continue;
      }
      json m = json::object();
      for (const auto& e : top) m[e[2].is_string() ? e[2].get<std::string>() : ""] = e[0];
      lp["top_logprobs"].push_back(std::move(m));
    }
  };
  tokens(input_token_logprobs);
  tokens(output_token_logprobs);
  tops(input_top_logprobs);
  tops(output_top_logprobs);
  return lp;
}

namespace {
json utf8_bytes(const json& text) {
  json b = json::array();
  if (text.is_string()) {
    for (unsigned char c : text.get_ref<const std::string&>()) b.push_back(static_cast<int>(c));
  }
  return b;
}
}  // namespace

json chat_logprobs(const GenerateCall::Item& it, size_t begin, size_t end) {
  json content = json::array();
  const json& tokens = it.output_token_logprobs;
  const json& tops = it.output_top_logprobs;
  for (size_t i = begin; i < end && i < tokens.size(); ++i) {
    const json& e = tokens[i];
    json entry;
    entry["token"] = e[2];
    entry["bytes"] = utf8_bytes(e[2]);
    entry["logprob"] = e[0];
    json top = json::array();
    // SGLang's dict {token text: logprob}: a repeated text keeps its first position, last value.
    if (i < tops.size() && tops[i].is_array()) {
      std::vector<std::string> order;
      std::map<std::string, json> values;
      for (const auto& t : tops[i]) {
        const std::string text = t[2].is_string() ? t[2].get<std::string>() : "";
        if (!values.count(text)) order.push_back(text);
        values[text] = t[0];
      }
      for (const auto& text : order) {
        top.push_back(
            json{{"token", text}, {"bytes", utf8_bytes(text)}, {"logprob", values[text]}});
      }
    }
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return json{{"content", std::move(content)}};
}

json usage_json(const GenerateCall& call, int64_t n, bool enable_cache_report) {
  int64_t prompt = 0, completion = 0, cached = 0;
  const auto& items = call.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (n <= 1 || i % static_cast<size_t>(n) == 0) prompt += items[i].prompt_tokens;
    completion += items[i].completion_tokens;
    cached += items[i].cached_tokens;
  }
  json u;
  u["prompt_tokens"] = prompt;
  u["total_tokens"] = prompt + completion;
  u["completion_tokens"] = completion;
  u["prompt_tokens_details"] =
      enable_cache_report && cached > 0 ? json{{"cached_tokens", cached}} : json(nullptr);
  u["reasoning_tokens"] = 0;
  return u;
}

StreamOptions read_stream_options(RequestFields& f) {
  StreamOptions o;
  if (const nlohmann::json* so = f.object("stream_options")) {
    RequestFields s(*so);
    o.include_usage = s.boolean("include_usage").value_or(false);
    o.continuous_usage_stats = s.boolean("continuous_usage_stats").value_or(false);
    if (s.error()) f.fail(*s.error() + " (stream_options)");
  }
  return o;
}

json item_usage_json(const GenerateCall::Item& it) {
  return json{{"prompt_tokens", it.prompt_tokens},
              {"total_tokens", it.prompt_tokens + it.completion_tokens},
              {"completion_tokens", it.completion_tokens},
              {"prompt_tokens_details", nullptr},
              {"reasoning_tokens", 0}};
}

ApiError engine_abort_error(const GenerateCall::Item& it) {
  const int code = it.finish ? it.finish->status_code : 500;
  return ApiError::openai(it.finish ? it.finish->message : "aborted",
                          code == 400 ? "BadRequestError" : "InternalServerError", code);
}

void answer_refused_generation(http::Exchange& ex, bool stream, const Error& error) {
  SGLANG_LOG_ERROR("[http_server] Error: {}", error.message);
  // A full queue is SGLang's HTTPException 503, which serving_base answers with type "503".
  const ApiError e = error.code == ErrorCode::kResourceExhausted
                         ? ApiError::http_exception(503, error.message)
                         : ApiError::openai(error.message);
  if (!stream) return respond_error(ex, e);
  ex.start_stream(200, "text/event-stream");
  ex.send_chunk(e.stream_event());
  ex.send_chunk("data: [DONE]\n\n");
  ex.end_stream();
}

json finish_type(const GenerateCall::Item& it) {
  if (!it.finish) return nullptr;
  return to_json(*it.finish)["type"];
}

json matched_stop(const GenerateCall::Item& it) {
  if (!it.finish) return nullptr;
  json f = to_json(*it.finish);
  return f.contains("matched") ? f["matched"] : json(nullptr);
}

}  // namespace sglang
