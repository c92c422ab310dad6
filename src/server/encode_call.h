#pragma once
// One call of the pooled routes (/encode, /classify, /v1/rerank): its requests go to the scheduler
// together, and the response is written once every one of them has finished, on the connection's
// strand. A client that hangs up aborts what is still running.
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/data_parallel_scheduler.h"
#include "engine/scheduler.h"
#include "server/api_error.h"
#include "server/http_server.h"

namespace sglang {

class EncodeCall : public std::enable_shared_from_this<EncodeCall> {
 public:
  struct Item {
    std::string rid;
    std::shared_ptr<RequestStream> stream;
    std::unique_ptr<Request> request;
    std::vector<float> embedding;
    int64_t prompt_tokens = 0, cached_tokens = 0;
    std::optional<FinishReason> finish;
  };
  // The 200 body, once every item finished without error.
  using Format = std::function<nlohmann::ordered_json(const EncodeCall& call)>;
  // The body of the error response (status `code`) for the first item the engine refused.
  using FormatError = std::function<ApiError(const std::string& message, int code)>;

  // `scalar_scores`: the model is a cross-encoder with one label, whose "embedding" SGLang gives
  // as a number (CrossEncodingPooler squeezes the label dimension), not a list.
  EncodeCall(std::shared_ptr<http::Exchange> ex, std::string weight_version, bool scalar_scores,
             Format format, FormatError format_error);

  // Adds one prompt (an embedding request: prefill only) after checking it as the scheduler will;
  // on error nothing is added and the message is SGLang's.
  Status add(DataParallelScheduler& scheduler, std::string rid, std::vector<int32_t> prompt,
             std::vector<int32_t> token_type_ids = {});
  // Submits every item; the response follows when the last one finishes.
  void submit(DataParallelScheduler& scheduler);

  const std::vector<Item>& items() const { return items_; }
  // SGLang's meta_info of a pooled request.
  nlohmann::ordered_json meta_info(const Item& it) const;
  // Its "embedding": the pooled vector, or the single score as a number (scalar_scores).
  nlohmann::ordered_json embedding(const Item& it) const;

 private:
  void drain();

  std::shared_ptr<http::Exchange> ex_;
  std::string weight_version_;
  bool scalar_scores_;
  Format format_;
  FormatError format_error_;
  std::vector<Item> items_;
  std::chrono::steady_clock::time_point start_;
  double latency_ = 0;
  bool done_ = false;
};

}  // namespace sglang
