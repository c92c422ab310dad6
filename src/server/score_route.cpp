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
#include "server/generate_call.h"

namespace sglang {
namespace {

using json = nlohmann::ordered_json;

// SGLang's ScoringResponse.
json score_body(json scores, int64_t prompt_tokens, const std::string& model) {
  json usage;
  usage["prompt_tokens"] = prompt_tokens;
  usage["total_tokens"] = prompt_tokens;
  usage["completion_tokens"] = 0;
  usage["prompt_tokens_details"] = nullptr;
  json out;
  out["scores"] = std::move(scores);
  out["model"] = model;
  out["usage"] = std::move(usage);
  out["object"] = "scoring";
  return out;
}

// How a /v1/score call answers: its GenerateCall runs one request per item (max_new_tokens 0,
// the labels as token_ids_logprob); the labels' logprobs at the position after the prompt become
// the item's scores.
class ScoreOutput : public GenerateCall::Output {
 public:
  ScoreOutput(std::vector<int64_t> labels, bool apply_softmax, std::string model)
      : labels_(std::move(labels)), apply_softmax_(apply_softmax), model_(std::move(model)) {}

  void on_update(GenerateCall&, GenerateCall::Item&) override {}  // never streamed

  void on_done(GenerateCall& call) override {
    for (const auto& it : call.items()) {
      if (it.finish->kind != FinishReason::Kind::kAbort) continue;
      // A refused or failed request; a client's abort also ends the call (SGLang's
      // score_request raises when an item has no logprobs).
      const int code = it.finish->status_code != 0 ? it.finish->status_code : 400;
      return respond_error(call.exchange(),
                           ApiError::openai(it.finish->message, "BadRequestError", code));
    }
    json scores = json::array();
    int64_t prompt_tokens = 0;
    for (const auto& it : call.items()) {
      scores.push_back(scores_of(it));
      prompt_tokens += it.prompt_tokens;
    }
    call.exchange().respond(200, "application/json",
                            dump_json(score_body(std::move(scores), prompt_tokens, model_)));
  }

 private:
  // As SGLang's _convert_logprobs_to_scores: a label without a logprob counts as -inf; softmax in
  // float32 as torch.softmax, else math.exp (0 for -inf).
  json scores_of(const GenerateCall::Item& it) const {
    std::unordered_map<int64_t, float> by_id;
    // Entries [logprob, token id, text] of the first (only) output position.
    const json& asked = it.output_token_ids_logprobs;
    if (!asked.empty() && asked[0].is_array()) {
      for (const auto& e : asked[0]) {
        if (e[0].is_number()) by_id[e[1].get<int64_t>()] = e[0].get<float>();
      }
    }
    std::vector<float> lp;
    for (int64_t id : labels_) {
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

  std::vector<int64_t> labels_;
  bool apply_softmax_;
  std::string model_;
};

bool is_int_list(const nlohmann::json& v) {
  if (!v.is_array()) return false;
  for (const auto& x : v) {
    if (!x.is_number_integer()) return false;
  }
  return true;
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

  // The prompts of the GenerateReqInput (its input_ids check every id against the vocabulary).
  nlohmann::json prompts = nlohmann::json::array();
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
      for (const auto& item : *items) {
        nlohmann::json p = item_first ? item : *query;
        for (const auto& x : item_first ? *query : item) p.push_back(x);
        prompts.push_back(std::move(p));
      }
    } else {
      return refuse("Invalid combination of query/items types for score_request.");
    }
  }
  if (prompts.empty()) {
    ex->respond(200, "application/json", dump_json(score_body(json::array(), 0, model)));
    return;
  }
  nlohmann::json gen;
  gen["input_ids"] = std::move(prompts);
  gen["sampling_params"] = {{"max_new_tokens", 0}};
  gen["return_logprob"] = true;
  gen["token_ids_logprob"] = *labels;
  auto call = std::make_shared<GenerateCall>(*this, ex);
  Status st = call->parse(gen);
  if (!st.ok()) {
    if (st.error().code == ErrorCode::kResourceExhausted) {  // a full queue: SGLang's 503
      return respond_error(ex, ApiError::http_exception(503, st.error().message));
    }
    return refuse(st.error().message);
  }
  call->submit(
      std::make_unique<ScoreOutput>(labels->get<std::vector<int64_t>>(), apply_softmax, model));
}

}  // namespace sglang
