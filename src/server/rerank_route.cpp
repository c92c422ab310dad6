// POST /v1/rerank (SGLang's OpenAIServingRerank, entrypoints/openai/serving_rerank.py): a query and
// documents in (V1RerankReqInput), each [query, document] pair tokenized as a text pair through the
// tokenizer's post-processor (`<s> q </s></s> d </s>` for XLM-R, with token_type_ids) and scored by
// the cross-encoder; out, a list sorted by score, highest first, of
//   {"score", "document", "index", "meta_info"}.
// top_n and return_documents follow later SGLang releases: at most top_n items; no "document" key
// when return_documents is false.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_server.h"
#include "server/encode_call.h"

namespace sglang {
namespace {

// Python's str.isspace() for one code point (what str.strip() removes).
bool python_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// True when `s` is empty after Python's str.strip() (every code point is whitespace).
bool blank(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    const int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : 4;
    if (i + static_cast<size_t>(len) > s.size()) return false;
    uint32_t c = len == 1 ? b : b & (0x7F >> len);
    for (int k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (!python_space(c)) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

}  // namespace

void ApiServer::rerank(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return respond_error(ex, *e);
  }
  // The request model's field checks (pydantic), then the handler's (_validate_request), each in
  // SGLang's error shape.
  auto invalid = [&](const std::string& m) { respond_error(ex, ApiError::validation(m)); };
  auto refuse = [&](const std::string& m) { respond_error(ex, ApiError::openai(m)); };
  if (!body.is_object()) return invalid("Input should be a valid dictionary or object");
  if (!body.contains("query")) return invalid("Field required: query");
  if (!body["query"].is_string()) return invalid("Input should be a valid string: query");
  if (!body.contains("documents")) return invalid("Field required: documents");
  const nlohmann::json& docs = body["documents"];
  if (!docs.is_array()) return invalid("Input should be a valid list: documents");
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].is_string()) {
      return invalid("Input should be a valid string: documents." + std::to_string(i));
    }
  }
  std::optional<int64_t> top_n;
  if (body.contains("top_n") && !body["top_n"].is_null()) {
    if (!body["top_n"].is_number_integer())
      return invalid("Input should be a valid integer: top_n");
    top_n = body["top_n"].get<int64_t>();
    if (*top_n < 1) return invalid("Value error, parameter top_n should be larger than 0.");
  }
  bool return_documents = true;
  if (body.contains("return_documents") && !body["return_documents"].is_null()) {
    if (!body["return_documents"].is_boolean()) {
      return invalid("Input should be a valid boolean: return_documents");
    }
    return_documents = body["return_documents"].get<bool>();
  }
  const std::string query = body["query"].get<std::string>();
  if (query.empty()) return refuse("Query cannot be empty");
  if (blank(query)) return refuse("Query cannot be empty or whitespace only");
  if (docs.empty()) return refuse("Documents cannot be empty");
  std::vector<std::string> documents;
  for (const auto& d : docs) {
    documents.push_back(d.get<std::string>());
    if (documents.back().empty()) return refuse("Each document must be a non-empty string");
    if (blank(documents.back())) return refuse("Each document cannot be empty or whitespace only");
  }

  // What the model can do (SGLang's tokenizer manager refuses embedding requests on a generation
  // model with this message).
  if (!is_embedding_) {
    return refuse(
        "This model does not appear to be an embedding model by default. Please add "
        "`--is-embedding` when launching the server or try another model.");
  }
  if (cross_encoder_labels_ != 1) {
    return refuse(
        "This model does not support rerank: /v1/rerank needs a cross-encoder with one "
        "label (e.g. XLMRobertaForSequenceClassification), not " +
        hf_config_.value("architectures", nlohmann::ordered_json::array()).dump() +
        (cross_encoder_labels_ > 1 ? " with " + std::to_string(cross_encoder_labels_) + " labels"
                                   : "") +
        ".");
  }
  if (!tokenizer_) return refuse("texts cannot be empty and tokenizer must be initialized");

  std::string version;
  {
    std::lock_guard lock(weight_version_mu_);
    version = weight_version_;
  }
  auto call = std::make_shared<EncodeCall>(
      ex, version, /*scalar_scores=*/true,
      [documents, top_n, return_documents](const EncodeCall& c) {
        // Highest score first; equal scores keep the documents' order (Python's stable sort).
        std::vector<size_t> order(c.items().size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        auto score = [&](size_t i) { return c.items()[i].embedding.at(0); };
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return score(a) > score(b); });
        if (top_n && static_cast<size_t>(*top_n) < order.size()) {
          order.resize(static_cast<size_t>(*top_n));
        }
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (size_t i : order) {
          nlohmann::ordered_json o;
          o["score"] = score(i);
          if (return_documents) o["document"] = documents[i];
          o["index"] = i;
          o["meta_info"] = c.meta_info(c.items()[i]);
          list.push_back(std::move(o));
        }
        return list;
      },
      [](const std::string& message, int code) {
        return ApiError::openai(message, "BadRequestError", code);
      });
  for (const std::string& doc : documents) {
    std::vector<int32_t> types;
    std::vector<int32_t> ids = tokenizer_->encode_pair(query, doc, true, &types);
    Status st = call->add(*scheduler_, next_rid(), std::move(ids), std::move(types));
    if (!st.ok()) return refuse(st.error().message);
  }
  call->submit(*scheduler_);
}

}  // namespace sglang
