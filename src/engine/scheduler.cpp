#include "engine/scheduler.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "tokenizer/tokenizer.h"
#include "util/logging.h"

namespace sglang {
namespace {

// Without --max-total-tokens, the KV pool takes this fraction of the memory the backend reports
// free, at most kDefaultMaxPoolTokens tokens (the CPU pool is zeroed up front; a smaller default
// keeps start-up fast). --max-total-tokens / --mem-fraction-static override.
constexpr double kDefaultMemFraction = 0.3;
constexpr int64_t kDefaultMaxPoolTokens = 262144;
// SGLang's PrefillAdder clips each running request's reserved future tokens to this.
constexpr int64_t kNewTokenClip = 4096;
constexpr double kInitNewTokenRatio = 0.7;
constexpr double kMinNewTokenRatio = 0.1;
constexpr double kNewTokenRatioDecay = 0.001;
// SGLang's SGLANG_GRAMMAR_TIMEOUT default: a grammar not compiled by then fails its requests.
constexpr std::chrono::seconds kGrammarTimeout{300};

// Without --max-queued-requests: this many waiting requests per running slot (at least
// kMinDefaultQueued), so a flood is refused at once instead of holding memory without end.
constexpr int64_t kDefaultQueuedPerRunning = 4;
constexpr int64_t kMinDefaultQueued = 4096;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_health_check(const Request& r) {
  return r.rid.rfind(kHealthCheckRidPrefix, 0) == 0;
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

std::vector<int32_t> tokens_of(const Request& r, int64_t begin, int64_t end) {
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(end - begin));
  for (int64_t i = begin; i < end; ++i) out.push_back(r.token_at(i));
  return out;
}

int64_t input_logprob_start(const Request& r) {
  const auto prompt = static_cast<int64_t>(r.prompt.size());
  const int64_t start = r.logprob.logprob_start_len;
  return start < 0 ? prompt - 1 : std::min(start, prompt - 1);
}

bool wants_input_logprobs(const Request& r) {
  return r.logprob.return_logprob && !r.input_logprobs_done;
}

// SGLANG_STEP_PROFILE=N: every N steps, the mean time of each stage of a step is logged (the
// scheduler thread only; off, it costs a branch per stage), and the steps by what they held:
// decode-only, mixed (decodes riding with prefill chunks) and prefill-only, with each kind's mean
// step time from the end of the step before (the inter-token latency of the decodes in it), and
// the share of the decoded tokens that came out of mixed steps.
enum Stage { kInbox, kSchedule, kBuild, kForward, kCopy, kProcess, kStats, kGap, kNumStages };
constexpr std::array<const char*, kNumStages> kStageNames = {
    "inbox", "schedule", "build", "forward", "copy", "sample+emit", "stats", "between steps"};

class StepProfile {
 public:
  StepProfile() {
    const char* v = std::getenv("SGLANG_STEP_PROFILE");
    every_ = v != nullptr ? std::atoll(v) : 0;
  }
  bool on() const { return every_ > 0; }
  // Charges the time since the previous mark to `stage`.
  void mark(Stage stage) {
    if (!on()) return;
    const auto now = std::chrono::steady_clock::now();
    total_[stage] += std::chrono::duration<double, std::micro>(now - last_).count();
    last_ = now;
  }
  // What the step's forward held: decoding requests and prompt tokens of prefill chunks.
  void batch(int64_t decodes, int64_t prefill_tokens) {
    decodes_ = decodes;
    prefill_tokens_ = prefill_tokens;
  }
  void step_done() {
    if (!on()) return;
    const auto now = std::chrono::steady_clock::now();
    // A step with decodes follows another step without an idle wait (running requests are work),
    // so the time since the last step's end is what each of its decodes waited for its token.
    const double cycle_us = std::chrono::duration<double, std::micro>(now - last_done_).count();
    last_done_ = now;
    if (decodes_ > 0 || prefill_tokens_ > 0) {
      Kind& k = kinds_[decodes_ == 0 ? 2 : prefill_tokens_ > 0 ? 1 : 0];
      ++k.steps;
      k.us += cycle_us;
      k.decodes += decodes_;
      k.prefill_tokens += prefill_tokens_;
    }
    decodes_ = prefill_tokens_ = 0;
    if (++steps_ < every_) return;
    std::string line;
    double sum = 0;
    for (int i = 0; i < kNumStages; ++i) {
      const double us = total_[static_cast<size_t>(i)] / static_cast<double>(steps_);
      sum += us;
      line += fmt::format(" {} {:.0f}", kStageNames[static_cast<size_t>(i)], us);
    }
    SGLANG_LOG_INFO("step profile ({} steps, us/step, total {:.0f}):{}", steps_, sum, line);
    const auto mean = [](double total, int64_t n) {
      return n > 0 ? total / static_cast<double>(n) : 0.0;
    };
    const Kind &dec = kinds_[0], &mix = kinds_[1], &pre = kinds_[2];
    SGLANG_LOG_INFO(
        "step kinds: decode-only {} steps {:.1f} ms batch {:.1f}; mixed {} steps {:.1f} ms batch "
        "{:.1f} + {:.0f} prefill tokens; prefill-only {} steps {:.1f} ms {:.0f} tokens; decoded "
        "tokens in mixed steps {:.0f}%",
        dec.steps, mean(dec.us, dec.steps) / 1e3, mean(static_cast<double>(dec.decodes), dec.steps),
        mix.steps, mean(mix.us, mix.steps) / 1e3, mean(static_cast<double>(mix.decodes), mix.steps),
        mean(static_cast<double>(mix.prefill_tokens), mix.steps), pre.steps,
        mean(pre.us, pre.steps) / 1e3, mean(static_cast<double>(pre.prefill_tokens), pre.steps),
        100.0 * mean(static_cast<double>(mix.decodes), mix.decodes + dec.decodes));
    total_.fill(0);
    kinds_.fill({});
    steps_ = 0;
  }

 private:
  int64_t every_ = 0;
  int64_t steps_ = 0;
  std::array<double, kNumStages> total_{};
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  struct Kind {
    int64_t steps = 0;
    double us = 0;
    int64_t decodes = 0;
    int64_t prefill_tokens = 0;
  };
  std::array<Kind, 3> kinds_{};  // decode-only, mixed, prefill-only
  int64_t decodes_ = 0, prefill_tokens_ = 0;
  std::chrono::steady_clock::time_point last_done_ = std::chrono::steady_clock::now();
};

StepProfile& step_profile() {
  static StepProfile profile;  // the scheduler thread's (one scheduler per process in practice)
  return profile;
}

}  // namespace

int64_t cpu_chunked_prefill_size(int64_t threads) {
  if (threads <= 0) threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  return std::clamp<int64_t>(128 * threads, 256, 2048);
}

Scheduler::Scheduler(CausalLM& model, const Tokenizer* tokenizer, const SchedulerConfig& config)
    : model_(&model), runner_(model), tokenizer_(tokenizer), config_(config) {
  if (config_.page_size < 1) throw std::invalid_argument("page_size must be at least 1");
  const ModelConfig& mc = model.config();
  if (!mc.causal) {
    // An encoder attends in both directions: a sequence's K/V depend on the tokens after them, so
    // no prefix can be reused and no prompt split into chunks. Whatever the flags say (SGLang's
    // guide launches its rerankers with --disable-radix-cache --chunked-prefill-size -1).
    if (!config_.disable_radix_cache || config_.chunked_prefill_size > 0) {
      SGLANG_LOG_WARN(
          "{} is a bidirectional encoder: the radix cache and chunked prefill are disabled for it.",
          mc.architecture_name);
    }
    config_.disable_radix_cache = true;
    config_.chunked_prefill_size = 0;
  }
  context_length_ =
      config_.context_length > 0 ? config_.context_length : mc.max_position_embeddings;
  KvCacheShape shape = model.kv_cache_shape();
  shape.dtype = config_.kv_cache_dtype;
  int64_t tokens = config_.max_total_tokens;
  if (tokens <= 0) {
    const double fraction =
        config_.mem_fraction_static > 0 ? config_.mem_fraction_static : kDefaultMemFraction;
    const double bytes = static_cast<double>(model.backend().available_memory_bytes()) * fraction;
    tokens = static_cast<int64_t>(bytes / static_cast<double>(shape.bytes_per_token()));
    if (config_.mem_fraction_static <= 0) tokens = std::min(tokens, kDefaultMaxPoolTokens);
  }
  // --dp-size: each replica holds its share of the pool the flags size for the server.
  tokens /= std::max<int64_t>(config_.pool_shares, 1);
  if (tokens < 2 * config_.page_size) {
    throw std::invalid_argument("the KV cache pool would hold only " + std::to_string(tokens) +
                                " tokens; raise --max-total-tokens or --mem-fraction-static");
  }
  const int64_t num_pages = tokens / config_.page_size;
  pool_ = std::make_unique<PagePool>(num_pages, config_.page_size);
  kv_ = std::make_unique<KvCache>(model.backend(), shape, num_pages, config_.page_size);
  if (!config_.disable_radix_cache) tree_ = std::make_unique<RadixTree>(*pool_);
  const int64_t total = num_pages * config_.page_size;
  max_running_ =
      config_.max_running_requests > 0
          ? config_.max_running_requests
          : std::min<int64_t>(
                std::max<int64_t>(total * 512 / std::max<int64_t>(context_length_, 1), 2048), 4096);
  max_running_ = std::min(max_running_, num_pages);
  max_queued_ = config_.max_queued_requests > 0
                    ? config_.max_queued_requests
                    : std::max(kMinDefaultQueued, kDefaultQueuedPerRunning * max_running_);
  counters_.max_total_num_tokens = total;
  counters_.max_running_requests = max_running_;
  counters_.context_length = context_length_;
  counters_.page_size = config_.page_size;
  new_token_ratio_ = init_new_token_ratio();
  publish_stats();
}

Scheduler::~Scheduler() {
  stop();
  if (grammar_backend_) grammar_backend_->set_on_ready(nullptr);
  // Requests still held (step() used without the thread) give their pages back before the tree
  // and the pool go away.
  for (auto& r : running_) release(*r);
  running_.clear();
  tree_.reset();
}

// ---------------------------------------------------------------------------------------------
// Submission and commands (any thread)

Status Scheduler::validate(const Request& req) const {
  auto bad = [](std::string msg) {
    return make_error(ErrorCode::kInvalidArgument, std::move(msg));
  };
  const int64_t vocab = model_->config().vocab_size;
  const auto n = static_cast<int64_t>(req.prompt.size());
  if (n == 0) return bad("The input is empty; a prompt needs at least one token.");
  for (int32_t id : req.prompt) {
    if (id < 0 || id >= vocab) {
      return bad("The input_ids contains values greater than the vocab size (" +
                 std::to_string(vocab) + "): " + std::to_string(id) + ".");
    }
  }
  if (!req.token_type_ids.empty() && req.token_type_ids.size() != req.prompt.size()) {
    return bad("token_type_ids must give one segment per input token.");
  }
  SGLANG_RETURN_IF_ERROR(req.params.verify(vocab));
  for (int32_t id : req.logprob.token_ids_logprob) {
    if (id < 0 || id >= vocab) {
      return bad("The token_ids_logprob contains values outside the vocab size (" +
                 std::to_string(vocab) + "): " + std::to_string(id) + ".");
    }
  }
  if (!req.params.stop.empty() && tokenizer_ == nullptr) {
    return bad("stop strings are unavailable without a tokenizer.");
  }
  // As SGLang's TokenizerManager._validate_token_len.
  if (n >= context_length_) {
    return bad("The input (" + std::to_string(n) + " tokens) is longer than the model's context " +
               "length (" + std::to_string(context_length_) + " tokens).");
  }
  // Compared without the sum, which a saturated max_new_tokens (2^63 - 1) would overflow.
  if (req.params.max_new_tokens >= context_length_ - n) {
    const int64_t total = req.params.max_new_tokens > std::numeric_limits<int64_t>::max() - n
                              ? std::numeric_limits<int64_t>::max()
                              : req.params.max_new_tokens + n;
    return bad("Requested token count exceeds the model's maximum context length of " +
               std::to_string(context_length_) + " tokens. You requested a total of " +
               std::to_string(total) + " tokens: " + std::to_string(n) +
               " tokens from the input messages and " + std::to_string(req.params.max_new_tokens) +
               " tokens for the completion. Please reduce the number of tokens in the input " +
               "messages or the completion to fit within the limit.");
  }
  // Learned absolute positions (encoders) end before the context length when they start at an
  // offset (RoBERTa: pad_token_id + 1).
  const ModelConfig& mc = model_->config();
  if (mc.position_offset > 0 && n + mc.position_offset > mc.max_position_embeddings) {
    return bad("The input (" + std::to_string(n) + " tokens) is longer than the model's " +
               std::to_string(mc.max_position_embeddings - mc.position_offset) +
               " position embeddings.");
  }
  // As SGLang's validate_input_length with max_req_input_len = min(context_len, pool) - 1: a
  // prompt the KV pool can never hold is refused, not queued forever.
  const int64_t max_req_input_len = std::min(context_length_, max_total_tokens()) - 1;
  if (n >= max_total_tokens() - 1) {
    return bad("Input length (" + std::to_string(n) + " tokens) exceeds the maximum allowed " +
               "length (" + std::to_string(max_req_input_len) + " tokens). Use a shorter input " +
               "or enable --allow-auto-truncate.");
  }
  return {};
}

Status Scheduler::check_queue_room(int64_t count) const {
  // As SGLang's _abort_on_queued_limit: the waiting queue (not the running batch) is bounded.
  const int64_t queued = live_.load() - running_count_.load();
  if (count > max_queued_ - std::max<int64_t>(queued, 0)) {
    return make_error(ErrorCode::kResourceExhausted, "The request queue is full.");
  }
  return {};
}

SchedulerHealth Scheduler::health() const {
  const int64_t now = now_ns();
  SchedulerHealth h;
  h.busy = busy_.load() || live_.load() > 0;
  h.since_progress_s = static_cast<double>(now - progress_ns_.load()) / 1e9;
  const int64_t started = step_started_ns_.load();
  h.current_step_s = started == 0 ? 0.0 : static_cast<double>(now - started) / 1e9;
  return h;
}

Status Scheduler::submit(std::unique_ptr<Request> req) {
  SGLANG_RETURN_IF_ERROR(validate(*req));
  if (!is_health_check(*req)) SGLANG_RETURN_IF_ERROR(check_queue_room(1));
  live_.fetch_add(1);
  if (!req->stream) req->stream = std::make_shared<RequestStream>();
  req->arrival = std::chrono::steady_clock::now();
  Command cmd;
  cmd.kind = Command::Kind::kSubmit;
  cmd.request = std::move(req);
  push_command(std::move(cmd));
  return {};
}

void Scheduler::abort(const std::string& rid, const std::string& message) {
  Command cmd;
  cmd.kind = Command::Kind::kAbort;
  cmd.rid = rid;
  cmd.message = message;
  push_command(std::move(cmd));
}

void Scheduler::abort_all(const std::string& message) {
  Command cmd;
  cmd.kind = Command::Kind::kAbortAll;
  cmd.message = message;
  push_command(std::move(cmd));
}

std::future<bool> Scheduler::flush_cache() {
  Command cmd;
  cmd.kind = Command::Kind::kFlush;
  auto fut = cmd.flushed.get_future();
  push_command(std::move(cmd));
  return fut;
}

std::future<Status> Scheduler::push_call(Command::Kind kind, std::function<Status()> fn) {
  Command cmd;
  cmd.kind = kind;
  cmd.fn = std::move(fn);
  auto fut = cmd.called.get_future();
  push_command(std::move(cmd));
  return fut;
}

std::future<Status> Scheduler::run_between_steps(std::function<Status()> fn) {
  return push_call(Command::Kind::kCall, std::move(fn));
}

std::future<Status> Scheduler::run_when_idle(std::function<Status()> fn) {
  return push_call(Command::Kind::kCallWhenIdle, std::move(fn));
}

void Scheduler::run_idle_tasks() {
  if (!running_.empty()) return;
  while (!idle_tasks_.empty()) {
    Command cmd = std::move(idle_tasks_.front());
    idle_tasks_.pop_front();
    run_call(cmd);
  }
}

void Scheduler::run_call(Command& cmd) {
  Status st;
  try {
    st = cmd.fn();
  } catch (const std::exception& e) {
    st = make_error(ErrorCode::kInternal, e.what());
  }
  cmd.called.set_value(std::move(st));
}

void Scheduler::push_command(Command cmd) {
  {
    std::lock_guard lock(inbox_mu_);
    inbox_.push_back(std::move(cmd));
  }
  inbox_cv_.notify_one();
}

void Scheduler::set_grammar_backend(std::shared_ptr<GrammarBackend> backend) {
  if (grammar_backend_) grammar_backend_->set_on_ready(nullptr);
  grammar_backend_ = std::move(backend);
  if (!grammar_backend_) return;
  grammar_backend_->set_on_ready([this] {
    {
      std::lock_guard lock(inbox_mu_);
      grammar_ready_ = true;
    }
    inbox_cv_.notify_one();
  });
}

void Scheduler::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(inbox_mu_);
    stop_requested_ = false;
  }
  progress_ns_ = now_ns();
  thread_ = std::thread([this] { loop(); });
  if (config_.watchdog_timeout > 0) {
    {
      std::lock_guard lock(watchdog_mu_);
      watchdog_stop_ = false;
    }
    watchdog_ = std::thread([this] { watchdog_loop(); });
  }
}

void Scheduler::watchdog_loop() {
  // As SGLang's scheduler watchdog: a forward that has not returned for --watchdog-timeout
  // seconds means the engine hangs; the process ends so that a supervisor restarts it, rather
  // than serving health checks with a scheduler that will never answer.
  std::unique_lock lock(watchdog_mu_);
  while (!watchdog_cv_.wait_for(lock, std::chrono::milliseconds(500),
                                [&] { return watchdog_stop_; })) {
    const double step_s = health().current_step_s;
    if (step_s > config_.watchdog_timeout) {
      SGLANG_LOG_ERROR(
          "Scheduler watchdog timeout (watchdog_timeout={} s): a forward step has run for {:.1f} "
          "s. Exiting.",
          config_.watchdog_timeout, step_s);
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }
  }
}

void Scheduler::stop() {
  if (watchdog_.joinable()) {
    {
      std::lock_guard lock(watchdog_mu_);
      watchdog_stop_ = true;
    }
    watchdog_cv_.notify_one();
    watchdog_.join();
  }
  if (!thread_.joinable()) return;
  abort_all("The server is shutting down.");
  {
    std::lock_guard lock(inbox_mu_);
    stop_requested_ = true;
  }
  inbox_cv_.notify_one();
  thread_.join();
}

void Scheduler::loop() {
  // This thread runs every forward: it takes the backend's thread count (--threads).
  model_->backend().bind_calling_thread();
  while (true) {
    {
      std::unique_lock lock(inbox_mu_);
      auto ready = [&] {
        return stop_requested_ || !inbox_.empty() || has_work() || grammar_ready_;
      };
      if (grammar_queue_.empty()) {
        inbox_cv_.wait(lock, ready);
      } else {
        inbox_cv_.wait_for(lock, std::chrono::seconds(1), ready);  // to see timeouts
      }
      if (stop_requested_ && inbox_.empty()) break;
    }
    step_started_ns_ = now_ns();
    try {
      step();
    } catch (const std::exception& e) {
      // A bug must not take the server down with every request in it: fail what is in flight.
      SGLANG_LOG_ERROR("scheduler step failed: {}", e.what());
      for (auto& r : running_) {
        finish(*r, FinishReason::abort(std::string("internal error: ") + e.what(), 500));
      }
      running_.clear();
    }
    step_started_ns_ = 0;
    progress_ns_ = now_ns();
    busy_ = has_work() || !grammar_queue_.empty();
  }
}

void Scheduler::process_inbox() {
  std::deque<Command> cmds;
  {
    std::lock_guard lock(inbox_mu_);
    cmds.swap(inbox_);
  }
  for (Command& cmd : cmds) {
    switch (cmd.kind) {
      case Command::Kind::kSubmit: {
        Request& r = *cmd.request;
        r.state = RequestState::kWaiting;
        // As SGLang's handle_generate_request: with other work in the engine, a health check
        // needs no forward of its own (this step proves the loop runs).
        if (is_health_check(r) && (has_work() || !grammar_queue_.empty())) {
          finish(r, FinishReason::length_reached(r.params.max_new_tokens));
          break;
        }
        r.seed = r.params.sampling_seed
                     ? *r.params.sampling_seed
                     : config_.random_seed * 0x9E3779B97F4A7C15ull + ++seed_counter_;
        // As SGLang's handle_generate_request: a constrained request waits for its grammar.
        if (auto key = grammar_key_of(r.params)) {
          if (!grammar_backend_) {
            finish(r, FinishReason::abort(
                          "Grammar-based generation (json_schema, regex, ebnf, structural_tag) is "
                          "not supported when the server is launched with --grammar-backend none",
                          400));
            break;
          }
          r.grammar_key = *key;
          r.grammar_pending = grammar_backend_->get(*key);
          grammar_queue_.push_back(std::move(cmd.request));
          break;
        }
        waiting_.push_back(std::move(cmd.request));
        break;
      }
      case Command::Kind::kAbort:
      case Command::Kind::kAbortAll: {
        const bool all = cmd.kind == Command::Kind::kAbortAll;
        auto matches = [&](const Request& r) {
          return all || r.rid == cmd.rid || (!r.prefix_group.empty() && r.prefix_group == cmd.rid);
        };
        for (auto* queue : {&waiting_, &grammar_queue_}) {
          for (auto it = queue->begin(); it != queue->end();) {
            if (matches(**it)) {
              finish(**it, FinishReason::abort(cmd.message));
              it = queue->erase(it);
            } else {
              ++it;
            }
          }
        }
        for (auto& r : running_) {
          if (matches(*r)) {
            r->abort_requested = true;
            r->abort_message = cmd.message;
          }
        }
        break;
      }
      case Command::Kind::kFlush: {
        bool ok = false;
        if (!running_.empty() || !waiting_.empty() || !grammar_queue_.empty()) {
          SGLANG_LOG_WARN(
              "Cache not flushed because there are pending requests. #queue-req: {}, "
              "#running-req: {}",
              waiting_.size() + grammar_queue_.size(), running_.size());
        } else {
          ok = tree_ ? tree_->reset() : true;
          if (ok && grammar_backend_) grammar_backend_->reset();
          if (ok) SGLANG_LOG_INFO("Cache flushed successfully!");
        }
        cmd.flushed.set_value(ok);
        break;
      }
      case Command::Kind::kCallWhenIdle:
        idle_tasks_.push_back(std::move(cmd));
        break;
      case Command::Kind::kCall:
        run_call(cmd);
        break;
    }
  }
  // Aborted running requests end now, between steps.
  for (auto& r : running_) {
    if (r->abort_requested) finish(*r, FinishReason::abort(r->abort_message));
  }
  std::erase_if(running_, [](const auto& r) { return r->state == RequestState::kFinished; });
}

// ---------------------------------------------------------------------------------------------
// Pages

int64_t Scheduler::available_pages() const {
  return pool_->num_free() + (tree_ ? tree_->evictable_pages() : 0);
}

std::optional<std::vector<int32_t>> Scheduler::allocate_pages(int64_t n) {
  if (pool_->num_free() < n && tree_) tree_->evict(n - pool_->num_free());
  return pool_->allocate(n);
}

bool Scheduler::grow_pages(Request& r, int64_t tokens) {
  const int64_t need = ceil_div(tokens, config_.page_size) - static_cast<int64_t>(r.pages.size());
  if (need <= 0) return true;
  auto pages = allocate_pages(need);
  if (!pages) return false;
  r.pages.insert(r.pages.end(), pages->begin(), pages->end());
  return true;
}

void Scheduler::cache_prefix(Request& r) {
  if (!tree_) return;
  const int64_t full = r.kv_len / config_.page_size;
  if (full <= r.tree_pages) return;
  const std::vector<int32_t> tokens = tokens_of(r, 0, full * config_.page_size);
  const int64_t existing =
      tree_->insert(tokens, std::span<const int32_t>(r.pages).first(static_cast<size_t>(full)));
  // Pages whose tokens another request cached meanwhile: the tree keeps its copy, ours go back.
  const int64_t existing_pages = existing / config_.page_size;
  if (existing_pages > r.tree_pages) {
    pool_->free(std::span<const int32_t>(r.pages).subspan(
        static_cast<size_t>(r.tree_pages), static_cast<size_t>(existing_pages - r.tree_pages)));
  }
  RadixTree::Match m = tree_->match_prefix(tokens);
  if (static_cast<int64_t>(m.pages.size()) != full) {
    throw std::logic_error("radix tree lost a prefix it was just given");
  }
  std::copy(m.pages.begin(), m.pages.end(), r.pages.begin());
  tree_->lock(m.last_node);
  if (r.last_node != nullptr) tree_->unlock(r.last_node);
  r.last_node = m.last_node;
  r.tree_pages = full;
}

void Scheduler::release(Request& r) {
  if (tree_) {
    cache_prefix(r);
    pool_->free(std::span<const int32_t>(r.pages).subspan(static_cast<size_t>(r.tree_pages)));
    if (r.last_node != nullptr) tree_->unlock(r.last_node);
  } else {
    pool_->free(r.pages);
  }
  r.pages.clear();
  r.tree_pages = 0;
  r.last_node = nullptr;
  r.computed_before = std::max(r.computed_before, r.kv_len);
  r.kv_len = 0;
}

void Scheduler::retract(Request& r) {
  // As SGLang's retract_decode: the request goes back to the front of the queue with its output so
  // far; its KV is recomputed (or found in the cache) when it is admitted again.
  release(r);
  if (!r.input_logprobs_done) r.input_logprobs.clear();  // recomputed from the start
  r.state = RequestState::kWaiting;
  ++counters_.total_retractions;
  new_token_ratio_ = std::min(1.0, new_token_ratio_ + 0.3 * config_.schedule_conservativeness);
}

double Scheduler::init_new_token_ratio() const {
  return std::min(1.0, kInitNewTokenRatio * config_.schedule_conservativeness);
}

int64_t Scheduler::prefix_cap(const Request& r) const {
  // At least the last token is computed: its logits give the next token.
  int64_t cap = r.total_len() - 1;
  // Input logprobs need the logits of every position from logprob_start_len - 1 on.
  if (wants_input_logprobs(r))
    cap = std::min(cap, std::max<int64_t>(input_logprob_start(r) - 1, 0));
  return cap;
}

void Scheduler::admit(Request& r) {
  r.state = RequestState::kRunning;
  r.admit_order = ++admit_counter_;
  r.cached_tokens += std::max<int64_t>(0, r.kv_len - r.computed_before);
  if (!r.admitted_once) {
    r.admitted_once = true;
    counters_.total_prompt_tokens += static_cast<int64_t>(r.prompt.size());
    counters_.total_cached_tokens += r.kv_len;
  }
}

// ---------------------------------------------------------------------------------------------
// One step

void Scheduler::take_ready_grammars() {
  {
    std::lock_guard lock(inbox_mu_);
    grammar_ready_ = false;
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto it = grammar_queue_.begin(); it != grammar_queue_.end();) {
    Request& r = **it;
    if (r.grammar_pending->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (now - r.arrival > kGrammarTimeout) {
        finish(r, FinishReason::abort("Grammar preprocessing timed out for req.grammar_key=" +
                                          grammar_key_repr(*r.grammar_key),
                                      400));
        it = grammar_queue_.erase(it);
      } else {
        ++it;
      }
      continue;
    }
    const Result<CompiledGrammarPtr>& compiled = r.grammar_pending->get();
    if (!compiled.ok()) {
      // SGLang's message, with what is wrong with the grammar after it.
      finish(r, FinishReason::abort(
                    "Invalid grammar request: req.grammar_key=" + grammar_key_repr(*r.grammar_key) +
                        ": " + compiled.error().message,
                    400));
    } else {
      r.grammar = std::make_unique<grammar::GrammarMatcher>(compiled.value());
      waiting_.push_back(std::move(*it));
    }
    r.grammar_pending.reset();
    it = grammar_queue_.erase(it);
  }
}

bool Scheduler::step() {
  StepProfile& prof = step_profile();
  prof.mark(kGap);
  process_inbox();
  if (!grammar_queue_.empty()) take_ready_grammars();
  run_idle_tasks();
  if (!has_work()) {
    publish_stats();
    // Requests waiting for their grammar are work to come (the thread's loop sleeps until a
    // compilation finishes; a caller stepping by hand keeps stepping).
    return !grammar_queue_.empty();
  }
  prof.mark(kInbox);
  std::vector<Planned> plan = schedule();
  prof.mark(kSchedule);
  if (!plan.empty()) run_batch(plan);
  std::erase_if(running_, [](const auto& r) { return r->state == RequestState::kFinished; });
  publish_stats(/*count_nodes=*/false);
  prof.mark(kStats);
  prof.step_done();
  return true;
}

std::vector<Scheduler::Planned> Scheduler::schedule() {
  const int64_t page = config_.page_size;
  std::vector<Planned> plan;
  std::sort(running_.begin(), running_.end(),
            [](const auto& a, const auto& b) { return a->admit_order < b->admit_order; });

  // 1. Room for every decoding request's next token; retract the newest requests until it fits.
  bool retracted = false;
  while (true) {
    int64_t need = 0;
    for (const auto& r : running_) {
      if (r->total_len() - r->kv_len == 1) {
        need += std::max<int64_t>(
            0, ceil_div(r->kv_len + 1, page) - static_cast<int64_t>(r->pages.size()));
      }
    }
    if (need <= available_pages() || running_.empty()) break;
    if (running_.size() == 1) {
      Request& r = *running_.front();
      finish(r, FinishReason::abort("The KV cache pool (" + std::to_string(max_total_tokens()) +
                                        " tokens) cannot hold this request's " +
                                        std::to_string(r.total_len()) + " tokens.",
                                    400));
      running_.clear();
      break;
    }
    std::unique_ptr<Request> victim = std::move(running_.back());
    running_.pop_back();
    retract(*victim);
    waiting_.push_front(std::move(victim));
    retracted = true;
  }
  for (auto& r : running_) {
    if (r->total_len() - r->kv_len != 1) continue;
    if (!grow_pages(*r, r->kv_len + 1)) throw std::logic_error("decode pages vanished");
    plan.push_back(
        {r.get(), 1, wants_input_logprobs(*r) ? LogitsMode::kAll : LogitsMode::kLast, true});
  }
  const size_t num_decodes = plan.size();
  // Without mixed chunks, as SGLang's get_next_batch_to_run: a step with prefill work runs it
  // alone, the decodes (their next page already held) wait for a step without any.
  auto finish_plan = [&] {
    const bool prefills = plan.size() > num_decodes;
    if (prefills && !config_.enable_mixed_chunk) {
      plan.erase(plan.begin(), plan.begin() + static_cast<std::ptrdiff_t>(num_decodes));
    } else if (num_decodes > 0) {
      new_token_ratio_ = std::max(std::min(kMinNewTokenRatio, init_new_token_ratio()),
                                  new_token_ratio_ - kNewTokenRatioDecay);
    }
    return std::move(plan);
  };

  // 2. Prefill: running requests in the middle of their prompt first, then new admissions, within
  // the step's budget of prompt tokens (less one per decode riding along, as SGLang's
  // PrefillAdder with mixed chunks; at least one token, so prefills always progress).
  int64_t budget = config_.chunked_prefill_size > 0 ? config_.chunked_prefill_size
                                                    : std::numeric_limits<int64_t>::max();
  if (config_.enable_mixed_chunk && config_.chunked_prefill_size > 0) {
    budget = std::max<int64_t>(1, budget - static_cast<int64_t>(num_decodes));
    // Each decode's next token waits for this step's forward, whose cost grows with its prompt
    // tokens: with decodes aboard, the step is held to mixed_chunk_prefill_size tokens in all.
    if (num_decodes > 0 && config_.mixed_chunk_prefill_size > 0) {
      budget = std::min(budget, std::max<int64_t>(1, config_.mixed_chunk_prefill_size -
                                                         static_cast<int64_t>(num_decodes)));
    }
  }
  auto plan_prefill = [&](Request& r) -> bool {
    const int64_t pending = r.total_len() - r.kv_len;
    const int64_t chunk = std::min(pending, budget);
    if (!grow_pages(r, r.kv_len + chunk)) return false;
    const bool last = chunk == pending;
    const LogitsMode mode = wants_input_logprobs(r) ? LogitsMode::kAll
                            : last                  ? LogitsMode::kLast
                                                    : LogitsMode::kNone;
    plan.push_back({&r, chunk, mode, last});
    budget -= chunk;
    return true;
  };
  for (auto& r : running_) {
    if (budget <= 0) break;
    if (r->total_len() - r->kv_len > 1) plan_prefill(*r);
  }
  // Admissions pause while a run_when_idle task waits for the running requests to drain.
  if (retracted || budget <= 0 || !idle_tasks_.empty()) return finish_plan();

  // Future tokens the running requests will need, in pages (SGLang's PrefillAdder reservation).
  auto reserved_pages = [&](const Request& r) {
    const int64_t remaining_new =
        std::max<int64_t>(0, r.params.max_new_tokens - static_cast<int64_t>(r.output.size()));
    const double future =
        static_cast<double>(r.total_len() - r.kv_len) +
        static_cast<double>(std::min(remaining_new, kNewTokenClip)) * new_token_ratio_;
    return ceil_div(r.kv_len + static_cast<int64_t>(future), page) -
           static_cast<int64_t>(r.pages.size());
  };
  int64_t reserved = 0;
  for (const auto& r : running_) reserved += std::max<int64_t>(0, reserved_pages(*r));

  // Admission order: fcfs, or longest cached prefix first (SGLang falls back to fcfs for long
  // queues, where matching every request each step costs too much).
  std::vector<Request*> order;
  for (auto& r : waiting_) order.push_back(r.get());
  if (config_.schedule_policy == SchedulePolicy::kLpm && tree_ && order.size() <= 128) {
    std::vector<std::pair<int64_t, Request*>> keyed;
    for (Request* r : order) {
      const auto toks = tokens_of(*r, 0, prefix_cap(*r));
      keyed.push_back({tree_->match_prefix(toks).num_tokens(), r});
    }
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < keyed.size(); ++i) order[i] = keyed[i].second;
  }
  std::vector<Request*> admitted;
  for (Request* rp : order) {
    if (budget <= 0 || static_cast<int64_t>(running_.size()) >= max_running_) break;
    Request& r = *rp;
    // Copies of an n > 1 request wait until the first copy's prompt is cached.
    if (!r.prefix_group.empty()) {
      const bool leader_prefilling =
          std::any_of(running_.begin(), running_.end(), [&](const auto& o) {
            return o->prefix_group == r.prefix_group &&
                   o->kv_len < static_cast<int64_t>(o->prompt.size());
          });
      const bool leader_admitted_now =
          std::any_of(admitted.begin(), admitted.end(),
                      [&](Request* o) { return o->prefix_group == r.prefix_group; });
      if (leader_prefilling || leader_admitted_now) continue;
    }
    if (tree_) {
      RadixTree::Match m = tree_->match_prefix(tokens_of(r, 0, prefix_cap(r)));
      tree_->lock(m.last_node);
      r.pages = std::move(m.pages);
      r.tree_pages = static_cast<int64_t>(r.pages.size());
      r.last_node = m.last_node;
      r.kv_len = r.tree_pages * page;
    }
    const int64_t chunk = std::min(r.total_len() - r.kv_len, budget);
    const int64_t need_now =
        ceil_div(r.kv_len + chunk, page) - static_cast<int64_t>(r.pages.size());
    const int64_t own_future = std::max<int64_t>(0, reserved_pages(r) - need_now);
    const bool fits = running_.empty() ? need_now <= available_pages()
                                       : need_now + reserved + own_future <= available_pages();
    if (!fits) {
      if (tree_) tree_->unlock(r.last_node);
      r.pages.clear();
      r.tree_pages = 0;
      r.last_node = nullptr;
      r.kv_len = 0;
      break;  // head-of-line, as SGLang: later requests do not overtake one that does not fit
    }
    admit(r);
    reserved += own_future;
    admitted.push_back(&r);
    auto it = std::find_if(waiting_.begin(), waiting_.end(),
                           [&](const auto& w) { return w.get() == &r; });
    running_.push_back(std::move(*it));
    waiting_.erase(it);
    if (!plan_prefill(r)) throw std::logic_error("admitted request lost its pages");
  }
  return finish_plan();
}

void Scheduler::run_batch(std::vector<Planned>& plan) {
  const auto step_start = std::chrono::steady_clock::now();
  ForwardBatch batch;
  for (const Planned& p : plan) {
    const std::vector<int32_t> toks = tokens_of(*p.req, p.req->kv_len, p.req->kv_len + p.num_new);
    const int64_t pages_used = ceil_div(p.req->kv_len + p.num_new, config_.page_size);
    batch.add(toks, p.req->kv_len,
              std::span<const int32_t>(p.req->pages).first(static_cast<size_t>(pages_used)),
              p.mode);
    const auto& types = p.req->token_type_ids;
    if (!types.empty()) {
      // Segments of this chunk; the sequences before it without any are segment 0.
      batch.token_type_ids.resize(batch.token_ids.size() - toks.size(), 0);
      for (size_t i = 0; i < toks.size(); ++i) {
        const auto at = static_cast<size_t>(p.req->kv_len) + i;  // generated tokens: segment 0
        batch.token_type_ids.push_back(at < types.size() ? types[at] : 0);
      }
    }
  }
  if (!batch.token_type_ids.empty()) batch.token_type_ids.resize(batch.token_ids.size(), 0);
  // An embedding server reads the final hidden states (pooled below), or a classifier's scores.
  const bool pooled_hidden = config_.embedding && model_->config().head == Head::kLanguageModel;
  StepProfile& prof = step_profile();
  if (prof.on()) {
    int64_t decodes = 0, prefill_tokens = 0;
    for (const Planned& p : plan) {
      const bool decode =
          p.num_new == 1 && p.req->kv_len >= static_cast<int64_t>(p.req->prompt.size());
      (decode ? decodes : prefill_tokens) += decode ? 1 : p.num_new;
    }
    prof.batch(decodes, prefill_tokens);
  }
  prof.mark(kBuild);
  auto logits = pooled_hidden ? runner_.forward_hidden(batch, *kv_) : runner_.forward(batch, *kv_);
  ++counters_.total_forward_steps;
  if (!logits.ok()) {
    SGLANG_LOG_ERROR("forward failed: {}", logits.error().message);
    for (const Planned& p : plan) finish(*p.req, FinishReason::abort(logits.error().message, 500));
    return;
  }
  const int64_t vocab = logits->rows() > 0 ? logits->cols() : 0;
  logits_host_.resize(static_cast<size_t>(logits->numel()));
  prof.mark(kForward);
  model_->backend().copy_to_host(*logits, logits_host_.data());
  prof.mark(kCopy);
  float* rows = logits_host_.data();
  int64_t decoded = 0;
  for (Planned& p : plan) {
    const int64_t n_rows =
        p.mode == LogitsMode::kAll ? p.num_new : (p.mode == LogitsMode::kLast ? 1 : 0);
    process_logits(p, rows, vocab);
    rows += n_rows * vocab;
    if (p.samples) ++decoded;
  }
  prof.mark(kProcess);
  counters_.total_generated_tokens += decoded;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
  if (seconds > 0) counters_.last_gen_throughput = static_cast<double>(decoded) / seconds;
}

void Scheduler::process_logits(Planned& p, float* rows, int64_t vocab) {
  Request& r = *p.req;
  const int64_t begin = r.kv_len;
  const bool was_prefill = p.num_new > 1 || begin < static_cast<int64_t>(r.prompt.size());
  r.kv_len += p.num_new;
  const auto prompt_len = static_cast<int64_t>(r.prompt.size());

  if (p.mode == LogitsMode::kAll && wants_input_logprobs(r)) {
    const int64_t start = input_logprob_start(r);
    if (start == 0 && begin == 0) r.input_logprobs.push_back({r.prompt[0], std::nullopt, {}, {}});
    for (int64_t q = begin; q < begin + p.num_new; ++q) {
      const int64_t j = q + 1;  // the prompt position row q predicts
      if (j < start || j >= prompt_len) continue;
      row_scratch_.assign(rows + (q - begin) * vocab, rows + (q - begin + 1) * vocab);
      SampleResult lp = logprob_of(row_scratch_, r.params, r.prompt[static_cast<size_t>(j)],
                                   r.logprob.top_logprobs_num, r.logprob.token_ids_logprob);
      r.input_logprobs.push_back(
          {r.prompt[static_cast<size_t>(j)], lp.logprob, std::move(lp.top), std::move(lp.ids)});
    }
    if (r.kv_len >= prompt_len) r.input_logprobs_done = true;
  }
  // As SGLang's cache_unfinished_req: a prefilled prompt is shared at once, not at the end.
  if (was_prefill) cache_prefix(r);
  if (!p.samples) return;

  const int64_t last_row = p.mode == LogitsMode::kAll ? p.num_new - 1 : 0;
  if (config_.embedding) {
    r.embedding.assign(rows + last_row * vocab, rows + (last_row + 1) * vocab);
    if (model_->config().head == Head::kLanguageModel) {
      double norm = 0;
      for (float v : r.embedding) norm += static_cast<double>(v) * v;
      // torch.nn.functional.normalize: x / max(||x||, 1e-12)
      const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
      for (float& v : r.embedding) v *= inv;
    }
    finish(r, FinishReason::length_reached(0));
    return;
  }
  const bool wants_ids = r.logprob.return_logprob && !r.logprob.token_ids_logprob.empty();
  const std::span<const int32_t> asked_ids =
      wants_ids ? std::span<const int32_t>(r.logprob.token_ids_logprob)
                : std::span<const int32_t>();
  // The row is processed and sampled where it lies: no other reader of this step's logits needs
  // it after this (the input logprobs above read the rows before it), so no copy per token.
  const std::span<float> row(rows + last_row * vocab, static_cast<size_t>(vocab));
  const auto n_out = static_cast<int64_t>(r.output.size());
  // What min_new_tokens suppresses, only while it is in force.
  stop_ids_.clear();
  if (n_out < r.params.min_new_tokens) {
    stop_ids_.assign(r.params.stop_token_ids.begin(), r.params.stop_token_ids.end());
    for (int64_t e : model_->config().eos_token_ids) stop_ids_.push_back(e);
  }
  // Structured output: the grammar's mask comes first, before penalties, temperature and top-k/p
  // (SGLang applies the vocab mask to the logits before the sampler's processing).
  if (r.grammar && r.params.max_new_tokens > 0) {
    grammar_mask_.assign(static_cast<size_t>((vocab + 31) / 32), 0);
    r.grammar->fill_next_token_bitmask(grammar_mask_);
    if (std::all_of(grammar_mask_.begin(), grammar_mask_.end(),
                    [](uint32_t w) { return w == 0; })) {
      return finish(
          r, FinishReason::abort("No token of the vocabulary can continue the output the grammar "
                                 "constrains it to.",
                                 400));
    }
    grammar::apply_token_bitmask(row, grammar_mask_);
  }
  apply_logit_processors(row, r.params, r.penalties, n_out, stop_ids_);
  if (r.grammar && std::none_of(row.begin(), row.end(), [](float v) {
        return v > -std::numeric_limits<float>::infinity();
      })) {
    // The grammar allows only stop tokens and min_new_tokens forbids them.
    return finish(r,
                  FinishReason::abort("min_new_tokens (" + std::to_string(r.params.min_new_tokens) +
                                          ") forbids the stop token, the only token the "
                                          "grammar allows here.",
                                      400));
  }
  if (r.params.max_new_tokens == 0) {
    // Nothing is sampled; as SGLang's prefill-only requests, the asked ids still get their
    // logprobs at the position after the prompt (scoring reads them from there).
    if (wants_ids) {
      SampleResult lp = logprob_of(row, r.params, asked_ids.front(), 0, asked_ids);
      r.output_token_ids_logprobs.push_back(std::move(lp.ids));
    }
    finish(r, FinishReason::length_reached(0));
    return;
  }
  SampleResult s = sample_from_logits(row, r.params, r.seed, n_out, r.logprob.return_logprob,
                                      r.logprob.top_logprobs_num, asked_ids);
  if (r.grammar && !r.grammar->accept_token(s.token_id)) {
    return finish(r, FinishReason::abort("internal error: the grammar rejected sampled token " +
                                             std::to_string(s.token_id) + ".",
                                         500));
  }
  r.output.push_back(s.token_id);
  r.penalties.add_output_token(s.token_id);
  if (r.logprob.return_logprob) {
    r.output_logprobs.push_back({s.token_id, s.logprob});
    r.output_top_logprobs.push_back(std::move(s.top));
    if (wants_ids) r.output_token_ids_logprobs.push_back(std::move(s.ids));
  }
  check_finished(r);
  if (r.state != RequestState::kFinished && r.grammar && config_.jump_forward) {
    jump_forward(r);
    check_finished(r);
  }
  if (r.state != RequestState::kFinished) emit(r);
}

void Scheduler::jump_forward(Request& r) {
  // Logprobs are computed per decoded position; jumped tokens have none, so such requests decode.
  if (tokenizer_ == nullptr || r.logprob.return_logprob) return;
  std::string forced = r.grammar->find_jump_forward_string();
  // Tokenize whole characters only: cut a trailing incomplete UTF-8 sequence.
  size_t end = forced.size();
  size_t lead = end;
  while (lead > 0 && (static_cast<unsigned char>(forced[lead - 1]) & 0xC0) == 0x80) --lead;
  if (lead > 0) {
    const auto c = static_cast<unsigned char>(forced[lead - 1]);
    const size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (end - (lead - 1) < len) end = lead - 1;
  }
  forced.resize(end);
  if (forced.empty()) return;
  for (int32_t id : tokenizer_->encode(forced, false)) {
    if (static_cast<int64_t>(r.output.size()) >= r.params.max_new_tokens) break;
    if (!r.grammar->accept_token(id)) break;  // e.g. text that encodes to a special token
    r.output.push_back(id);
    r.penalties.add_output_token(id);
    ++counters_.total_jump_forward_tokens;
  }
}

void Scheduler::check_finished(Request& r) {
  // The order of SGLang's Req.check_finished: abort, length, stop token, stop string.
  if (r.abort_requested) return finish(r, FinishReason::abort(r.abort_message));
  if (static_cast<int64_t>(r.output.size()) >= r.params.max_new_tokens) {
    return finish(r, FinishReason::length_reached(r.params.max_new_tokens));
  }
  const int32_t last = r.output.back();
  // SGLang: a grammar that accepted its stop token ends the request, ignore_eos or not.
  if (r.grammar && r.grammar->is_terminated()) return finish(r, FinishReason::stop_token(last));
  if (!r.params.ignore_eos) {
    const auto& eos = model_->config().eos_token_ids;
    const auto& stop_ids = r.params.stop_token_ids;
    if (std::find(stop_ids.begin(), stop_ids.end(), last) != stop_ids.end() ||
        std::find(eos.begin(), eos.end(), last) != eos.end()) {
      return finish(r, FinishReason::stop_token(last));
    }
  }
  if (!r.params.stop.empty() && tokenizer_ != nullptr) {
    // As SGLang: decode the last stop_str_max_len + 1 tokens, so a stop string split across
    // tokens is still seen.
    const auto n = static_cast<int64_t>(r.output.size());
    const int64_t from = std::max<int64_t>(0, n - (r.params.stop_str_max_len + 1));
    const std::vector<int32_t> tail(r.output.begin() + from, r.output.end());
    const std::string text = tokenizer_->decode(tail, false);
    for (const std::string& stop : r.params.stop) {
      if (!stop.empty() && text.find(stop) != std::string::npos) {
        return finish(r, FinishReason::stop_string(stop));
      }
    }
  }
}

StepOutput Scheduler::take_unsent(Request& r, bool final) {
  StepOutput out;
  const auto from = static_cast<std::ptrdiff_t>(r.emitted);
  out.new_token_ids.assign(r.output.begin() + from, r.output.end());
  if (r.logprob.return_logprob) {
    out.new_token_logprobs.assign(r.output_logprobs.begin() + from, r.output_logprobs.end());
    if (r.logprob.top_logprobs_num > 0) {
      out.new_top_logprobs.assign(r.output_top_logprobs.begin() + from,
                                  r.output_top_logprobs.end());
    }
    if (!r.logprob.token_ids_logprob.empty()) {
      out.new_token_ids_logprobs.assign(
          r.output_token_ids_logprobs.begin() +
              static_cast<std::ptrdiff_t>(r.emitted_token_ids_logprobs),
          r.output_token_ids_logprobs.end());
      r.emitted_token_ids_logprobs = static_cast<int64_t>(r.output_token_ids_logprobs.size());
    }
    // Input logprobs go out once, when complete (or with the final output, whatever exists).
    if (!r.input_logprobs_sent && (final || r.input_logprobs_done)) {
      out.input_logprobs = r.input_logprobs;
      r.input_logprobs_sent = true;
    }
  }
  r.emitted = static_cast<int64_t>(r.output.size());
  out.prompt_tokens = static_cast<int64_t>(r.prompt.size());
  out.completion_tokens = r.emitted;
  out.cached_tokens = r.cached_tokens;
  return out;
}

void Scheduler::finish(Request& r, FinishReason reason) {
  if (r.state == RequestState::kFinished) return;
  if (r.state == RequestState::kRunning) release(r);
  r.state = RequestState::kFinished;
  live_.fetch_sub(1);
  ++counters_.total_finished_reqs;
  StepOutput out = take_unsent(r, true);
  out.finished = true;
  out.finish_reason = std::move(reason);
  out.embedding = std::move(r.embedding);
  if (r.stream) r.stream->push(std::move(out));
}

void Scheduler::emit(Request& r) {
  const int64_t interval = r.params.stream_interval.value_or(1);
  if (static_cast<int64_t>(r.output.size()) - r.emitted < std::max<int64_t>(interval, 1)) return;
  StepOutput out = take_unsent(r, false);
  if (r.stream) r.stream->push(std::move(out));
}

void Scheduler::publish_stats(bool count_nodes) {
  SchedulerStats s = counters_;
  s.num_running_reqs = static_cast<int64_t>(running_.size());
  running_count_ = s.num_running_reqs;
  s.num_waiting_reqs = static_cast<int64_t>(waiting_.size() + grammar_queue_.size());
  for (const auto* queue : {&waiting_, &grammar_queue_}) {
    for (const auto& r : *queue) s.num_waiting_tokens += static_cast<int64_t>(r->prompt.size());
  }
  s.num_free_pages = pool_->num_free();
  s.num_cached_pages = tree_ ? tree_->total_pages() : 0;
  s.num_evictable_pages = tree_ ? tree_->evictable_pages() : 0;
  // Counting the nodes walks the whole tree: not in every busy step, only when asked.
  if (count_nodes) radix_nodes_ = tree_ ? tree_->num_nodes() : 0;
  s.num_radix_nodes = radix_nodes_;
  s.num_used_tokens =
      (pool_->num_pages() - pool_->num_free() - s.num_evictable_pages) * config_.page_size;
  std::lock_guard lock(stats_mu_);
  stats_ = s;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

GenerationResult wait_for_result(RequestStream& stream) {
  GenerationResult res;
  while (true) {
    StepOutput out = stream.pop();
    res.output_ids.insert(res.output_ids.end(), out.new_token_ids.begin(), out.new_token_ids.end());
    res.output_logprobs.insert(res.output_logprobs.end(), out.new_token_logprobs.begin(),
                               out.new_token_logprobs.end());
    for (auto& t : out.new_top_logprobs) res.output_top_logprobs.push_back(std::move(t));
    for (auto& t : out.new_token_ids_logprobs) {
      res.output_token_ids_logprobs.push_back(std::move(t));
    }
    if (!out.input_logprobs.empty()) res.input_logprobs = std::move(out.input_logprobs);
    res.prompt_tokens = out.prompt_tokens;
    res.completion_tokens = out.completion_tokens;
    res.cached_tokens = out.cached_tokens;
    if (out.finished) {
      res.finish_reason = *out.finish_reason;
      return res;
    }
  }
}

}  // namespace sglang
