#include "server/api_error.h"
#include "util/json_nesting.h"

namespace sglang {

ApiError ApiError::generate(std::string message, int status) {
  return ApiError{status, Shape::kGenerate, std::move(message), "", std::nullopt};
}

ApiError ApiError::validation(std::string message) {
  return ApiError{400, Shape::kOpenAI, std::move(message), "Bad Request", std::nullopt};
}

ApiError ApiError::http_exception(int status, std::string message) {
  return ApiError{status, Shape::kOpenAI, std::move(message), std::to_string(status), std::nullopt};
}

ApiError ApiError::openai(std::string message, std::string type, int status,
                          std::optional<std::string> param) {
  return ApiError{status, Shape::kOpenAI, std::move(message), std::move(type), std::move(param)};
}

ApiError ApiError::responses(std::string message, std::string type, int status,
                             std::optional<std::string> param) {
  return ApiError{status, Shape::kResponses, std::move(message), std::move(type), std::move(param)};
}

ApiError ApiError::not_found() {
  return ApiError{404, Shape::kDetail, "Not Found", "", {}};
}

ApiError ApiError::method_not_allowed() {
  return ApiError{405, Shape::kDetail, "Method Not Allowed", "", {}};
}

ApiError ApiError::plain(int status, std::string text) {
  return ApiError{status, Shape::kPlain, std::move(text), "", {}};
}

std::string ApiError::body() const {
  nlohmann::ordered_json j;
  switch (shape) {
    case Shape::kGenerate:
      j["error"] = {{"message", message}};
      break;
    case Shape::kOpenAI:
      j["object"] = "error";
      j["message"] = message;
      j["type"] = type;
      j["param"] = param ? nlohmann::ordered_json(*param) : nlohmann::ordered_json(nullptr);
      j["code"] = status;
      break;
    case Shape::kResponses:
      j["error"] = {
          {"message", message},
          {"type", type},
          {"param", param ? nlohmann::ordered_json(*param) : nlohmann::ordered_json(nullptr)},
          {"code", status}};
      break;
    case Shape::kDetail:
      j["detail"] = message;
      break;
    case Shape::kPlain:
      return message;
  }
  return dump_json(j);
}

std::string ApiError::stream_event() const {
  if (shape == Shape::kResponses) return "data: " + body() + "\n\n";
  nlohmann::ordered_json j;
  j["error"] = nlohmann::ordered_json::parse(body());
  return "data: " + dump_json(j) + "\n\n";
}

std::string ApiError::content_type() const {
  return shape == Shape::kPlain ? "text/plain; charset=utf-8" : "application/json";
}

ApiError refused_generation_error(const Error& error) {
  if (error.code == ErrorCode::kResourceExhausted) {
    return ApiError::http_exception(503, error.message);
  }
  return ApiError::generate(error.message);
}

void respond_error(http::Exchange& ex, const ApiError& error) {
  ex.respond(error.status, error.content_type(), error.body());
}

std::optional<ApiError> parse_json_body(const http::Request& req, nlohmann::json& out,
                                        JsonBodyOptions options) {
  if (options.require_json_content_type) {
    std::string ct = req.header("content-type");
    ct = ct.substr(0, ct.find(';'));
    while (!ct.empty() && ct.back() == ' ') ct.pop_back();
    if (ct != "application/json") {
      return ApiError::validation("Unsupported Media Type: Only 'application/json' is allowed");
    }
  }
  if (!json_nesting_within(req.body)) {
    return ApiError::validation("JSON decode error: arrays and objects nest deeper than " +
                                std::to_string(kMaxJsonNesting) + " levels");
  }
  out = nlohmann::json::parse(req.body, nullptr, false);
  if (out.is_discarded()) return ApiError::validation("JSON decode error");
  if (!out.is_object()) return ApiError::validation("Input should be a valid dictionary or object");
  return std::nullopt;
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dump_json(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace sglang
