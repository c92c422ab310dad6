#include "server/response_store.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace sglang {
namespace {

ResponseStore::Entry entry(const std::string& status) {
  return {ResponseStore::json{{"status", status}}, ResponseStore::json::array()};
}

TEST(ResponseStore, KeepsTheNewestAndForgetsTheOldest) {
  ResponseStore store(2);
  store.put("resp_a", entry("completed"));
  store.put("resp_b", entry("completed"));
  store.put("resp_c", entry("completed"));
  EXPECT_EQ(store.size(), 2u);
  EXPECT_FALSE(store.get("resp_a"));
  EXPECT_TRUE(store.get("resp_b"));
  EXPECT_TRUE(store.get("resp_c"));
}

TEST(ResponseStore, PutAgainReplacesAndMakesItTheNewest) {
  ResponseStore store(2);
  store.put("resp_a", entry("in_progress"));
  store.put("resp_b", entry("completed"));
  store.put("resp_a", entry("completed"));
  store.put("resp_c", entry("completed"));
  EXPECT_FALSE(store.get("resp_b"));
  ASSERT_TRUE(store.get("resp_a"));
  EXPECT_EQ(store.get("resp_a")->response["status"], "completed");
}

TEST(ResponseStore, UpdateChangesTheStoredEntryOnly) {
  ResponseStore store;
  store.put("resp_a", entry("in_progress"));
  EXPECT_TRUE(
      store.update("resp_a", [](ResponseStore::Entry& e) { e.response["status"] = "cancelled"; }));
  EXPECT_EQ(store.get("resp_a")->response["status"], "cancelled");
  EXPECT_FALSE(store.update("resp_b", [](ResponseStore::Entry&) { FAIL(); }));
}

TEST(ApiError, ResponsesErrorsAreNested) {
  const ApiError e = ApiError::responses("Response with id 'resp_x' not found.",
                                         "invalid_request_error", 404, "response_id");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.body(), R"({"error":{"message":"Response with id 'resp_x' not found.",)"
                      R"("type":"invalid_request_error","param":"response_id","code":404}})");
  EXPECT_EQ(e.stream_event(), "data: " + e.body() + "\n\n");
}

}  // namespace
}  // namespace sglang
