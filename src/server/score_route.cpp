// POST /v1/score (SGLang's OpenAIServingScore, entrypoints/openai/serving_score.py, over
// TokenizerManagerScoreMixin.score_request): a query and items (texts, or token id lists) in, with
// label_token_ids; each item becomes one prompt (query + item, or item + query with item_first),
// run as a generate request with max_new_tokens 0, return_logprob and token_ids_logprob =
// label_token_ids; out, for each item, the probability of each label token at the position after
// the prompt: exp(logprob), or softmaxed over the labels with apply_softmax.
//   {"scores": [[...], ...], "model", "usage", "object": "scoring"}
// SGLang's ValueErrors answer 400 in its OpenAI error shape (BadRequestError); field types are
// checked first, as its pydantic request model does.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/api_error.h"
#include "server/api_server.h"

namespace sglang {
namespace {

using json = nlohmann::ordered_json;

// One /v1/score call: one scheduler request per item; the response is written once all finished.
class ScoreCall : public std::enable_shared_from_this<ScoreCall> {
 public:
  struct Item {
    std::string rid;
    std::shared_ptr<RequestStream> stream;
    std::unique_ptr<Request> request;
    std::vector<TokenLogprob> label_logprobs;  // the position after the prompt
    int64_t prompt_tokens = 0;
    std::optional<FinishReason> finish;
  };

  ScoreCall(std::shared_ptr<http::Exchange> ex, std::vector<int32_t> labels, bool apply_softmax,
            std::string model)
      : ex_(std::move(ex)),
        labels_(std::move(labels)),
        apply_softmax_(apply_softmax),
        model_(std::move(model)) {}

  Status add(Scheduler& scheduler, std::string rid, std::vector<int32_t> prompt) {
    Item it;
    it.rid = std::move(rid);
    auto r = std::make_unique<Request>();
    r->rid = it.rid;
    r->prompt = std::move(prompt);
    r->params.max_new_tokens = 0;
    r->params.apply_defaults();
    r->logprob.return_logprob = true;
    r->logprob.token_ids_logprob = labels_;
    it.stream = std::make_shared<RequestStream>();
    r->stream = it.stream;
    SGLANG_RETURN_IF_ERROR(scheduler.validate(*r));
    it.request = std::move(r);
    items_.push_back(std::move(it));
    return {};
  }

  void submit(Scheduler& scheduler) {
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

  // The 200 body (also for no items at all).
  json body() const {
    json scores = json::array();
    int64_t prompt_tokens = 0;
    for (const Item& it : items_) {
      scores.push_back(scores_of(it));
      prompt_tokens += it.prompt_tokens;
    }
    json usage;
    usage["prompt_tokens"] = prompt_tokens;
    usage["total_tokens"] = prompt_tokens;
    usage["completion_tokens"] = 0;
    usage["prompt_tokens_details"] = nullptr;
    json out;
    out["scores"] = std::move(scores);
    out["model"] = model_;
    out["usage"] = std::move(usage);
    out["object"] = "scoring";
    return out;
  }

 private:
  // As SGLang's _convert_logprobs_to_scores: a label without a logprob counts as -inf; softmax in
  // float32 as torch.softmax, else math.exp (0 for -inf).
  json scores_of(const Item& it) const {
    std::unordered_map<int32_t, float> by_id;
    for (const TokenLogprob& t : it.label_logprobs) by_id[t.token_id] = t.logprob;
    std::vector<float> lp;
    for (int32_t id : labels_) {
      auto f = by_id.find(id);
      lp.push_back(f == by_id.end() ? -std::numeric_limits<float>::infinity() : f->second);
    }
    json out = json::array();
    if (apply_softmax_) {
      float mx = -std::numeric_limits<float>::infinity();
      for (float v : lp) mx = std::max(mx, v);
      std::vector<float> e;
      float sum = 0;
      for (float v : lp) {
        e.push_back(std::isinf(mx) ? std::numeric_limits<float>::quiet_NaN() : std::exp(v - mx));
        sum += e.back();
      }
      for (float v : e) out.push_back(static_cast<double>(v / sum));
    } else {
      for (float v : lp) out.push_back(std::isinf(v) ? 0.0 : std::exp(static_cast<double>(v)));
    }
    return out;
  }

  void drain() {
    if (done_) return;
    bool all = true;
    for (auto& it : items_) {
      while (!it.finish) {
        auto out = it.stream->try_pop();
        if (!out) break;
        for (auto& ids : out->new_token_ids_logprobs) {
          if (it.label_logprobs.empty()) it.label_logprobs = std::move(ids);
        }
        if (out->finished) {
          it.finish = out->finish_reason;
          it.prompt_tokens = out->prompt_tokens;
        }
      }
      all = all && it.finish.has_value();
    }
    if (!all) return;
    done_ = true;
    for (auto& it : items_) it.stream->set_notifier(nullptr);
    for (const auto& it : items_) {
      if (it.finish->kind != FinishReason::Kind::kAbort) continue;
      // A refused or failed request; a client's abort also ends the call (SGLang's
      // score_request raises when an item has no logprobs).
      const int code = it.finish->status_code != 0 ? it.finish->status_code : 400;
      respond_error(ex_, ApiError::openai(it.finish->message, "BadRequestError", code));
      return;
    }
    ex_->respond(200, "application/json", dump_json(body()));
  }

  std::shared_ptr<http::Exchange> ex_;
  std::vector<int32_t> labels_;
  bool apply_softmax_;
  std::string model_;
  std::vector<Item> items_;
  bool done_ = false;
};

bool is_int_list(const nlohmann::json& v) {
  if (!v.is_array()) return false;
  for (const auto& x : v) {
    if (!x.is_number_integer()) return false;
  }
  return true;
}

std::vector<int32_t> to_ids(const nlohmann::json& v) {
  std::vector<int32_t> out;
  // Saturated, so an id past int32 stays out of the vocabulary (the scheduler refuses it).
  for (const auto& x : v) {
    out.push_back(static_cast<int32_t>(std::clamp<int64_t>(x.get<int64_t>(),
                                                           std::numeric_limits<int32_t>::min(),
                                                           std::numeric_limits<int32_t>::max())));
  }
  return out;
}

}  // namespace

void ApiServer::score(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  // As SGLang's route: validate_json_request, then ScoringRequest's field types (pydantic).
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return respond_error(ex, *e);
  }
  auto invalid = [&](const std::string& m) { respond_error(ex, ApiError::validation(m)); };
  auto refuse = [&](const std::string& m) { respond_error(ex, ApiError::openai(m)); };
  auto field = [&](const char* key) -> const nlohmann::json* {
    auto it = body.find(key);
    return it == body.end() || it->is_null() ? nullptr : &*it;
  };
  const nlohmann::json* query = field("query");
  const nlohmann::json* items = field("items");
  const nlohmann::json* labels = field("label_token_ids");
  if (query && !query->is_string() && !is_int_list(*query)) {
    return invalid("Input should be a valid string or a valid list of integers: query");
  }
  bool items_text = false, items_ids = false;
  if (items) {
    items_text = items->is_string();
    items_ids = items->is_array();
    if (items->is_array()) {
      bool all_text = true, all_ids = true;
      for (const auto& x : *items) {
        all_text = all_text && x.is_string();
        all_ids = all_ids && is_int_list(x);
      }
      items_text = all_text;
      items_ids = all_ids && !items->empty();
    }
    if (!items_text && !items_ids) {
      return invalid(
          "Input should be a valid string, a list of strings or a list of lists of integers: "
          "items");
    }
  }
  if (labels && !is_int_list(*labels)) {
    return invalid("Input should be a valid list of integers: label_token_ids");
  }
  bool apply_softmax = false, item_first = false;
  for (auto [key, out] :
       {std::pair{"apply_softmax", &apply_softmax}, {"item_first", &item_first}}) {
    if (const nlohmann::json* v = field(key)) {
      if (!v->is_boolean()) return invalid(std::string("Input should be a valid boolean: ") + key);
      *out = v->get<bool>();
    }
  }
  std::string model = "default";
  if (const nlohmann::json* v = field("model")) {
    if (!v->is_string()) return invalid("Input should be a valid string: model");
    model = v->get<std::string>();
  }

  // TokenizerManagerScoreMixin.score_request's checks, in its order.
  if (!labels) return refuse("label_token_ids must be provided");
  if (!items) return refuse("items must be provided");
  const std::vector<int32_t> label_ids = to_ids(*labels);
  // As SGLang's `if not items`: an empty list or string scores nothing.
  const bool no_items = (items->is_array() || items->is_string()) && items->empty();
  if (!no_items) {
    // As SGLang: against the tokenizer's vocab_size (transformers': without the added tokens,
    // so e.g. Qwen's <|im_end|> is refused); then ids past the model's logits, or negative, which
    // cannot be scored either.
    auto out_of_vocab = [&](int64_t id, int64_t size) {
      return refuse("Token ID " + std::to_string(id) +
                    " is out of vocabulary (vocab size: " + std::to_string(size) + ")");
    };
    for (const auto& x : *labels) {
      const int64_t id = x.get<int64_t>();
      if (tokenizer_ && id >= tokenizer_->base_vocab_size()) {
        return out_of_vocab(id, tokenizer_->base_vocab_size());
      }
      if (id < 0 || id >= vocab_size_) return out_of_vocab(id, vocab_size_);
    }
  }
  if (is_embedding_) {
    return refuse(
        "This model does not appear to be a generation model. Use /encode (the server was "
        "launched with --is-embedding).");
  }

  std::vector<std::vector<int32_t>> prompts;
  if (!no_items) {
    if (query && query->is_string() && items_text) {
      if (!tokenizer_) {
        return refuse(
            "The engine initialized with skip_tokenizer_init=True cannot accept text prompts. "
            "Please provide input_ids or re-initialize the engine with "
            "skip_tokenizer_init=False.");
      }
      const std::string q = query->get<std::string>();
      std::vector<std::string> texts;
      if (items->is_string()) {
        texts.push_back(items->get<std::string>());
      } else {
        for (const auto& x : *items) texts.push_back(x.get<std::string>());
      }
      for (const std::string& item : texts) {
        // As SGLang: the pair is joined as text, then tokenized as one prompt.
        prompts.push_back(tokenizer_->encode(item_first ? item + q : q + item, true));
      }
    } else if (query && query->is_array() && items_ids) {
      const std::vector<int32_t> q = to_ids(*query);
      for (const auto& x : *items) {
        std::vector<int32_t> item = to_ids(x);
        std::vector<int32_t> p = item_first ? item : q;
        const std::vector<int32_t>& rest = item_first ? q : item;
        p.insert(p.end(), rest.begin(), rest.end());
        prompts.push_back(std::move(p));
      }
    } else {
      return refuse("Invalid combination of query/items types for score_request.");
    }
  }

  auto call = std::make_shared<ScoreCall>(ex, label_ids, apply_softmax, model);
  for (auto& p : prompts) {
    if (p.empty()) return refuse("texts cannot be empty and tokenizer must be initialized");
    Status st = call->add(*scheduler_, next_rid(), std::move(p));
    if (!st.ok()) return refuse(st.error().message);
  }
  call->submit(*scheduler_);
}

}  // namespace sglang
