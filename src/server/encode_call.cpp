#include "server/encode_call.h"

namespace sglang {

using json = nlohmann::ordered_json;

EncodeCall::EncodeCall(std::shared_ptr<http::Exchange> ex, std::string weight_version,
                       bool scalar_scores, Format format, FormatError format_error)
    : ex_(std::move(ex)),
      weight_version_(std::move(weight_version)),
      scalar_scores_(scalar_scores),
      format_(std::move(format)),
      format_error_(std::move(format_error)),
      start_(std::chrono::steady_clock::now()) {}

Status EncodeCall::add(DataParallelScheduler& scheduler, std::string rid,
                       std::vector<int32_t> prompt, std::vector<int32_t> token_type_ids) {
  Item it;
  it.rid = std::move(rid);
  auto r = std::make_unique<Request>();
  r->rid = it.rid;
  r->prompt = std::move(prompt);
  r->token_type_ids = std::move(token_type_ids);
  r->params.max_new_tokens = 0;
  r->params.apply_defaults();
  it.stream = std::make_shared<RequestStream>();
  r->stream = it.stream;
  SGLANG_RETURN_IF_ERROR(scheduler.validate(*r));
  it.request = std::move(r);
  items_.push_back(std::move(it));
  return {};
}

void EncodeCall::submit(DataParallelScheduler& scheduler) {
  auto self = shared_from_this();
  ex_->on_close([self, &scheduler] {
    for (auto& it : self->items_) {
      if (!it.finish) scheduler.abort(it.rid, "The client disconnected.");
    }
  });
  for (auto& it : items_) {
    it.stream->set_notifier([self] { self->ex_->defer([self] { self->drain(); }); });
    Status st = scheduler.submit(std::move(it.request));
    if (!st.ok()) it.finish = FinishReason::abort(st.error().message, 400);
  }
  drain();
}

json EncodeCall::meta_info(const Item& it) const {
  json meta;
  meta["id"] = it.rid;
  meta["finish_reason"] = to_json(*it.finish);
  meta["prompt_tokens"] = it.prompt_tokens;
  meta["weight_version"] = weight_version_;
  meta["cached_tokens"] = it.cached_tokens;
  meta["e2e_latency"] = latency_;
  return meta;
}

json EncodeCall::embedding(const Item& it) const {
  if (scalar_scores_ && it.embedding.size() == 1) return it.embedding[0];
  return it.embedding;
}

void EncodeCall::drain() {
  if (done_) return;
  bool all = true;
  for (auto& it : items_) {
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
  for (auto& it : items_) it.stream->set_notifier(nullptr);
  for (const auto& it : items_) {
    if (it.finish->kind == FinishReason::Kind::kAbort && it.finish->status_code != 0) {
      respond_error(ex_, format_error_(it.finish->message, it.finish->status_code));
      return;
    }
  }
  latency_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const json body = format_(*this);
  ex_->respond(200, "application/json", dump_json(body));
}

}  // namespace sglang
