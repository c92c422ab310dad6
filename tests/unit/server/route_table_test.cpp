#include "server/route_table.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace sglang {
namespace {

// Records the one response a handler gives.
class RecordingExchange : public http::Exchange {
 public:
  void respond(int code, std::string type, std::string text,
               std::vector<std::pair<std::string, std::string>>) override {
    status = code;
    content_type = std::move(type);
    body = std::move(text);
  }
  void start_stream(int, std::string) override {}
  void send_chunk(std::string) override {}
  void end_stream() override {}
  bool closed() const override { return false; }
  void on_close(std::function<void()>) override {}
  void defer(std::function<void()> fn) override { fn(); }
  int status = 0;
  std::string content_type, body;
};

struct Dispatched {
  int status;
  std::string body;
};

Dispatched dispatch(const RouteTable& t, const std::string& method, const std::string& path) {
  http::Request req;
  req.method = method;
  req.path = path;
  auto ex = std::make_shared<RecordingExchange>();
  t.dispatch(req, ex);
  return {ex->status, ex->body};
}

RouteTable table() {
  RouteTable t;
  auto echo = [](const char* name) {
    return
        [name](const http::Request&, std::shared_ptr<http::Exchange> ex, const std::string& param) {
          ex->respond(200, "text/plain", std::string(name) + ":" + param);
        };
  };
  t.add({"GET"}, "/v1/models", echo("list"));
  t.add({"GET"}, "/v1/models/{model:path}", echo("model"));
  t.add({"GET"}, "/v1/responses/{id}", echo("get"));
  t.add({"POST"}, "/v1/responses/{id}/cancel", echo("cancel"));
  t.add({"POST", "PUT"}, "/generate", echo("generate"));
  return t;
}

TEST(RouteTableTest, MatchesExactPathsAndMethods) {
  const RouteTable t = table();
  EXPECT_EQ(dispatch(t, "GET", "/v1/models").body, "list:");
  EXPECT_EQ(dispatch(t, "PUT", "/generate").body, "generate:");
  EXPECT_EQ(dispatch(t, "POST", "/generate").body, "generate:");
}

TEST(RouteTableTest, PassesParametersAsFastApiDoes) {
  const RouteTable t = table();
  // {name:path} takes slashes (a served model name is often a path).
  EXPECT_EQ(dispatch(t, "GET", "/v1/models/models/SmolLM2").body, "model:models/SmolLM2");
  EXPECT_EQ(dispatch(t, "GET", "/v1/responses/resp_1").body, "get:resp_1");
  EXPECT_EQ(dispatch(t, "POST", "/v1/responses/resp_1/cancel").body, "cancel:resp_1");
  // {id} is one segment, and never empty.
  EXPECT_EQ(dispatch(t, "GET", "/v1/responses/a/b").status, 404);
  EXPECT_EQ(dispatch(t, "GET", "/v1/responses/").status, 404);
}

TEST(RouteTableTest, AnswersFastApisNotFoundAndMethodNotAllowed) {
  const RouteTable t = table();
  const Dispatched missing = dispatch(t, "GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"detail":"Not Found"})");
  const Dispatched wrong = dispatch(t, "GET", "/generate");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.body, R"({"detail":"Method Not Allowed"})");
}

TEST(ApiErrorTest, BodiesInSGLangsShapes) {
  EXPECT_EQ(ApiError::generate("bad").body(), R"({"error":{"message":"bad"}})");
  EXPECT_EQ(ApiError::validation("Field required: prompt").body(),
            R"({"object":"error","message":"Field required: prompt","type":"Bad Request",)"
            R"("param":null,"code":400})");
  EXPECT_EQ(ApiError::http_exception(503, "busy").body(),
            R"({"object":"error","message":"busy","type":"503","param":null,"code":503})");
  EXPECT_EQ(
      ApiError::openai("x", "NotFoundError", 404, "model").body(),
      R"({"object":"error","message":"x","type":"NotFoundError","param":"model","code":404})");
  EXPECT_EQ(ApiError::openai("x").stream_event(),
            "data: {\"error\":{\"object\":\"error\",\"message\":\"x\",\"type\":\"BadRequestError\","
            "\"param\":null,\"code\":400}}\n\n");
}

TEST(ApiErrorTest, OneJsonBodyParser) {
  http::Request req;
  nlohmann::json out;
  req.body = "{";
  EXPECT_EQ(parse_json_body(req, out)->message, "JSON decode error");
  req.body = "[1]";
  EXPECT_EQ(parse_json_body(req, out)->message, "Input should be a valid dictionary or object");
  req.body = R"({"a": 1})";
  EXPECT_FALSE(parse_json_body(req, out).has_value());
  EXPECT_EQ(out["a"], 1);
  auto e = parse_json_body(req, out, {.require_json_content_type = true});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message, "Unsupported Media Type: Only 'application/json' is allowed");
  req.headers.push_back({"content-type", "application/json; charset=utf-8"});
  EXPECT_FALSE(parse_json_body(req, out, {.require_json_content_type = true}).has_value());
}

}  // namespace
}  // namespace sglang
