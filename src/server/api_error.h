#pragma once
// Every error a route answers with, and the one function that turns it into SGLang's body. SGLang
// answers in four shapes, depending on where the error arises:
// - kGenerate: {"error": {"message": ...}} — a ValueError of the native generate family
//   (http_server.py's _create_error_response);
// - kOpenAI: {"object": "error", "message", "type", "param", "code"} — OpenAI routes
//   (serving_base.create_error_response), request validation (type "Bad Request") and an
//   HTTPException (type "<status>");
// - kResponses: {"error": {"message", "type", "param", "code"}} — everything under /v1/responses
//   (serving_responses.create_error_response, and http_server.py's exception handlers, which nest
//   the error for that path);
// - kDetail: {"detail": ...} — FastAPI's own 404 / 405;
// - kPlain: a text/plain body (the health routes and /flush_cache answer with text).
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/http_server.h"

namespace sglang {

struct ApiError {
  enum class Shape { kGenerate, kOpenAI, kResponses, kDetail, kPlain };
  int status = 400;
  Shape shape = Shape::kOpenAI;
  std::string message;
  std::string type;  // OpenAI's "type" (kOpenAI only)
  std::optional<std::string> param;

  // A ValueError of /generate, /encode, ...: {"error": {"message"}}.
  static ApiError generate(std::string message, int status = 400);
  // Request validation (bad JSON, a missing or mistyped field): type "Bad Request", 400.
  static ApiError validation(std::string message);
  // An HTTPException raised with `status`: type "<status>".
  static ApiError http_exception(int status, std::string message);
  // An OpenAI route's error: SGLang's create_error_response(message, err_type, status_code, param).
  static ApiError openai(std::string message, std::string type = "BadRequestError",
                         int status = 400, std::optional<std::string> param = std::nullopt);
  // An error of /v1/responses: the nested envelope. Validation errors there have type "Bad
  // Request"; OpenAIServingResponses' own default type is "invalid_request_error".
  static ApiError responses(std::string message, std::string type = "invalid_request_error",
                            int status = 400, std::optional<std::string> param = std::nullopt);
  static ApiError not_found();                          // {"detail": "Not Found"}, 404
  static ApiError method_not_allowed();                 // {"detail": "Method Not Allowed"}, 405
  static ApiError plain(int status, std::string text);  // a text/plain body

  std::string body() const;
  // The error as an SSE event of an OpenAI stream (SGLang's create_streaming_error_response):
  // data: {"error": {"object": "error", "message", "type", "param", "code"}}; a kResponses error
  // is its own body, data: {"error": {"message", "type", "param", "code"}}.
  std::string stream_event() const;
  std::string content_type() const;
};

// A generation the engine refused before queueing it (GenerateCall::parse): SGLang's ValueError
// (400, {"error": {"message"}}), or for a full queue its HTTPException 503 "The request queue is
// full." (kResourceExhausted).
ApiError refused_generation_error(const Error& error);

// The one way a route answers with an error.
void respond_error(http::Exchange& ex, const ApiError& error);
inline void respond_error(const std::shared_ptr<http::Exchange>& ex, const ApiError& error) {
  respond_error(*ex, error);
}

// The one JSON-body parser of every route. `require_json_content_type`: as SGLang's
// validate_json_request on the OpenAI-style routes. The body must be a JSON object; otherwise the
// error is SGLang's validation error ("JSON decode error", "Input should be a valid dictionary or
// object", "Unsupported Media Type: ...").
struct JsonBodyOptions {
  bool require_json_content_type = false;
};
std::optional<ApiError> parse_json_body(const http::Request& req, nlohmann::json& out,
                                        JsonBodyOptions options = {});

// JSON text of a response: invalid UTF-8 in strings becomes U+FFFD instead of an exception.
std::string dump_json(const nlohmann::json& j);
std::string dump_json(const nlohmann::ordered_json& j);

}  // namespace sglang
