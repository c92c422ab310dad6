// POST /v1/embeddings as SGLang's OpenAIServingEmbedding (entrypoints/openai/
// serving_embedding.py, v0.5.5) on an embedding server (--is-embedding): input as a string, a
// list of strings, token ids or a list of token-id lists, through the same pooled requests as
// /encode (EncodeCall); an EmbeddingResponse {"data": [{"embedding", "index", "object"}], "model",
// "object": "list", "usage"}.
#include "server/api_server.h"
#include "server/encode_call.h"
#include "server/openai_common.h"
#include "util/logging.h"

namespace sglang {

namespace {

using json = nlohmann::ordered_json;

// OpenAI's encoding_format "base64": the float32 values' little-endian bytes in base64 (SGLang
// 0.5.5 always answers floats; the openai SDK asks for base64 by default and decodes either).
std::string base64_floats(const std::vector<float>& v) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());
  const size_t n = v.size() * sizeof(float);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t a = bytes[i];
    const uint32_t b = i + 1 < n ? bytes[i + 1] : 0;
    const uint32_t c = i + 2 < n ? bytes[i + 2] : 0;
    const uint32_t triple = (a << 16) | (b << 8) | c;
    out += kAlphabet[(triple >> 18) & 63];
    out += kAlphabet[(triple >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(triple >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[triple & 63] : '=';
  }
  return out;
}

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\n\r\f\v") == std::string::npos;
}

}  // namespace

void ApiServer::openai_embeddings(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return respond_error(ex, *e);
  }
  RequestFields f(body);
  f.string("model");
  f.string("user");
  const std::string encoding = f.string("encoding_format").value_or("float");
  if (encoding != "float" && encoding != "base64") {
    f.fail("encoding_format must be 'float' or 'base64', got '" + encoding + "'");
  }
  f.refuse_unless_default("dimensions", nullptr, "Matryoshka dimensions");
  refuse_priority(f);
  if (!body.contains("input")) f.fail("Field required: input");
  if (f.error()) return respond_error(ex, ApiError::validation(*f.error()));
  const nlohmann::json& input = body["input"];
  auto refuse = [&](const std::string& m) { respond_error(ex, ApiError::openai(m)); };
  if (!is_embedding_) {
    return refuse(
        "This model does not appear to be an embedding model by default. Please add "
        "`--is-embedding` when launching the server or try another model.");
  }
  // SGLang's _validate_request, then the input's shape.
  std::vector<std::vector<int32_t>> prompts;
  if (input.is_null() || (input.is_string() && input.get<std::string>().empty()) ||
      (input.is_array() && input.empty())) {
    return refuse("Input cannot be empty");
  }
  if (!tokenizer_ && (input.is_string() || input[0].is_string())) {
    return refuse("text input needs a tokenizer.");
  }
  if (input.is_string()) {
    if (blank(input.get<std::string>())) return refuse("Input cannot be empty or whitespace only");
    prompts.push_back(tokenizer_->encode(input.get<std::string>(), true));
  } else if (input.is_array() && input[0].is_string()) {
    for (size_t i = 0; i < input.size(); ++i) {
      if (!input[i].is_string()) return refuse("All items in input list must be strings");
      if (blank(input[i].get<std::string>())) {
        return refuse("Input at index " + std::to_string(i) +
                      " cannot be empty or whitespace only");
      }
    }
    for (const auto& s : input) prompts.push_back(tokenizer_->encode(s.get<std::string>(), true));
  } else if (input.is_array() && input[0].is_number_integer()) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < input.size(); ++i) {
      if (!input[i].is_number_integer()) return refuse("All items in input list must be integers");
      const int64_t v = input[i].get<int64_t>();
      if (v < 0) return refuse("Token ID at index " + std::to_string(i) + " must be non-negative");
      if (v >= vocab_size_) {
        return refuse("The input_ids " + input.dump() +
                      " contains values greater than the vocab size (" +
                      std::to_string(vocab_size_) + ").");
      }
      ids.push_back(static_cast<int32_t>(v));
    }
    prompts.push_back(std::move(ids));
  } else if (input.is_array() && input[0].is_array()) {
    for (const auto& l : input) {
      std::vector<int32_t> ids;
      if (!l.is_array() || l.empty()) return refuse("Input cannot be empty");
      for (const auto& x : l) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= vocab_size_) {
          return refuse("input must be token ids in [0, " + std::to_string(vocab_size_) + ")");
        }
        ids.push_back(x.get<int32_t>());
      }
      prompts.push_back(std::move(ids));
    }
  } else if (input.is_array() && input[0].is_object()) {
    return refuse(
        "Multimodal embedding inputs are not supported yet: this server serves text models only.");
  } else {
    return respond_error(
        ex, ApiError::validation(
                "Input should be a valid string, list of strings or token ids: input"));
  }
  std::string version;
  {
    std::lock_guard lock(weight_version_mu_);
    version = weight_version_;
  }
  const bool base64 = encoding == "base64";
  const std::string model_path = args_.model_path;
  auto call = std::make_shared<EncodeCall>(
      ex, version, cross_encoder_labels_ == 1,
      [base64, model_path](const EncodeCall& c) {
        json data = json::array();
        int64_t prompt_tokens = 0;
        for (size_t i = 0; i < c.items().size(); ++i) {
          const auto& it = c.items()[i];
          json o;
          o["embedding"] = base64 ? json(base64_floats(it.embedding)) : c.embedding(it);
          o["index"] = i;
          o["object"] = "embedding";
          data.push_back(std::move(o));
          prompt_tokens += it.prompt_tokens;
        }
        json r;
        r["data"] = std::move(data);
        r["model"] = model_path;  // as SGLang: tokenizer_manager.model_path
        r["object"] = "list";
        r["usage"] = {{"prompt_tokens", prompt_tokens},
                      {"total_tokens", prompt_tokens},
                      {"completion_tokens", 0},
                      {"prompt_tokens_details", nullptr},
                      {"reasoning_tokens", 0}};
        return r;
      },
      [](const std::string& message, int code) {
        // As engine_abort_error (openai_common.h).
        return ApiError::openai(message, code == 400 ? "BadRequestError" : "InternalServerError",
                                code);
      });
  for (auto& prompt : prompts) {
    Status st = call->add(*scheduler_, next_rid(), std::move(prompt));
    if (!st.ok()) return refuse(st.error().message);
  }
  call->submit(*scheduler_);
}

}  // namespace sglang
