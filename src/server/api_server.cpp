#include "server/api_server.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string_view>
#include <thread>

#include "chat/function_call/function_call_parser.h"
#include "chat/reasoning_parser.h"
#include "model/gguf_model.h"
#include "server/api_error.h"
#include "tokenizer/gguf_tokenizer.h"
#include "util/logging.h"
#include "util/progress_bar.h"

namespace sglang {

using json = nlohmann::ordered_json;

namespace {

// The SGLang release whose native API this server mirrors (reported as "version").
constexpr const char* kSGLangApiVersion = "0.5.5";
constexpr const char* kSGLangCppVersion = "0.1.0";

constexpr const char* kNotGenerationModel =
    "This model does not appear to be a generation model. Use /encode (the server was launched "
    "with --is-embedding).";

constexpr const char* kFlushMessage =
    "Cache flushed.\nPlease check backend logs for more details. (When there are running or "
    "waiting requests, the operation will not be performed.)\n";

// SGLang's HEALTH_CHECK_TIMEOUT (seconds): a scheduler without progress for longer is unhealthy.
constexpr double kHealthCheckTimeoutS = 20;

// Runs blocking work (weight loading, waiting on the scheduler) off the I/O threads.
template <typename F>
void run_blocking(F&& f) {
  std::thread(std::forward<F>(f)).detach();
}

}  // namespace

ApiServer::~ApiServer() {
  if (scheduler_) scheduler_->stop();
}

Result<std::unique_ptr<ApiServer>> ApiServer::create(ServerArgs args, Backend& backend,
                                                     BackendFactory replica_backend) {
  std::unique_ptr<ApiServer> s(new ApiServer(std::move(args), backend));
  s->replica_backend_ = std::move(replica_backend);
  SGLANG_RETURN_IF_ERROR(s->load());
  return s;
}

Status ApiServer::load() {
  const std::string model_path = args_.model_path;
  const std::string load_format = args_.load_format;
  if (load_format != "auto") {
    SGLANG_ASSIGN_OR_RETURN(std::string gguf, find_gguf_file(model_path));
    if (load_format != "gguf" && load_format != "safetensors") {
      return make_error(
          ErrorCode::kInvalidArgument,
          "--load-format " + load_format + " is not supported (auto, safetensors, gguf)");
    }
    if ((load_format == "gguf") != !gguf.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--load-format " + load_format + " does not match " + model_path +
                            (gguf.empty() ? " (no GGUF file there)" : " (a GGUF model)"));
    }
  }
  SGLANG_ASSIGN_OR_RETURN(hf_config_, read_hf_config(model_path));
  SGLANG_ASSIGN_OR_RETURN(weight_dtype_, parse_weight_dtype(args_.dtype));
  {
    constexpr double kGiB = 1 << 30;
    const size_t avail_before = backend_.available_memory_bytes();
    SGLANG_LOG_INFO("Load weight begin. avail mem={:.2f} GB", avail_before / kGiB);
    const auto t0 = std::chrono::steady_clock::now();
    ProgressBar bar("Loading weights", "tensors");
    LoadOptions options;
    options.weight_dtype = weight_dtype_;
    options.quantization = args_.quantization.value_or("");
    options.progress = [&bar](size_t done, size_t total) { bar.update(done, total); };
    auto loaded = load_causal_lm(model_path, backend_, options);
    if (!loaded.ok()) return loaded.error();
    bar.finish();
    model_ = std::move(*loaded);
    const size_t avail_after = backend_.available_memory_bytes();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double used = avail_before > avail_after ? (avail_before - avail_after) / kGiB : 0.0;
    SGLANG_LOG_INFO(
        "Load weight end. elapsed={:.2f} s, type={}, dtype={}, avail mem={:.2f} GB, "
        "mem usage={:.2f} GB.",
        elapsed, model_->config().architecture_name, args_.dtype, avail_after / kGiB, used);
  }
  SGLANG_RETURN_IF_ERROR(init_expert_recorder());
  if (!args_.skip_tokenizer_init) {
    // A GGUF model carries its tokenizer in its metadata (--tokenizer-path defaults to the model).
    const std::string tokenizer_path = args_.tokenizer_path;
    SGLANG_ASSIGN_OR_RETURN(std::string tokenizer_gguf, find_gguf_file(tokenizer_path));
    SGLANG_ASSIGN_OR_RETURN(LoadedTokenizer t, tokenizer_gguf.empty()
                                                   ? load_tokenizer_from_dir(tokenizer_path)
                                                   : load_tokenizer_from_gguf(tokenizer_gguf));
    tokenizer_ = std::move(t.tokenizer);
    tokenizer_config_ = std::move(t.config);
    SGLANG_RETURN_IF_ERROR(load_chat_template());
  }
  if (args_.tool_call_parser) {
    auto p = chat::FunctionCallParser::create(*args_.tool_call_parser, {});
    if (!p.ok())
      return make_error(ErrorCode::kInvalidArgument, "--tool-call-parser: " + p.error().message);
  }
  if (args_.reasoning_parser) {
    auto p = chat::ReasoningParser::create(*args_.reasoning_parser);
    if (!p.ok())
      return make_error(ErrorCode::kInvalidArgument, "--reasoning-parser: " + p.error().message);
  }
  weight_version_ = args_.weight_version;
  vocab_size_ = model_->config().vocab_size;
  SchedulerConfig sc;
  {
    SGLANG_ASSIGN_OR_RETURN(std::string gguf_file, find_gguf_file(model_path));
    sc.kv_cache_dtype =
        resolve_kv_cache_dtype(args_.kv_cache_dtype, weight_dtype_, !gguf_file.empty(),
                               model_->config().torch_dtype, model_->config().causal);
    KvCacheShape shape = model_->kv_cache_shape();
    shape.dtype = sc.kv_cache_dtype;
    kv_bytes_per_token_ = shape.bytes_per_token();
    SGLANG_LOG_INFO("KV cache dtype: {} (--kv-cache-dtype {})", dtype_name(sc.kv_cache_dtype),
                    args_.kv_cache_dtype);
  }
  sc.page_size = args_.page_size;
  sc.max_total_tokens = args_.max_total_tokens.value_or(0);
  sc.mem_fraction_static = args_.mem_fraction_static.value_or(0);
  sc.max_running_requests = args_.max_running_requests.value_or(0);
  sc.max_queued_requests = args_.max_queued_requests.value_or(0);
  sc.watchdog_timeout = args_.watchdog_timeout;
  const int64_t chunk =
      args_.chunked_prefill_size.value_or(cpu_chunked_prefill_size(args_.threads));
  sc.chunked_prefill_size = chunk < 0 ? 0 : chunk;
  sc.enable_mixed_chunk = !args_.disable_mixed_chunk;  // the CPU's default (server_args.h)
  // SGLANG_MIXED_CHUNK_PREFILL_SIZE=N (ours, SchedulerConfig::mixed_chunk_prefill_size): with
  // mixed chunks, a step carrying decodes holds at most N tokens; unset, no bound beyond
  // --chunked-prefill-size.
  if (const char* v = std::getenv("SGLANG_MIXED_CHUNK_PREFILL_SIZE")) {
    sc.mixed_chunk_prefill_size = std::max<int64_t>(0, std::atoll(v));
  }
  sc.disable_radix_cache = args_.disable_radix_cache;
  sc.jump_forward = args_.enable_jump_forward;
  sc.schedule_policy =
      args_.schedule_policy == "lpm" ? SchedulePolicy::kLpm : SchedulePolicy::kFcfs;
  sc.schedule_conservativeness = args_.schedule_conservativeness;
  sc.context_length = args_.context_length.value_or(0);
  sc.random_seed = static_cast<uint64_t>(args_.random_seed.value_or(0));
  const ModelConfig& mc = model_->config();
  is_embedding_ = args_.is_embedding || !mc.causal;
  cross_encoder_labels_ = mc.is_cross_encoder() ? mc.num_labels : 0;
  sc.embedding = is_embedding_;
  // --dp-size: one scheduler per replica, each over its own model instance on its own backend
  // (SGLang's DP workers each load the weights), the pool split between them.
  SGLANG_ASSIGN_OR_RETURN(const LoadBalanceMethod lb,
                          parse_load_balance_method(args_.load_balance_method));
  const int64_t dp = std::max<int64_t>(args_.dp_size, 1);
  if (dp > 1 && !replica_backend_) {
    return make_error(ErrorCode::kInvalidArgument, "--dp-size > 1 needs a backend per replica");
  }
  for (int64_t rank = 1; rank < dp; ++rank) {
    replica_backends_.push_back(replica_backend_());
    LoadOptions options;
    options.weight_dtype = weight_dtype_;
    options.quantization = args_.quantization.value_or("");
    auto loaded = load_causal_lm(model_path, *replica_backends_.back(), options);
    if (!loaded.ok()) return loaded.error();
    replica_models_.push_back(std::move(*loaded));
    SGLANG_LOG_INFO("DP{} loaded on {}", rank, replica_backends_.back()->name());
  }
  sc.pool_shares = dp;
  std::vector<std::unique_ptr<Scheduler>> replicas;
  try {
    replicas.push_back(std::make_unique<Scheduler>(*model_, tokenizer_.get(), sc));
    for (auto& m : replica_models_) {
      replicas.push_back(std::make_unique<Scheduler>(*m, tokenizer_.get(), sc));
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, e.what());
  }
  scheduler_ = std::make_unique<DataParallelScheduler>(std::move(replicas), lb);
  // Structured output, as SGLang's create_grammar_backend: every backend name it knows selects our
  // grammar engine (same request fields, same semantics); none, or no tokenizer, disables it.
  if (*args_.grammar_backend != "none" && tokenizer_ && !is_embedding_) {
    if (*args_.grammar_backend != "xgrammar") {
      SGLANG_LOG_INFO(
          "--grammar-backend {}: constrained decoding runs on sglang.cpp's own grammar "
          "engine (xgrammar's semantics).",
          *args_.grammar_backend);
    }
    const Tokenizer* tok = tokenizer_.get();
    std::vector<int32_t> stop_ids(mc.eos_token_ids.begin(), mc.eos_token_ids.end());
    const int64_t vocab = mc.vocab_size;
    GrammarBackendOptions go;
    go.any_whitespace = !args_.constrained_json_disable_any_whitespace;
    for (size_t rank = 0; rank < scheduler_->size(); ++rank) {
      scheduler_->replica(rank).set_grammar_backend(std::make_shared<GrammarBackend>(
          [tok, vocab, stop_ids] {
            return grammar::Vocabulary::from_tokenizer(*tok, vocab, stop_ids);
          },
          go));
    }
  }
  // What SGLang derives at start-up shows in /get_server_info as the value in use.
  // An encoder runs without chunking and prefix cache whatever the flags said (Scheduler).
  args_.chunked_prefill_size = mc.causal ? chunk : -1;
  args_.disable_radix_cache = scheduler_->config().disable_radix_cache;
  args_.enable_mixed_chunk = scheduler_->config().enable_mixed_chunk;
  args_.context_length = scheduler_->context_length();
  args_.max_total_tokens = scheduler_->max_total_tokens();
  args_.max_running_requests = scheduler_->stats().max_running_requests;
  args_.max_queued_requests = scheduler_->max_queued_requests();
  scheduler_->start();
  register_routes();
  return {};
}

std::string ApiServer::next_rid() {
  // SGLang uses uuid4().hex; any unique 32-hex-digit id serves.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng() ^ ++rid_counter_));
  return buf;
}

namespace {

// Compares in time that depends only on the lengths, not on where the strings differ (as
// Python's secrets.compare_digest, which SGLang's auth uses), so a key cannot be guessed byte by
// byte from response times.
bool constant_time_equal(std::string_view a, std::string_view b) {
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

// As SGLang's decide_request_auth: "Authorization: Bearer KEY" (the scheme in any case) or
// "x-api-key: KEY".
bool carries_key(const http::Request& req, const std::string& key) {
  const std::string authz = req.header("authorization");
  const size_t sp = authz.find(' ');
  if (sp != std::string::npos) {
    std::string scheme = authz.substr(0, sp);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme == "bearer" && constant_time_equal(std::string_view(authz).substr(sp + 1), key)) {
      return true;
    }
  }
  const std::string x_api_key = req.header("x-api-key");
  return !x_api_key.empty() && constant_time_equal(x_api_key, key);
}

// SGLang's AuthLevel.ADMIN_OPTIONAL routes among ours: the ones that change the server's state
// for every client (cache, weights, expert recording).
bool is_admin_route(const std::string& path) {
  static const std::vector<std::string> kAdmin = {
      "/flush_cache", "/update_weights_from_disk", "/start_expert_distribution_record",
      "/stop_expert_distribution_record", "/dump_expert_distribution_record"};
  return std::find(kAdmin.begin(), kAdmin.end(), path) != kAdmin.end();
}

}  // namespace

bool ApiServer::authorized(const http::Request& req) const {
  if (req.method == "OPTIONS") return true;
  // As SGLang's API-key middleware: health checks, readiness and metrics stay open (probes and
  // Prometheus scrapers carry no secrets).
  for (const char* open : {"/health", "/ready", "/metrics"}) {
    if (req.path.rfind(open, 0) == 0) return true;
  }
  // Admin routes: the admin key when one is set (the plain key is not enough then), else the
  // plain key; other routes: the plain key, whatever the admin key.
  if (is_admin_route(req.path) && args_.admin_api_key) {
    return carries_key(req, *args_.admin_api_key);
  }
  if (!args_.api_key) return true;
  return carries_key(req, *args_.api_key);
}

void ApiServer::shutdown() {
  shutting_down_ = true;
  if (scheduler_) scheduler_->stop();
}

void ApiServer::register_routes() {
  // The one route table: SGLang's http_server.py routes (and its OpenAI routes), with their
  // methods.
  using Ex = std::shared_ptr<http::Exchange>;
  using R = const http::Request&;
  const std::vector<std::string> kGet = {"GET"}, kPost = {"POST"}, kGetPost = {"GET", "POST"},
                                 kPutPost = {"POST", "PUT"};
  auto deprecated = [](const char* old_path, const char* new_path) {
    SGLANG_LOG_WARN(
        "Endpoint '{}' is deprecated and will be removed in a future version. Please use '{}' "
        "instead.",
        old_path, new_path);
  };
  RouteTable& t = routes_;
  t.add(kPutPost, "/generate", [this](R req, Ex ex, auto&) {
    if (is_embedding_) {
      return respond_error(ex, ApiError::generate(kNotGenerationModel));
    }
    generate(req, ex);
  });
  t.add(kPutPost, "/encode", [this](R req, Ex ex, auto&) { encode(req, ex); });
  t.add(kPutPost, "/classify", [this](R req, Ex ex, auto&) { encode(req, ex); });
  t.add(kPutPost, "/v1/rerank", [this](R req, Ex ex, auto&) { rerank(req, ex); });
  t.add(kPost, "/v1/score", [this](R req, Ex ex, auto&) { score(req, ex); });
  t.add(kGet, "/health", [this](R req, Ex ex, auto&) { health(req, ex, false); });
  t.add(kGet, "/health_generate", [this](R req, Ex ex, auto&) { health(req, ex, true); });
  t.add(kGet, "/model_info", [this](R, Ex ex, auto&) { model_info(ex); });
  t.add(kGet, "/get_model_info", [this, deprecated](R, Ex ex, auto&) {
    deprecated("/get_model_info", "/model_info");
    model_info(ex);
  });
  t.add(kGet, "/server_info", [this](R, Ex ex, auto&) { server_info(ex); });
  t.add(kGet, "/get_server_info", [this, deprecated](R, Ex ex, auto&) {
    deprecated("/get_server_info", "/server_info");
    server_info(ex);
  });
  t.add(kGetPost, "/flush_cache", [this](R, Ex ex, auto&) { flush_cache(ex); });
  t.add(kGet, "/get_load", [this](R, Ex ex, auto&) { get_load(ex); });
  t.add(kPost, "/update_weights_from_disk",
        [this](R req, Ex ex, auto&) { update_weights_from_disk(req, ex); });
  t.add(kPost, "/tokenize", [this](R req, Ex ex, auto&) { tokenize(req, ex); });
  t.add(kPost, "/detokenize", [this](R req, Ex ex, auto&) { detokenize(req, ex); });
  t.add(kPost, "/abort_request", [this](R req, Ex ex, auto&) { abort_request(req, ex); });
  t.add(kGet, "/v1/models", [this](R, Ex ex, auto&) { list_models(ex); });
  t.add(kPost, "/v1/completions", [this](R req, Ex ex, auto&) {
    if (is_embedding_) return respond_error(ex, ApiError::openai(kNotGenerationModel));
    openai_completions(req, ex);
  });
  t.add(kPost, "/parse_function_call",
        [this](R req, Ex ex, auto&) { parse_function_call(req, ex); });
  t.add(kPost, "/separate_reasoning", [this](R req, Ex ex, auto&) { separate_reasoning(req, ex); });
  t.add(kPost, "/v1/embeddings", [this](R req, Ex ex, auto&) { openai_embeddings(req, ex); });
  t.add(kGet, "/v1/models/{model:path}",
        [this](R, Ex ex, const std::string& model) { retrieve_model(model, ex); });
  t.add(kPost, "/v1/tokenize", [this](R req, Ex ex, auto&) { tokenize(req, ex); });
  t.add(kPost, "/v1/detokenize", [this](R req, Ex ex, auto&) { detokenize(req, ex); });
  t.add(kPost, "/v1/chat/completions", [this](R req, Ex ex, auto&) {
    if (is_embedding_) return respond_error(ex, ApiError::openai(kNotGenerationModel));
    openai_chat_completions(req, ex);
  });
  t.add(kPost, "/v1/responses", [this](R req, Ex ex, auto&) {
    if (is_embedding_) return respond_error(ex, ApiError::responses(kNotGenerationModel));
    openai_responses(req, ex);
  });
  t.add(kGet, "/v1/responses/{response_id}",
        [this](R, Ex ex, const std::string& id) { openai_retrieve_response(id, ex); });
  t.add(kPost, "/v1/responses/{response_id}/cancel",
        [this](R, Ex ex, const std::string& id) { openai_cancel_response(id, ex); });
  if (args_.enable_metrics) t.add(kGet, "/metrics", [this](R, Ex ex, auto&) { metrics(ex); });
  for (const char* p : {"/start_expert_distribution_record", "/stop_expert_distribution_record",
                        "/dump_expert_distribution_record"}) {
    t.add(kGetPost, p, [this, p](R, Ex ex, auto&) { expert_distribution(p, ex); });
  }
}

void ApiServer::handle(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  if (!authorized(req)) {
    ex->respond(401, "application/json", R"({"error":"Unauthorized"})");
    return;
  }
  if (args_.log_requests) SGLANG_LOG_INFO("{} {}", req.method, req.path);
  if (shutting_down_ && req.path.rfind("/health", 0) != 0) {
    // Stopping: nothing new is taken (the scheduler no longer runs).
    return respond_error(ex, ApiError::http_exception(503, "The server is shutting down."));
  }
  try {
    routes_.dispatch(req, ex);
  } catch (const nlohmann::json::exception& e) {
    // A field read with the wrong type that a route's own checks missed: still the client's
    // error, never a 500.
    SGLANG_LOG_ERROR("[http_server] {} {}: {}", req.method, req.path, e.what());
    respond_error(ex, ApiError::validation(std::string("Invalid request body: ") + e.what()));
  }
}

void ApiServer::health(const http::Request&, std::shared_ptr<http::Exchange> ex, bool generate) {
  if (shutting_down_) {
    SGLANG_LOG_INFO("Health check request received during shutdown. Returning 503.");
    ex->respond(503, "text/plain", "");
    return;
  }
  (void)generate;  // as SGLang (SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION defaults to true)
  // As SGLang's health_generate: healthy when the scheduler shows progress within
  // HEALTH_CHECK_TIMEOUT; a real generation only when it is idle. A busy scheduler is judged from
  // its published progress, so the answer comes at once however long the queue is.
  const SchedulerHealth h = scheduler_->health();
  if (h.busy) {
    const bool progressing = h.current_step_s < kHealthCheckTimeoutS &&
                             (h.current_step_s > 0 || h.since_progress_s < kHealthCheckTimeoutS);
    if (!progressing) {
      SGLANG_LOG_ERROR("Health check failed: the scheduler has made no progress for {:.1f} s.",
                       std::max(h.current_step_s, h.since_progress_s));
    }
    ex->respond(progressing ? 200 : 503, "text/plain", "");
    return;
  }
  // One greedy token through the scheduler proves the whole path works.
  auto req = std::make_unique<Request>();
  req->rid = "HEALTH_CHECK_" + next_rid();
  req->prompt = {0};
  req->params.max_new_tokens = 1;
  req->params.temperature = 0;
  req->params.apply_defaults();
  auto stream = std::make_shared<RequestStream>();
  req->stream = stream;
  stream->set_notifier([stream, ex] {
    ex->defer([stream, ex] {
      while (auto out = stream->try_pop()) {
        if (!out->finished) continue;
        stream->set_notifier(nullptr);
        const bool ok = out->finish_reason->kind != FinishReason::Kind::kAbort;
        ex->respond(ok ? 200 : 503, "text/plain", "");
      }
    });
  });
  Status st = scheduler_->submit(std::move(req));
  if (!st.ok()) ex->respond(503, "text/plain", "");
}

void ApiServer::model_info(std::shared_ptr<http::Exchange> ex) {
  std::lock_guard lock(weight_version_mu_);  // model_path and the version change on updates
  const std::string& version = weight_version_;
  json j;
  j["model_path"] = args_.model_path;
  j["tokenizer_path"] = args_.tokenizer_path;
  j["is_generation"] = !is_embedding_;
  j["preferred_sampling_params"] = nullptr;
  j["weight_version"] = version;
  j["has_image_understanding"] = false;
  j["has_audio_understanding"] = false;
  j["model_type"] = hf_config_.value("model_type", json(nullptr));
  j["architectures"] = hf_config_.value("architectures", json(nullptr));
  ex->respond(200, "application/json", dump_json(j));
}

void ApiServer::server_info(std::shared_ptr<http::Exchange> ex) {
  // Per data-parallel rank, as SGLang's internal_states; the top-level figures are the first
  // rank's (SGLang's DP controller reports its first worker's max_total_num_tokens).
  const std::vector<SchedulerStats> ranks = scheduler_->replica_stats();
  const SchedulerStats& first = ranks[0];
  json j;
  {
    std::lock_guard lock(weight_version_mu_);
    j = args_.to_json();
    j["weight_version"] = weight_version_;
  }
  j["status"] = shutting_down_ ? "shutting_down" : "ready";
  j["max_total_num_tokens"] = first.max_total_num_tokens;
  j["max_req_input_len"] = std::min(scheduler_->context_length(), first.max_total_num_tokens) - 1;
  json states = json::array();
  for (const SchedulerStats& st : ranks) {
    const double kv_gb = static_cast<double>(st.max_total_num_tokens) *
                         static_cast<double>(kv_bytes_per_token_) / 1e9;
    json state = j;
    state["last_gen_throughput"] = st.last_gen_throughput;
    state["memory_usage"] = {{"weight", 0.0},  // not tracked per tensor yet
                             {"kvcache", kv_gb},
                             {"token_capacity", st.max_total_num_tokens},
                             {"graph", 0.0}};
    state["effective_max_running_requests_per_dp"] = st.max_running_requests;
    state["num_running_reqs"] = st.num_running_reqs;
    state["num_waiting_reqs"] = st.num_waiting_reqs;
    state["num_used_tokens"] = st.num_used_tokens;
    state["num_free_pages"] = st.num_free_pages;
    state["num_cached_pages"] = st.num_cached_pages;
    state["cache_hit_rate"] = st.total_prompt_tokens > 0
                                  ? static_cast<double>(st.total_cached_tokens) /
                                        static_cast<double>(st.total_prompt_tokens)
                                  : 0.0;
    state["num_retractions"] = st.total_retractions;
    state["num_jump_forward_tokens"] = st.total_jump_forward_tokens;  // ours
    states.push_back(std::move(state));
  }
  j["internal_states"] = std::move(states);
  j["version"] = kSGLangApiVersion;
  j["sglang_cpp_version"] = kSGLangCppVersion;
  ex->respond(200, "application/json", dump_json(j));
}

void ApiServer::get_load(std::shared_ptr<http::Exchange> ex) {
  // SGLang's GetLoadReqOutput per data-parallel rank (--dp-size of them), which sglang-router's
  // load-aware policies read ("num_tokens"): tokens held in the KV pool by running requests plus
  // the prompt tokens of those waiting.
  json loads = json::array();
  const std::vector<SchedulerStats> ranks = scheduler_->replica_stats();
  for (size_t rank = 0; rank < ranks.size(); ++rank) {
    const SchedulerStats& st = ranks[rank];
    json load;
    load["dp_rank"] = rank;
    load["num_reqs"] = st.num_running_reqs + st.num_waiting_reqs;
    load["num_waiting_reqs"] = st.num_waiting_reqs;
    load["num_tokens"] = st.num_used_tokens + st.num_waiting_tokens;
    loads.push_back(std::move(load));
  }
  ex->respond(200, "application/json", dump_json(loads));
}

void ApiServer::flush_cache(std::shared_ptr<http::Exchange> ex) {
  auto fut = std::make_shared<std::future<bool>>(scheduler_->flush_cache());
  run_blocking([fut, ex] {
    const bool ok = fut->get();
    ex->respond(ok ? 200 : 400, "text/plain; charset=utf-8", kFlushMessage);
  });
}

void ApiServer::update_weights_from_disk(const http::Request& req,
                                         std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body)) return respond_error(ex, *e);
  if (!body.contains("model_path") || !body["model_path"].is_string()) {
    return respond_error(ex, ApiError::validation("Field required: model_path"));
  }
  const std::string path = body["model_path"];
  const std::string load_format = body.value("load_format", json("auto")).is_string()
                                      ? body.value("load_format", std::string("auto"))
                                      : "auto";
  std::optional<std::string> new_version;
  if (body.contains("weight_version") && body["weight_version"].is_string()) {
    new_version = body["weight_version"].get<std::string>();
  }
  run_blocking([this, ex, path, load_format, new_version] {
    std::lock_guard update_lock(weights_mu_);
    auto reply = [&](bool ok, const std::string& message) {
      json j = {{"success", ok}, {"message", message}, {"num_paused_requests", 0}};
      ex->respond(ok ? 200 : 400, "application/json", dump_json(j));
    };
    if (scheduler_->size() > 1) {
      return reply(false,
                   "Failed to update weights: not supported with --dp-size > 1 in this server.");
    }
    if (load_format != "auto" && load_format != "safetensors" && load_format != "gguf") {
      return reply(false, "Failed to update weights: load_format " + load_format +
                              " is not supported (auto, safetensors, gguf).");
    }
    // As SGLang: a path that holds no weights is "repository not found".
    auto cfg = read_hf_config(path);
    if (!cfg.ok()) {
      SGLANG_LOG_ERROR("Failed to get weights iterator: {} (repository not found).", path);
      return reply(false, "Failed to get weights iterator: " + path + " (repository not found).");
    }
    LoadOptions options;
    options.weight_dtype = weight_dtype_;
    options.quantization = args_.quantization.value_or("");
    auto fresh = load_causal_lm(path, backend_, options);
    if (!fresh.ok()) {
      return reply(false,
                   "Failed to get weights iterator: " + path + " (" + fresh.error().message + ").");
    }
    const ModelConfig& a = model_->config();
    const ModelConfig& b = (*fresh)->config();
    if (a.architecture_name != b.architecture_name || a.hidden_size != b.hidden_size ||
        a.num_hidden_layers != b.num_hidden_layers || a.vocab_size != b.vocab_size ||
        a.num_attention_heads != b.num_attention_heads ||
        a.num_key_value_heads != b.num_key_value_heads || a.head_dim != b.head_dim ||
        a.intermediate_size != b.intermediate_size || a.moe.num_experts != b.moe.num_experts ||
        a.moe.num_experts_per_tok != b.moe.num_experts_per_tok ||
        a.moe.moe_intermediate_size != b.moe.moe_intermediate_size ||
        a.moe.shared_expert_intermediate_size != b.moe.shared_expert_intermediate_size ||
        a.moe.decoder_sparse_step != b.moe.decoder_sparse_step ||
        a.moe.mlp_only_layers != b.moe.mlp_only_layers) {
      return reply(false, "Failed to update weights: the model at " + path +
                              " has a different architecture or shape than the served one.");
    }
    std::unique_ptr<CausalLM> incoming = std::move(*fresh);
    incoming->set_expert_routing_observer(recorder_.get());
    CausalLM* incoming_raw = incoming.get();
    Scheduler& only = scheduler_->replica(0);
    Status st = only.run_when_idle([&]() -> Status {
                      only.replace_model(*incoming_raw);
                      only.flush_now();  // cached KV belongs to the old weights
                      return {};
                    })
                    .get();
    if (!st.ok()) return reply(false, "Failed to update weights: " + st.error().message);
    std::unique_ptr<CausalLM> old = std::move(model_);
    model_ = std::move(incoming);
    old.reset();
    std::string message = "Succeeded to update model weights.";
    {
      std::lock_guard lock(weight_version_mu_);
      if (new_version) {
        weight_version_ = *new_version;
        message += " Weight version updated to " + *new_version + ".";
      }
      // As SGLang: the served path (and the default served name) follow the new weights.
      if (args_.served_model_name == args_.model_path) args_.served_model_name = path;
      args_.model_path = path;
    }
    SGLANG_LOG_INFO("Updated weights from {}", path);
    reply(true, message);
  });
}

void ApiServer::tokenize(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return respond_error(ex, *e);
  }
  if (!body.contains("prompt")) {
    return respond_error(ex, ApiError::validation("Field required: prompt"));
  }
  if (!tokenizer_) {
    return respond_error(ex, ApiError::generate("The server has no tokenizer."));
  }
  const auto special_it = body.find("add_special_tokens");
  if (special_it != body.end() && !special_it->is_boolean()) {
    return respond_error(ex, ApiError::validation("Input should be a valid boolean: "
                                                  "add_special_tokens"));
  }
  const bool add_special = special_it == body.end() || special_it->get<bool>();
  const nlohmann::json& prompt = body["prompt"];
  // As SGLang: the tokenizer's own model_max_length (-1 when it has none), not the context length.
  const int64_t max_len = tokenizer_config_.model_max_length.value_or(-1);
  if (prompt.is_string()) {
    auto ids = tokenizer_->encode(prompt.get<std::string>(), add_special);
    ex->respond(
        200, "application/json",
        dump_json(json{{"tokens", ids}, {"count", ids.size()}, {"max_model_len", max_len}}));
    return;
  }
  if (prompt.is_array()) {
    json tokens = json::array(), counts = json::array();
    for (const auto& s : prompt) {
      if (!s.is_string()) {
        return respond_error(ex,
                             ApiError::validation("prompt must be a string or a list of strings"));
      }
      auto ids = tokenizer_->encode(s.get<std::string>(), add_special);
      counts.push_back(ids.size());
      tokens.push_back(std::move(ids));
    }
    ex->respond(200, "application/json",
                dump_json(json{{"tokens", tokens}, {"count", counts}, {"max_model_len", max_len}}));
    return;
  }
  respond_error(ex, ApiError::validation("prompt must be a string or a list of strings"));
}

void ApiServer::detokenize(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body, {.require_json_content_type = true})) {
    return respond_error(ex, *e);
  }
  if (!body.contains("tokens")) {
    return respond_error(ex, ApiError::validation("Field required: tokens"));
  }
  if (!tokenizer_) {
    return respond_error(ex, ApiError::openai("The server has no tokenizer."));
  }
  const auto skip_it = body.find("skip_special_tokens");
  if (skip_it != body.end() && !skip_it->is_boolean()) {
    return respond_error(ex, ApiError::validation("Input should be a valid boolean: "
                                                  "skip_special_tokens"));
  }
  const bool skip = skip_it == body.end() || skip_it->get<bool>();
  const nlohmann::json& tokens = body["tokens"];
  auto bad = [&](const std::string& m) { respond_error(ex, ApiError::openai(m)); };
  auto decode_error = [&](const std::string& m) {
    respond_error(ex, ApiError::openai("Error decoding tokens: " + m +
                                           ". Input tokens might be invalid for the model.",
                                       "DecodeError"));
  };
  // As HF `tokenizers` decode (SGLang's /detokenize calls it): an id past the tokenizer's
  // vocabulary decodes to nothing (a model's embedding rows past the vocabulary are padding, and a
  // sampled one must round-trip with /generate's text). An id outside u32, which the `tokenizers`
  // binding cannot convert, is refused (SGLang answers that OverflowError with a 500).
  auto to_ids = [&](const nlohmann::json& list, std::vector<int32_t>* ids) -> std::string {
    for (const auto& t : list) {
      // The list holds integers (checked by the caller); nlohmann keeps every non-negative one as
      // unsigned, so a signed one is negative.
      if (!t.is_number_unsigned() || t.get<uint64_t>() > UINT32_MAX) {
        return "token id " + t.dump() + " is out of range";
      }
      const uint64_t v = t.get<uint64_t>();
      if (v <= static_cast<uint64_t>(INT32_MAX)) ids->push_back(static_cast<int32_t>(v));
    }
    return "";
  };
  if (!tokens.is_array()) return bad("Invalid input: 'tokens' must be a list of integers.");
  json result;
  if (!tokens.empty() && tokens[0].is_array()) {
    result = json::array();
    for (const auto& l : tokens) {
      if (!l.is_array() ||
          !std::all_of(l.begin(), l.end(), [](const auto& x) { return x.is_number_integer(); })) {
        return bad("Invalid input: Sublist in 'tokens' must contain only integers. Found: " +
                   l.dump());
      }
      std::vector<int32_t> ids;
      if (auto e = to_ids(l, &ids); !e.empty()) return decode_error(e);
      result.push_back(tokenizer_->decode(ids, skip));
    }
  } else {
    if (!std::all_of(tokens.begin(), tokens.end(),
                     [](const auto& x) { return x.is_number_integer(); })) {
      return bad("Invalid input: 'tokens' must be a list of integers.");
    }
    std::vector<int32_t> ids;
    if (auto e = to_ids(tokens, &ids); !e.empty()) return decode_error(e);
    result = tokenizer_->decode(ids, skip);
  }
  json out;
  out["text"] = result;
  ex->respond(200, "application/json", dump_json(out));
}

void ApiServer::abort_request(const http::Request& req, std::shared_ptr<http::Exchange> ex) {
  nlohmann::json body;
  if (auto e = parse_json_body(req, body)) return respond_error(ex, *e);
  const auto all_it = body.find("abort_all");
  if (all_it != body.end() && !all_it->is_boolean() && !all_it->is_null()) {
    return respond_error(ex, ApiError::validation("Input should be a valid boolean: abort_all"));
  }
  if (all_it != body.end() && all_it->is_boolean() && all_it->get<bool>()) {
    scheduler_->abort_all("Abort all requests.");
  } else if (body.contains("rid") && body["rid"].is_string()) {
    scheduler_->abort(body["rid"].get<std::string>(),
                      "Abort request " + body["rid"].get<std::string>() + ".");
  }
  ex->respond(200, "text/plain", "");
}

void ApiServer::list_models(std::shared_ptr<http::Exchange> ex) {
  const std::string name = args_.served_model_name;
  json j = {{"object", "list"},
            {"data", json::array({json{{"id", name},
                                       {"object", "model"},
                                       {"created", static_cast<int64_t>(std::time(nullptr))},
                                       {"owned_by", "sglang"},
                                       {"root", name},
                                       {"parent", nullptr},
                                       {"max_model_len", scheduler_->context_length()}}})}};
  ex->respond(200, "application/json", dump_json(j));
}

void ApiServer::retrieve_model(const std::string& model, std::shared_ptr<http::Exchange> ex) {
  const std::string name = args_.served_model_name;
  if (model != name) {
    // SGLang's own envelope for this route.
    json err = {{"error",
                 {{"message", "The model '" + model + "' does not exist"},
                  {"type", "invalid_request_error"},
                  {"param", "model"},
                  {"code", "model_not_found"}}}};
    ex->respond(404, "application/json", dump_json(err));
    return;
  }
  json j = {{"id", model},
            {"object", "model"},
            {"created", static_cast<int64_t>(std::time(nullptr))},
            {"owned_by", "sglang"},
            {"root", model},
            {"parent", nullptr},
            {"max_model_len", scheduler_->context_length()}};
  ex->respond(200, "application/json", dump_json(j));
}

void ApiServer::metrics(std::shared_ptr<http::Exchange> ex) {
  std::string text = metrics_.render(args_.served_model_name, scheduler_->stats());
  // Ours (SGLang has no such gauges): streamed output waiting for slow clients, which
  // backpressure keeps bounded per connection (kStreamBufferHighBytes).
  const http::StreamBufferStats sb = http::stream_buffer_stats();
  text += fmt::format(
      "# HELP sglang_cpp_http_stream_buffered_bytes Streamed bytes not yet taken by clients.\n"
      "# TYPE sglang_cpp_http_stream_buffered_bytes gauge\n"
      "sglang_cpp_http_stream_buffered_bytes {}\n"
      "# HELP sglang_cpp_http_stream_buffered_bytes_peak Most one connection has held.\n"
      "# TYPE sglang_cpp_http_stream_buffered_bytes_peak gauge\n"
      "sglang_cpp_http_stream_buffered_bytes_peak {}\n"
      "# HELP sglang_cpp_http_stream_backpressure_waits_total Stream pauses for slow clients.\n"
      "# TYPE sglang_cpp_http_stream_backpressure_waits_total counter\n"
      "sglang_cpp_http_stream_backpressure_waits_total {}\n",
      sb.buffered_bytes, sb.peak_connection_bytes, sb.backpressure_waits);
  ex->respond(200, "text/plain; version=0.0.4; charset=utf-8", std::move(text));
}

}  // namespace sglang
