#pragma once
// SGLang's native HTTP API over the engine (python/sglang/srt/entrypoints/http_server.py): routes,
// request parsing with SGLang's field names and defaults, responses with SGLang's keys, errors in
// SGLang's shapes and status codes. HTTP threads parse, tokenize and format; only the scheduler
// thread touches the model and the caches.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "engine/data_parallel_scheduler.h"
#include "engine/expert_distribution_recorder.h"
#include "engine/scheduler.h"
#include "kernels/backend.h"
#include "model/causal_lm.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_common.h"
#include "server/response_store.h"
#include "server/route_table.h"
#include "server/server_args.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace sglang {

class ApiServer {
 public:
  // Loads the model and tokenizer named by `args` onto `backend` and starts the scheduler.
  // With --dp-size N > 1, `replica_backend` makes the backend of each further replica (its share
  // of the cores; `backend` is the first replica's).
  using BackendFactory = std::function<std::unique_ptr<Backend>()>;
  static Result<std::unique_ptr<ApiServer>> create(ServerArgs args, Backend& backend,
                                                   BackendFactory replica_backend = nullptr);
  ~ApiServer();

  // The HTTP handler serving every route.
  void handle(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  // SIGTERM: refuse new work (health turns 503), abort what runs, stop the scheduler.
  void shutdown();
  const ServerArgs& args() const { return args_; }

 private:
  ApiServer(ServerArgs args, Backend& backend) : args_(std::move(args)), backend_(backend) {}
  Status load();

  // Routes (one function each; the generate family lives in generate_route.cpp).
  void generate(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void encode(const http::Request& req, std::shared_ptr<http::Exchange> ex);  // and /classify
  void rerank(const http::Request& req, std::shared_ptr<http::Exchange> ex);  // rerank_route.cpp
  void score(const http::Request& req, std::shared_ptr<http::Exchange> ex);   // score_route.cpp
  // OpenAI routes, one file each (openai_*_route.cpp).
  void openai_completions(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void openai_chat_completions(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void openai_embeddings(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void retrieve_model(const std::string& model, std::shared_ptr<http::Exchange> ex);
  // /parse_function_call, /separate_reasoning (parser_routes.cpp).
  void parse_function_call(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void separate_reasoning(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  Status load_chat_template();  // openai_chat_route.cpp
  // Dumped chat messages rendered by the chat template and tokenized (openai_chat_route.cpp); an
  // error is the message of SGLang's 400.
  Result<std::vector<int32_t>> chat_prompt_ids(const GenerateCall::json& messages,
                                               const ChatPromptOptions& options) const;
  // /v1/responses, GET /v1/responses/{id}, POST /v1/responses/{id}/cancel
  // (openai_responses_route.cpp).
  void openai_responses(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void openai_retrieve_response(const std::string& id, std::shared_ptr<http::Exchange> ex);
  void openai_cancel_response(const std::string& id, std::shared_ptr<http::Exchange> ex);
  void model_info(std::shared_ptr<http::Exchange> ex);
  void server_info(std::shared_ptr<http::Exchange> ex);
  void health(const http::Request& req, std::shared_ptr<http::Exchange> ex, bool generate);
  void flush_cache(std::shared_ptr<http::Exchange> ex);
  void get_load(std::shared_ptr<http::Exchange> ex);  // for sglang-router's load-aware policies
  void update_weights_from_disk(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void tokenize(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void detokenize(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void abort_request(const http::Request& req, std::shared_ptr<http::Exchange> ex);
  void list_models(std::shared_ptr<http::Exchange> ex);
  void metrics(std::shared_ptr<http::Exchange> ex);
  // /start_, /stop_, /dump_expert_distribution_record (expert_distribution_route.cpp).
  void expert_distribution(const std::string& path, std::shared_ptr<http::Exchange> ex);
  Status init_expert_recorder();  // --expert-distribution-recorder-mode

  bool authorized(const http::Request& req) const;
  void register_routes();  // the route table, in api_server.cpp
  std::string next_rid();

  ServerArgs args_;
  Backend& backend_;
  std::unique_ptr<CausalLM> model_;
  std::unique_ptr<CausalLM> retired_model_;  // the previous weights, kept until the next update
  // --dp-size: the replicas after the first, each with its backend and its own model instance
  // (declared before scheduler_, so the schedulers stop before these go).
  BackendFactory replica_backend_;
  std::vector<std::unique_ptr<Backend>> replica_backends_;
  std::vector<std::unique_ptr<CausalLM>> replica_models_;
  std::unique_ptr<Tokenizer> tokenizer_;
  TokenizerConfig tokenizer_config_;
  nlohmann::ordered_json hf_config_;   // config.json of the served model
  std::optional<DType> weight_dtype_;  // --dtype (unset: auto), also for weight updates
  std::unique_ptr<DataParallelScheduler> scheduler_;
  std::unique_ptr<ExpertDistributionRecorder> recorder_;  // null without the mode flag
  std::mutex weights_mu_;                                 // one weight update at a time
  std::string weight_version_;
  int64_t vocab_size_ = 0;
  // SGLang's !is_generation: --is-embedding, or a model that cannot generate (an encoder).
  bool is_embedding_ = false;
  int64_t cross_encoder_labels_ = 0;  // num_labels of a cross-encoder (/v1/rerank), else 0
  int64_t kv_bytes_per_token_ = 0;
  std::mutex weight_version_mu_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> rid_counter_{0};
  std::shared_ptr<const chat::ChatTemplate> chat_template_;      // null: none, or one that failed
  std::shared_ptr<const chat::ChatTemplate> tool_use_template_;  // the "tool_use" one, if any
  std::string chat_template_error_;  // why the tokenizer's template cannot be used
  bool force_reasoning_ = false;     // the template pre-fills <think> (SGLang's TemplateManager)
  Metrics metrics_;
  ResponseStore responses_;  // /v1/responses with store (and background ones while they run)
  RouteTable routes_;
  friend class GenerateCall;
};

}  // namespace sglang
