// POST /encode and /classify on an embedding server (--is-embedding): SGLang's EmbeddingReqInput in
// (text or input_ids, single or a list), {"embedding": [...], "meta_info": {...}} out (a list for a
// batch). A decoder embedding model answers with its normalised last-token hidden state; a reward
// model (*ForSequenceClassification) with its score head's outputs, so embedding[0] is the reward.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/api_server.h"
#include "util/logging.h"

namespace sglang {

namespace {

using json = nlohmann::ordered_json;

class EncodeCall : public std::enable_shared_from_this<EncodeCall> {
 public:
  struct Item {
    std::string rid;
    std::shared_ptr<RequestStream> stream;
    std::unique_ptr<Request> request;
    std::vector<float> embedding;
    int64_t prompt_tokens = 0, cached_tokens = 0;
    std::optional<FinishReason> finish;
  };

  EncodeCall(std::shared_ptr<http::Exchange> ex, std::string weight_version)
      : ex_(std::move(ex)),
        weight_version_(std::move(weight_version)),
        start_(std::chrono::steady_clock::now()) {}

  std::vector<Item> items;
  bool batch = false;

  void submit(Scheduler& scheduler) {
    auto self = shared_from_this();
    ex_->on_close([self, &scheduler] {
      for (auto& it : self->items) {
        if (!it.finish) scheduler.abort(it.rid, "The client disconnected.");
      }
    });
    for (auto& it : items) {
      it.stream->set_notifier([self] { self->ex_->defer([self] { self->drain(); }); });
      Status st = scheduler.submit(std::move(it.request));
      if (!st.ok()) it.finish = FinishReason::abort(st.error().message, 400);
    }
    drain();
  }

 private:
  void drain() {
    if (done_) return;
    bool all = true;
    for (auto& it : items) {
      while (!it.finish) {
        auto out = it.stream->try_pop();
        if (!out) break;
        if (out->finished) {
          it.finish = out->finish_reason;
          it.embedding = std::move(out->embedding);
          it.prompt_tokens = out->prompt_tokens;
          it.cached_tokens = out->cached_tokens;
        }
      }
      all = all && it.finish.has_value();
    }
    if (!all) return;
    done_ = true;
    for (auto& it : items) it.stream->set_notifier(nullptr);
    for (const auto& it : items) {
      if (it.finish->kind == FinishReason::Kind::kAbort && it.finish->status_code != 0) {
        ex_->respond(it.finish->status_code, "application/json", error_body(it.finish->message));
        return;
      }
    }
    const double latency =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    auto one = [&](const Item& it) {
      json meta;
      meta["id"] = it.rid;
      meta["finish_reason"] = to_json(*it.finish);
      meta["prompt_tokens"] = it.prompt_tokens;
      meta["weight_version"] = weight_version_;
      meta["cached_tokens"] = it.cached_tokens;
      meta["e2e_latency"] = latency;
      json o;
      o["embedding"] = it.embedding;
      o["meta_info"] = std::move(meta);
      return o;
    };
    json body;
    if (batch) {
      body = json::array();
      for (const auto& it : items) body.push_back(one(it));
    } else {
      body = one(items[0]);
    }
    ex_->respond(200, "application/json",
                 body.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  std::shared_ptr<http::Exchange> ex_;
  std::string weight_version_;
  std::chrono::steady_clock::time_point start_;
  bool done_ = false;
};

}  // namespace

void ApiServer::encode(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    ex->respond(400, "application/json", validation_error_body("JSON decode error"));
    return;
  }
  auto bad = [&](const std::string& m) {
    SGLANG_LOG_ERROR("[http_server] Error: {}", m);
    ex->respond(400, "application/json", error_body(m));
  };
  if (!args_.flag("is_embedding")) {
    return bad(
        "This model does not appear to be an embedding model by default. Please add "
        "`--is-embedding` when launching the server or try another model.");
  }
  const bool has_text = body.contains("text") && !body["text"].is_null();
  const bool has_ids = body.contains("input_ids") && !body["input_ids"].is_null();
  if (!has_text && !has_ids)
    return bad("At least one of text, input_ids, or image should be provided");
  if (has_text && has_ids) return bad("text and input_ids cannot be provided at the same time");
  std::vector<std::vector<int32_t>> prompts;
  bool batch = false;
  if (has_text) {
    if (!tokenizer_) return bad("text input needs a tokenizer.");
    const nlohmann::json& t = body["text"];
    auto add = [&](const nlohmann::json& s) {
      if (!s.is_string()) return false;
      prompts.push_back(tokenizer_->encode(s.get<std::string>(), true));
      return true;
    };
    if (t.is_array()) {
      batch = true;
      for (const auto& s : t) {
        if (!add(s)) return bad("text must be a string or a list of strings.");
      }
    } else if (!add(t)) {
      return bad("text must be a string or a list of strings.");
    }
  } else {
    const nlohmann::json& ids = body["input_ids"];
    auto read = [&](const nlohmann::json& l) {
      std::vector<int32_t> v;
      if (!l.is_array()) return false;
      for (const auto& x : l) {
        if (!x.is_number_integer()) return false;
        v.push_back(x.get<int32_t>());
      }
      prompts.push_back(std::move(v));
      return true;
    };
    if (ids.is_array() && !ids.empty() && ids[0].is_array()) {
      batch = true;
      for (const auto& l : ids) {
        if (!read(l)) return bad("input_ids must be a list of integers or a list of lists.");
      }
    } else if (!read(ids)) {
      return bad("input_ids must be a list of integers or a list of lists.");
    }
  }
  std::string version;
  {
    std::lock_guard lock(weight_version_mu_);
    version = weight_version_;
  }
  auto call = std::make_shared<EncodeCall>(ex, version);
  call->batch = batch;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EncodeCall::Item it;
    it.rid = next_rid();
    auto r = std::make_unique<Request>();
    r->rid = it.rid;
    r->prompt = std::move(prompts[i]);
    r->params.max_new_tokens = 0;
    r->params.apply_defaults();
    it.stream = std::make_shared<RequestStream>();
    r->stream = it.stream;
    Status st = scheduler_->validate(*r);
    if (!st.ok()) return bad(st.error().message);
    it.request = std::move(r);
    call->items.push_back(std::move(it));
  }
  call->submit(*scheduler_);
}

}  // namespace sglang
