// POST /encode and /classify on an embedding server (--is-embedding, or a model that cannot
// generate): SGLang's EmbeddingReqInput in (text or input_ids, single or a list),
// {"embedding": ..., "meta_info": {...}} out (a list for a batch). A decoder embedding model
// answers with its normalised last-token hidden state; a reward model (*ForSequenceClassification)
// with its score head's outputs, so embedding[0] is the reward; a one-label cross-encoder
// (XLMRobertaForSequenceClassification) with its score as a number, as SGLang's
// CrossEncodingPooler squeezes the label dimension.
#include <memory>
#include <string>
#include <vector>

#include "server/api_server.h"
#include "server/encode_call.h"
#include "util/logging.h"

namespace sglang {

void ApiServer::encode(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body)) return respond_error(ex, *e);
  auto bad = [&](const std::string& m) {
    SGLANG_LOG_ERROR("[http_server] Error: {}", m);
    respond_error(ex, ApiError::generate(m));
  };
  if (!is_embedding_) {
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
  auto call = std::make_shared<EncodeCall>(
      ex, version, cross_encoder_labels_ == 1,
      [batch](const EncodeCall& c) {
        auto one = [&](const EncodeCall::Item& it) {
          nlohmann::ordered_json o;
          o["embedding"] = c.embedding(it);
          o["meta_info"] = c.meta_info(it);
          return o;
        };
        if (!batch) return one(c.items()[0]);
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const auto& it : c.items()) list.push_back(one(it));
        return list;
      },
      [](const std::string& message, int) { return ApiError::generate(message); });
  for (auto& prompt : prompts) {
    Status st = call->add(*scheduler_, next_rid(), std::move(prompt));
    if (!st.ok()) return bad(st.error().message);
  }
  call->submit(*scheduler_);
}

}  // namespace sglang
