// GenerateCall (generate_call.h) and POST /generate: SGLang's GenerateReqInput in, SGLang's output
// dicts out.
#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/api_server.h"
#include "server/generate_call.h"
#include "server/openai_common.h"
#include "util/logging.h"

namespace sglang {

using json = nlohmann::ordered_json;

namespace {

// A field that may be given once for all prompts or as a list with one entry per prompt (as
// GenerateReqInput's normalize_batch_and_arguments); null or absent: nullptr. A list of another
// length than the batch is refused, naming the field.
Result<const nlohmann::json*> per_prompt(const nlohmann::json& body, const char* key, size_t i,
                                         bool batch, size_t num_prompts) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return static_cast<const nlohmann::json*>(nullptr);
  if (batch && it->is_array() && std::string(key) != "stop") {
    if (it->size() != num_prompts) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(key) + " must be given once or once per prompt (" +
                            std::to_string(num_prompts) + " values), got " +
                            std::to_string(it->size()) + ".");
    }
    return &(*it)[i];
  }
  return &*it;
}

// A boolean field of GenerateReqInput: absent or null is `false` (its dataclass default); any
// other type is refused with the field's name (SGLang's dataclass would take any truthy value).
Result<bool> bool_field(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(key) + " must be a boolean, got " + it->dump() + ".");
  }
  return it->get<bool>();
}

}  // namespace

GenerateCall::GenerateCall(ApiServer& server, std::shared_ptr<http::Exchange> ex)
    : server_(server), ex_(std::move(ex)), start_(std::chrono::steady_clock::now()) {}

json GenerateCall::token_logprob_entry(int32_t token, std::optional<float> logprob) const {
  json text = nullptr;
  if (return_text_in_logprobs_ && server_.tokenizer_)
    text = server_.tokenizer_->decode({token}, false);
  return json::array({logprob ? json(*logprob) : json(nullptr), token, text});
}

json GenerateCall::top_entry(const std::vector<TokenLogprob>& top) const {
  json arr = json::array();
  for (const auto& t : top) arr.push_back(token_logprob_entry(t.token_id, t.logprob));
  return arr;
}

Result<std::vector<std::vector<int32_t>>> GenerateCall::parse_token_ids_logprob(
    const nlohmann::json& body, size_t num_prompts, int64_t n) const {
  auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  const char* kType =
      "token_ids_logprob must be an integer, a list of integers or a list of lists of integers.";
  std::vector<std::vector<int32_t>> out(num_prompts);
  auto it = body.find("token_ids_logprob");
  if (it == body.end() || it->is_null()) return out;
  auto ids_of = [&](const nlohmann::json& list) -> Result<std::vector<int32_t>> {
    std::vector<int32_t> ids;
    for (const auto& x : list) {
      if (!x.is_number_integer()) return bad(kType);
      // Saturated, so an id past int32 stays out of the vocabulary (the scheduler refuses it).
      ids.push_back(static_cast<int32_t>(std::clamp<int64_t>(x.get<int64_t>(),
                                                             std::numeric_limits<int32_t>::min(),
                                                             std::numeric_limits<int32_t>::max())));
    }
    return ids;
  };
  // As SGLang's GenerateReqInput._normalize_logprob_params: an id or a list of ids is asked for
  // every prompt, a list of lists gives each prompt its own (not with n > 1); an empty list is
  // none.
  const nlohmann::json& v = *it;
  if (v.is_number_integer()) {
    SGLANG_ASSIGN_OR_RETURN(auto ids, ids_of(nlohmann::json::array({v})));
    for (auto& o : out) o = ids;
    return out;
  }
  if (!v.is_array()) return bad(kType);
  if (v.empty()) return out;
  if (!v[0].is_array()) {
    SGLANG_ASSIGN_OR_RETURN(auto ids, ids_of(v));
    for (auto& o : out) o = ids;
    return out;
  }
  if (n > 1) return bad("Cannot use list token_ids_logprob with parallel_sample_num > 1");
  if (!batch_ || v.size() != num_prompts) {
    return bad("token_ids_logprob must give one list of token ids per prompt.");
  }
  for (size_t i = 0; i < num_prompts; ++i) {
    if (!v[i].is_array()) return bad(kType);
    SGLANG_ASSIGN_OR_RETURN(out[i], ids_of(v[i]));
  }
  return out;
}

Status GenerateCall::parse(const nlohmann::json& body) {
  {
    std::lock_guard lock(server_.weight_version_mu_);
    weight_version_ = server_.weight_version_;
  }
  auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  const bool has_text = body.contains("text") && !body["text"].is_null();
  const bool has_ids = body.contains("input_ids") && !body["input_ids"].is_null();
  // As SGLang's GenerateReqInput: text or input_ids; with both, input_ids are used.
  if (!has_text && !has_ids)
    return bad("Either text, input_ids or input_embeds should be provided.");
  std::vector<std::vector<int32_t>> prompts;
  const int64_t vocab = server_.vocab_size_;
  if (!has_ids) {
    const nlohmann::json& t = body["text"];
    if (server_.tokenizer_ == nullptr) {
      return bad(
          "The engine initialized with skip_tokenizer_init=True cannot accept text prompts. Please "
          "provide input_ids or re-initialize the engine with skip_tokenizer_init=False.");
    }
    auto encode = [&](const nlohmann::json& s) -> Result<std::vector<int32_t>> {
      if (!s.is_string()) return bad("text must be a string or a list of strings.");
      return server_.tokenizer_->encode(s.get<std::string>(), true);
    };
    if (t.is_array()) {
      batch_ = true;
      for (const auto& s : t) {
        SGLANG_ASSIGN_OR_RETURN(auto ids, encode(s));
        prompts.push_back(std::move(ids));
      }
    } else {
      SGLANG_ASSIGN_OR_RETURN(auto ids, encode(t));
      prompts.push_back(std::move(ids));
    }
  } else {
    const nlohmann::json& ids = body["input_ids"];
    auto read = [&](const nlohmann::json& list) -> Result<std::vector<int32_t>> {
      std::vector<int32_t> out;
      for (const auto& x : list) {
        if (!x.is_number_integer())
          return bad("input_ids must be a list of integers or a list of lists of integers.");
        const int64_t v = x.get<int64_t>();
        if (v < 0 || v >= vocab) {
          return bad("The input_ids " + list.dump() +
                     " contains values greater than the vocab size (" + std::to_string(vocab) +
                     ").");
        }
        out.push_back(static_cast<int32_t>(v));
      }
      return out;
    };
    if (!ids.is_array())
      return bad("input_ids must be a list of integers or a list of lists of integers.");
    if (!ids.empty() && ids[0].is_array()) {
      batch_ = true;
      for (const auto& l : ids) {
        if (!l.is_array())
          return bad("input_ids must be a list of integers or a list of lists of integers.");
        SGLANG_ASSIGN_OR_RETURN(auto v, read(l));
        prompts.push_back(std::move(v));
      }
    } else {
      if (ids.empty()) return bad("input_ids cannot be empty.");
      SGLANG_ASSIGN_OR_RETURN(auto v, read(ids));
      prompts.push_back(std::move(v));
    }
  }
  for (const auto& p : prompts) {
    if (p.empty()) return bad("texts cannot be empty and tokenizer must be initialized");
  }
  if (batch_ && prompts.empty()) return bad("The batch is empty.");
  SGLANG_ASSIGN_OR_RETURN(stream_, bool_field(body, "stream"));
  SGLANG_ASSIGN_OR_RETURN(return_text_in_logprobs_, bool_field(body, "return_text_in_logprobs"));
  // GenerateReqInput's other fields (SGLang's io_struct.py): those this server does not honour are
  // refused, never ignored, as the OpenAI routes refuse theirs. log_metrics, validation_time,
  // conversation_id, no_logs and custom_labels only label SGLang's own logs and metrics: accepted.
  {
    RequestFields f(body);
    refuse_sglang_extensions(f, SglangRequest::kGenerate);
    if (f.error()) return bad(*f.error());
  }
  // SGLang's data_parallel_controller sends a request that names its rank to that replica.
  if (auto it = body.find("data_parallel_rank"); it != body.end() && !it->is_null()) {
    const int64_t replicas = static_cast<int64_t>(server_.scheduler_->size());
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() >= replicas) {
      return bad("data_parallel_rank must be an integer in [0, " + std::to_string(replicas) +
                 ") (--dp-size), got " + it->dump() + ".");
    }
    data_parallel_rank_ = it->get<int64_t>();
  }
  // As SGLang's TokenizerManager: with the flag, each streamed chunk carries only what is new.
  incremental_ = stream_ && server_.args_.incremental_streaming_output;
  const size_t num_prompts = prompts.size();
  auto field = [&](const char* key, size_t i) {
    return per_prompt(body, key, i, batch_, num_prompts);
  };

  // Every prompt's sampling params first: the whole call (prompts x n) is checked against the
  // queue before anything is built, so a request for a million copies costs nothing.
  std::vector<SamplingParams> params(num_prompts);
  int64_t total = 0;
  for (size_t i = 0; i < num_prompts; ++i) {
    SGLANG_ASSIGN_OR_RETURN(const nlohmann::json* sp, field("sampling_params", i));
    SGLANG_ASSIGN_OR_RETURN(params[i], sampling_params_from_json(sp ? *sp : nlohmann::json()));
    params[i].normalize(server_.tokenizer_.get());
    if (!params[i].stream_interval.has_value()) {
      params[i].stream_interval = server_.args_.stream_interval;
    }
    if (params[i].n < 1) {
      return bad("n must be at least 1, got " + std::to_string(params[i].n) + ".");
    }
    total += std::min<int64_t>(params[i].n, server_.scheduler_->max_queued_requests() + 1);
  }
  SGLANG_RETURN_IF_ERROR(server_.scheduler_->check_queue_room(total));

  std::vector<std::vector<int32_t>> token_ids_logprob;
  SGLANG_ASSIGN_OR_RETURN(token_ids_logprob,
                          parse_token_ids_logprob(body, num_prompts, params[0].n));

  items_.reserve(static_cast<size_t>(total));
  for (size_t i = 0; i < num_prompts; ++i) {
    LogprobOptions lp;
    SGLANG_ASSIGN_OR_RETURN(const nlohmann::json* rl, field("return_logprob", i));
    if (rl) {
      if (!rl->is_boolean()) {
        return bad("return_logprob must be a boolean, got " + rl->dump() + ".");
      }
      lp.return_logprob = rl->get<bool>();
    }
    SGLANG_ASSIGN_OR_RETURN(const nlohmann::json* tn, field("top_logprobs_num", i));
    if (tn) {
      if (!tn->is_number_integer()) return bad("top_logprobs_num must be an integer.");
      lp.top_logprobs_num = tn->get<int64_t>();
    }
    SGLANG_ASSIGN_OR_RETURN(const nlohmann::json* ls, field("logprob_start_len", i));
    if (ls) {
      if (!ls->is_number_integer()) return bad("logprob_start_len must be an integer.");
      lp.logprob_start_len = ls->get<int64_t>();
    }
    if (lp.top_logprobs_num < 0) return bad("top_logprobs_num must be non-negative.");
    lp.token_ids_logprob = token_ids_logprob[i];
    std::string rid;
    if (body.contains("rid") && !body["rid"].is_null()) {
      const nlohmann::json& r = body["rid"];
      if (r.is_string()) {
        rid = batch_ ? r.get<std::string>() + "_" + std::to_string(i) : r.get<std::string>();
      } else if (r.is_array() && batch_) {
        if (r.size() != num_prompts) {
          return bad(
              "The specified rids length mismatch with the batch_size for batch processing.");
        }
        if (!r[i].is_string()) return bad("The rid should be a string or a list of strings.");
        rid = r[i].get<std::string>();
      } else {
        return bad("The rid should be a string or a list of strings.");
      }
    } else {
      rid = server_.next_rid();
    }
    const int64_t n = params[i].n;
    if (n > 1) batch_ = true;
    // One immutable copy of the prompt for all n samples (and through the scheduler): a call's
    // memory grows by the copies' bookkeeping, not n times the prompt.
    const SharedTokens prompt(std::move(prompts[i]));
    for (int64_t c = 0; c < n; ++c) {
      Item it;
      // As SGLang: every sample of n > 1 gets its own fresh id.
      it.rid = n > 1 ? server_.next_rid() : rid;
      it.index = items_.size();
      it.prompt_index = i;
      it.params = params[i];
      it.params.n = 1;
      it.logprob = lp;
      auto req = std::make_unique<Request>();
      req->rid = it.rid;
      req->prompt = prompt;
      req->params = it.params;
      req->logprob = lp;
      if (n > 1) req->prefix_group = rid;
      req->data_parallel_rank = data_parallel_rank_;
      it.stream = std::make_shared<RequestStream>();
      req->stream = it.stream;
      // One validation per prompt: its copies share its tokens and parameters.
      if (c == 0) SGLANG_RETURN_IF_ERROR(server_.scheduler_->validate(*req));
      it.request = std::move(req);
      if (server_.tokenizer_) it.detok.emplace(*server_.tokenizer_, it.params.skip_special_tokens);
      it.prompt_tokens = static_cast<int64_t>(prompt.size());
      items_.push_back(std::move(it));
    }
  }
  return {};
}

void GenerateCall::submit(std::unique_ptr<Output> output, bool detached) {
  output_ = std::move(output);
  auto self = shared_from_this();
  if (!detached) {
    ex_->on_close([self] {
      // The client went away: abort what still runs, so its pages are freed (SGLang does the same
      // when the HTTP request is disconnected).
      for (auto& it : self->items_) {
        if (!it.finished) self->server_.scheduler_->abort(it.rid, "The client disconnected.");
      }
    });
    if (stream_) ex_->start_stream(200, "text/event-stream");
  }
  for (auto& it : items_) {
    it.stream->set_notifier([self] { self->ex_->defer([self] { self->drain(); }); });
    it.last_token_time = start_;
    Status st = server_.scheduler_->submit(std::move(it.request));
    if (!st.ok()) {
      // Validated already; a race with shutdown or with other calls filling the queue gets here
      // (SGLang's queue-full abort is a 503).
      it.finished = true;
      it.finish = FinishReason::abort(st.error().message,
                                      st.error().code == ErrorCode::kResourceExhausted ? 503 : 400);
    }
  }
  drain();
}

void GenerateCall::absorb(Item& it, StepOutput& out) {
  const auto now = std::chrono::steady_clock::now();
  if (!out.new_token_ids.empty()) {
    const double dt = std::chrono::duration<double>(now - it.last_token_time).count();
    if (!it.got_first_token) {
      server_.metrics_.on_first_token(dt);
      it.got_first_token = true;
    } else {
      server_.metrics_.on_inter_token(dt / static_cast<double>(out.new_token_ids.size()));
    }
    it.last_token_time = now;
  }
  std::vector<int32_t> ids = out.new_token_ids;
  it.output_ids.insert(it.output_ids.end(), ids.begin(), ids.end());
  // As SGLang's detokenizer: a matched stop token is not part of the text.
  if (out.finished && out.finish_reason &&
      out.finish_reason->kind == FinishReason::Kind::kStopToken && !it.params.no_stop_trim &&
      !ids.empty()) {
    ids.pop_back();
  }
  if (it.detok) {
    it.text += it.detok->push(ids);
    if (out.finished) it.text += it.detok->finish();
  }
  for (size_t k = 0; k < out.new_token_logprobs.size(); ++k) {
    it.output_token_logprobs.push_back(
        token_logprob_entry(out.new_token_logprobs[k].token_id, out.new_token_logprobs[k].logprob));
    if (it.logprob.top_logprobs_num > 0 && k < out.new_top_logprobs.size()) {
      it.output_top_logprobs.push_back(top_entry(out.new_top_logprobs[k]));
    }
  }
  for (const auto& asked : out.new_token_ids_logprobs) {
    it.output_token_ids_logprobs.push_back(asked.empty() ? json(nullptr) : top_entry(asked));
  }
  if (!out.input_logprobs.empty()) {
    for (const auto& il : out.input_logprobs) {
      it.input_token_logprobs.push_back(token_logprob_entry(il.token_id, il.logprob));
      if (it.logprob.top_logprobs_num > 0) {
        it.input_top_logprobs.push_back(il.logprob ? top_entry(il.top) : json(nullptr));
      }
      // As SGLang's detokenize_top_logprobs_tokens: a position without values is null.
      if (!it.logprob.token_ids_logprob.empty()) {
        it.input_token_ids_logprobs.push_back(il.token_ids.empty() ? json(nullptr)
                                                                   : top_entry(il.token_ids));
      }
    }
  }
  it.prompt_tokens = out.prompt_tokens;
  it.completion_tokens = out.completion_tokens;
  it.cached_tokens = out.cached_tokens;
  if (out.finished) {
    it.finished = true;
    it.finish = out.finish_reason;
    server_.metrics_.on_finished(it.prompt_tokens, it.completion_tokens, it.cached_tokens,
                                 std::chrono::duration<double>(now - start_).count());
  }
}

std::string GenerateCall::final_text(const Item& it) const {
  // As SGLang's trim_matched_stop: the text ends before the matched stop string.
  if (it.finish && it.finish->kind == FinishReason::Kind::kStopString && !it.params.no_stop_trim) {
    const size_t pos = it.text.find(it.finish->matched_string);
    if (pos != std::string::npos) return it.text.substr(0, pos);
  }
  return it.text;
}

const GenerateCall::Item* GenerateCall::error_item() const {
  // As SGLang: an abort the engine raised with a status becomes an error of that status; a user's
  // abort (no status) is an ordinary answer with finish_reason abort.
  for (const auto& it : items_) {
    if (it.finish && it.finish->kind == FinishReason::Kind::kAbort && it.finish->status_code != 0) {
      return &it;
    }
  }
  return nullptr;
}

void GenerateCall::drain() {
  if (done_ || (waiting_for_client_ && !server_.shutting_down_)) return;
  if (stream_ && ex_->buffered_bytes() > kStreamBufferHighBytes && !server_.shutting_down_) {
    // A slow reader: pull nothing more until it has taken most of what it has (see
    // kStreamBufferHighBytes); the outputs wait in the streams and go out coalesced. (Not while
    // shutting down: then every call ends at once, with its aborts.) The callback holds the
    // call weakly: the streams' notifiers keep it alive until it is done, and a connection that
    // never drains must not keep it (and itself) alive past that.
    waiting_for_client_ = true;
    http::note_backpressure_wait();
    std::weak_ptr<GenerateCall> weak = weak_from_this();
    ex_->when_buffered_below(kStreamBufferLowBytes, [weak] {
      if (auto self = weak.lock()) {
        self->waiting_for_client_ = false;
        self->drain();
      }
    });
    return;
  }
  bool all_finished = true;
  for (auto& it : items_) {
    bool changed = false;
    while (!it.finished) {
      auto out = it.stream->try_pop();
      if (!out) break;
      absorb(it, *out);
      changed = true;
    }
    if (stream_ && changed) output_->on_update(*this, it);
    all_finished = all_finished && it.finished;
  }
  if (!all_finished) return;
  done_ = true;
  for (auto& it : items_) it.stream->set_notifier(nullptr);
  output_->on_done(*this);
}

namespace {

class NativeGenerateOutput : public GenerateCall::Output {
 public:
  void on_update(GenerateCall& call, GenerateCall::Item& it) override {
    call.exchange().send_chunk("data: " + dump_json(output_json(call, it, it.finished)) + "\n\n");
    if (call.incremental()) {
      // What this chunk carried is sent; the next one starts after it.
      it.sent_text = std::max(it.sent_text, shown_text(call, it, it.finished).size());
      it.sent_outputs = it.output_ids.size();
    }
  }

  void on_done(GenerateCall& call) override {
    http::Exchange& ex = call.exchange();
    if (call.stream()) {
      ex.send_chunk("data: [DONE]\n\n");
      ex.end_stream();
      return;
    }
    if (const GenerateCall::Item* bad = call.error_item()) {
      const int code = bad->finish->status_code;
      return respond_error(ex, code == 400 ? ApiError::generate(bad->finish->message)
                                           : ApiError::http_exception(code, bad->finish->message));
    }
    GenerateCall::json body;
    if (call.batch()) {
      body = GenerateCall::json::array();
      for (const auto& it : call.items()) body.push_back(output_json(call, it, true));
    } else {
      body = output_json(call, call.items()[0], true);
    }
    ex.respond(200, "application/json", dump_json(body));
  }

 private:
  static std::string shown_text(const GenerateCall& call, const GenerateCall::Item& it,
                                bool final) {
    return final ? call.final_text(it) : it.text;
  }

  // The entries of `list` from `offset` on (SGLang's _slice_streaming_output_meta_info).
  static GenerateCall::json tail_of(const GenerateCall::json& list, size_t offset) {
    GenerateCall::json out = GenerateCall::json::array();
    for (size_t i = offset; i < list.size(); ++i) out.push_back(list[i]);
    return out;
  }

  GenerateCall::json output_json(const GenerateCall& call, const GenerateCall::Item& it,
                                 bool final) {
    using json = GenerateCall::json;
    // As SGLang's incremental streaming: output-side lists, ids and text from the first position
    // not yet sent; the input side and the counters stay whole.
    const size_t offset = call.incremental() ? it.sent_outputs : 0;
    // meta_info keys in SGLang's order.
    json meta;
    meta["id"] = it.rid;
    meta["finish_reason"] = it.finish ? to_json(*it.finish) : json(nullptr);
    meta["prompt_tokens"] = it.prompt_tokens;
    meta["weight_version"] = call.weight_version();
    meta["total_retractions"] = 0;
    if (it.logprob.return_logprob) {
      meta["input_token_logprobs"] = it.input_token_logprobs;
      meta["output_token_logprobs"] = tail_of(it.output_token_logprobs, offset);
      if (it.logprob.top_logprobs_num > 0) {
        meta["input_top_logprobs"] = it.input_top_logprobs;
        meta["output_top_logprobs"] = tail_of(it.output_top_logprobs, offset);
      }
      if (!it.logprob.token_ids_logprob.empty()) {
        meta["input_token_ids_logprobs"] = it.input_token_ids_logprobs;
        meta["output_token_ids_logprobs"] = tail_of(it.output_token_ids_logprobs, offset);
      }
    }
    meta["completion_tokens"] = it.completion_tokens;
    meta["cached_tokens"] = it.cached_tokens;
    meta["cached_tokens_details"] = nullptr;
    meta["dp_rank"] = nullptr;
    if (it.finished) {
      meta["e2e_latency"] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - call.start_time())
              .count();
    }
    if (!first_sent_) {
      meta["response_sent_to_client_ts"] =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      if (call.stream()) first_sent_ = true;
    }
    json out;
    if (it.detok) {
      const std::string text = shown_text(call, it, final);
      // Incremental: the text decoded since the last chunk (none when a stop string trimmed
      // what was sent).
      out["text"] = !call.incremental()          ? text
                    : it.sent_text < text.size() ? text.substr(it.sent_text)
                                                 : std::string();
    }
    out["output_ids"] = std::vector<int32_t>(
        it.output_ids.begin() + static_cast<std::ptrdiff_t>(std::min(offset, it.output_ids.size())),
        it.output_ids.end());
    out["meta_info"] = std::move(meta);
    if (call.stream() && call.batch()) out["index"] = it.index;
    return out;
  }

  bool first_sent_ = false;
};

}  // namespace

std::unique_ptr<GenerateCall::Output> make_native_generate_output() {
  return std::make_unique<NativeGenerateOutput>();
}

void ApiServer::generate(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json raw;
  if (auto e = parse_json_body(req, raw)) return respond_error(ex, *e);
  auto call = std::make_shared<GenerateCall>(*this, ex);
  Status st = call->parse(raw);
  if (!st.ok()) {
    SGLANG_LOG_ERROR("[http_server] Error: {}", st.error().message);
    const auto stream_it = raw.find("stream");
    if (stream_it != raw.end() && stream_it->is_boolean() && stream_it->get<bool>()) {
      // As SGLang: a streaming request's errors arrive inside the (200) event stream.
      ex->start_stream(200, "text/event-stream");
      ex->send_chunk("data: " + ApiError::generate(st.error().message).body() + "\n\n");
      ex->send_chunk("data: [DONE]\n\n");
      ex->end_stream();
      return;
    }
    return respond_error(ex, refused_generation_error(st.error()));
  }
  call->submit(make_native_generate_output());
}

}  // namespace sglang
