#pragma once
// The scheduler: one thread that owns the model, the KV pages and the radix tree, and runs SGLang's
// loop (srt/managers/scheduler.py) with continuous batching:
//   take new requests and commands (abort, flush, run-between-steps) from the inbox;
//   make room for every running request's next token, retracting the newest requests back to the
//   queue when the pool cannot hold them all;
//   admit waiting requests by policy (fcfs, or lpm = longest cached prefix first) while pages,
//   --max-running-requests and the step's prefill budget allow, reusing their cached prefix;
//   run one forward over the prefill chunks (at most --chunked-prefill-size prompt tokens a step),
//   or over the decodes when nothing is to prefill (with --enable-mixed-chunk, over both
//   together); sample; check stop conditions; stream a StepOutput to each request;
//   insert prefilled and finished sequences into the radix tree.
// Other threads only submit, abort and read statistics; none touches the model or the caches.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "cache/radix_tree.h"
#include "engine/grammar_backend.h"
#include "engine/model_runner.h"
#include "engine/request.h"
#include "model/causal_lm.h"

namespace sglang {

class Tokenizer;

enum class SchedulePolicy { kFcfs, kLpm };

// SGLang's HEALTH_CHECK_RID_PREFIX: /health's own one-token request. It bypasses the queue limit
// and, as SGLang's scheduler does, is answered at once without running when other work is there.
inline constexpr const char* kHealthCheckRidPrefix = "HEALTH_CHECK_";

struct SchedulerConfig {
  int64_t page_size = 1;
  // KV pool size in tokens; 0: a fraction of the backend's available memory (mem_fraction_static).
  int64_t max_total_tokens = 0;
  double mem_fraction_static = 0.0;  // 0: the backend's default fraction
  // --dp-size N: the pool sized as above is split between N replicas; this one holds 1/N of it.
  int64_t pool_shares = 1;
  int64_t max_running_requests = 0;     // 0: derived from the pool, as SGLang
  int64_t chunked_prefill_size = 1024;  // prompt tokens per step; <= 0: whole prompts
  // SGLang's --enable-mixed-chunk: the running requests' decode tokens join a step's prefill
  // chunks in one forward (the chunk's budget shrinks by one token per decode). Off, as SGLang's
  // default: a step that prefills runs prefill chunks only and the decodes wait for the next one.
  bool enable_mixed_chunk = false;
  // Ours, with mixed chunks: a step that carries decodes holds at most this many tokens (its
  // decodes and the prompt tokens riding with them), so running requests wait for a short forward
  // and not for a whole --chunked-prefill-size chunk; steps without decodes still take whole
  // chunks. 0: no such bound (SGLang's rule alone: the chunk less one token per decode).
  int64_t mixed_chunk_prefill_size = 0;
  bool disable_radix_cache = false;
  SchedulePolicy schedule_policy = SchedulePolicy::kFcfs;
  // SGLang's --schedule-conservativeness: scales the share of max_new_tokens reserved for running
  // requests when admitting new ones (0: admit greedily and rely on retraction).
  double schedule_conservativeness = 1.0;
  int64_t context_length = 0;  // 0: the model's
  uint64_t random_seed = 0;    // seeds requests without sampling_seed
  // An embedding server (--is-embedding): requests are prefilled only and answer with the pooled
  // last-token hidden state (L2-normalised, SGLang's LAST pooling for decoder embedding models),
  // or with the score head's outputs for a sequence-classification (reward) model.
  bool embedding = false;
  // Jump-forward for constrained requests (SGLang <= 0.4's compressed FSM, on by default there and
  // turned off by its --disable-jump-forward; 0.5 removed it): where the grammar admits a single
  // continuation, its tokens are appended at once and computed in one forward instead of one
  // decode step each. Off by default, so outputs match SGLang 0.5's token for token.
  bool jump_forward = false;
  // Storage dtype of the KV cache (--kv-cache-dtype, resolved by the server): F32, BF16 or F16.
  DType kv_cache_dtype = DType::kF32;
  // SGLang's --max-queued-requests: requests waiting (not running) beyond this are refused with
  // 503 "The request queue is full."; 0: derived from max_running_requests (SGLang leaves it
  // unbounded, which lets one request with n = 1e6 queue a million copies).
  int64_t max_queued_requests = 0;
  // SGLang's --watchdog-timeout: a step (forward) that runs longer than this many seconds ends the
  // process with a log line; <= 0: no watchdog.
  double watchdog_timeout = 300;
};

// What /health reads without going through the scheduler's inbox (Scheduler::health()).
struct SchedulerHealth {
  bool busy = false;            // requests queued or running
  double since_progress_s = 0;  // since the last step ended (or the thread started)
  double current_step_s = 0;    // how long the step in progress has run; 0: none
};

// The default --chunked-prefill-size on the CPU. SGLang sizes the chunk for a GPU (2048 to 16384
// tokens by its memory, 4096 without one: ~0.1 s of prefill there); two CPU cores prefill the
// default 135M model at ~350 tokens/s, so such a chunk would hold every running decode for
// seconds. 128 tokens per core (`threads` <= 0: all cores), 256 to 2048, keeps a chunk's forward
// under a second on a small model.
int64_t cpu_chunked_prefill_size(int64_t threads);

// A snapshot for /get_server_info, /metrics and tests.
struct SchedulerStats {
  int64_t max_total_num_tokens = 0;
  int64_t max_running_requests = 0;
  int64_t context_length = 0;
  int64_t page_size = 1;
  int64_t num_running_reqs = 0;
  int64_t num_waiting_reqs = 0;
  int64_t num_used_tokens = 0;     // pages held by requests or protected in the tree, in tokens
  int64_t num_waiting_tokens = 0;  // prompt tokens of the waiting requests (SGLang's get_load)
  int64_t num_free_pages = 0;      // pages in the pool's free list
  int64_t num_cached_pages = 0;    // pages owned by the radix tree
  int64_t num_evictable_pages = 0;
  int64_t num_radix_nodes = 0;      // as of the last step with nothing to run
  int64_t total_prompt_tokens = 0;  // prompt tokens of admitted requests
  int64_t total_cached_tokens = 0;  // of those, served from the radix cache
  int64_t total_generated_tokens = 0;
  int64_t total_retractions = 0;
  int64_t total_jump_forward_tokens = 0;  // output tokens appended by jump-forward
  int64_t total_finished_reqs = 0;
  int64_t total_forward_steps = 0;
  double last_gen_throughput = 0;  // output tokens per second over the last decode steps
};

class Scheduler {
 public:
  // `tokenizer` may be null (no stop strings then). Allocates the KV pool on the model's backend.
  Scheduler(CausalLM& model, const Tokenizer* tokenizer, const SchedulerConfig& config);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks the request (sampling params, prompt within the context length and the pool) without
  // queueing it; the error message is SGLang's.
  Status validate(const Request& req) const;
  // Validates and queues; thread-safe. On error nothing is queued; a full queue is
  // kResourceExhausted with SGLang's message (its status is 503).
  Status submit(std::unique_ptr<Request> req);
  // Whether `count` more requests fit in the queue now (kResourceExhausted "The request queue is
  // full." otherwise): a batch or n > 1 call is refused whole, up front, before it is built.
  Status check_queue_room(int64_t count) const;
  int64_t max_queued_requests() const { return max_queued_; }
  // Requests submitted and not finished (queued or running), now; lock-free (load balancing).
  int64_t num_live() const { return live_.load(); }
  // Progress as the scheduler thread last published it; lock-free, answers at once under any load.
  SchedulerHealth health() const;
  // Aborts a queued or running request; its stream ends with finish_reason abort. Unknown rids are
  // ignored (the request may have finished already). Thread-safe.
  void abort(const std::string& rid, const std::string& message = "Abort request.");
  void abort_all(const std::string& message);
  // SGLang's flush_cache: empties the radix tree, refused (false) while requests are queued or
  // running.
  std::future<bool> flush_cache();
  // Runs `fn` on the scheduler thread between two steps.
  std::future<Status> run_between_steps(std::function<Status()> fn);
  // Runs `fn` on the scheduler thread once no request is running: admissions pause until then, so
  // nothing is dropped (SGLang's update_weights_from_disk waits for in-flight requests the same
  // way). For swapping weights: `fn` may call replace_model() and flush_now().
  std::future<Status> run_when_idle(std::function<Status()> fn);
  // Scheduler thread only (inside run_when_idle): serve with another model of the same shape.
  void replace_model(CausalLM& model) {
    model_ = &model;
    model_->backend().bind_calling_thread();
    runner_.set_model(model);
  }
  // Scheduler thread only: empties the radix tree (false if a node is still locked).
  bool flush_now() { return tree_ ? tree_->reset() : true; }

  // Structured output: requests with a json_schema / regex / ebnf / structural_tag are compiled by
  // `backend` (null: --grammar-backend none, such requests are refused as SGLang does). Call before
  // start().
  void set_grammar_backend(std::shared_ptr<GrammarBackend> backend);

  // Starts / stops the scheduler thread. stop() aborts whatever is still queued or running.
  void start();
  void stop();
  // Without the thread (tests): one iteration; false when there was nothing to do.
  bool step();

  SchedulerStats stats() const;
  const SchedulerConfig& config() const { return config_; }
  int64_t context_length() const { return context_length_; }
  int64_t max_total_tokens() const { return pool_->num_pages() * config_.page_size; }
  CausalLM& model() { return *model_; }

 private:
  struct Command {
    enum class Kind {
      kSubmit,
      kAbort,
      kAbortAll,
      kFlush,
      kCall,
      kCallWhenIdle
    } kind = Kind::kSubmit;
    std::unique_ptr<Request> request;
    std::string rid, message;
    std::promise<bool> flushed;
    std::function<Status()> fn;
    std::promise<Status> called;
  };
  struct Planned {
    Request* req;
    int64_t num_new;
    LogitsMode mode;
    bool samples;  // this chunk ends the request's pending tokens: a token is sampled from it
  };

  void loop();
  void watchdog_loop();
  void push_command(Command cmd);
  std::future<Status> push_call(Command::Kind kind, std::function<Status()> fn);
  void run_call(Command& cmd);  // runs cmd.fn, fulfils cmd.called (exceptions become errors)
  void process_inbox();
  bool has_work() const { return !running_.empty() || !waiting_.empty() || !idle_tasks_.empty(); }
  void run_idle_tasks();
  // Moves requests whose grammar is compiled from the grammar queue to the waiting queue (or ends
  // them with SGLang's error when the grammar is invalid or its compilation timed out).
  void take_ready_grammars();

  // Pages
  std::optional<std::vector<int32_t>> allocate_pages(int64_t n);
  int64_t available_pages() const;
  bool grow_pages(Request& r, int64_t tokens);  // pages covering `tokens`
  void cache_prefix(Request& r);                // insert r's computed full pages into the tree
  void release(Request& r);                     // r stops using KV (finish, abort, retract)
  void retract(Request& r);
  int64_t prefix_cap(const Request& r) const;
  double init_new_token_ratio() const;
  void admit(Request& r);

  // One step
  std::vector<Planned> schedule();
  void run_batch(std::vector<Planned>& plan);
  // Reads the logit rows of `p` from `rows`, sampling in place (the last row is overwritten).
  void process_logits(Planned& p, float* rows, int64_t vocab);
  void check_finished(Request& r);
  void jump_forward(Request& r);  // appends what r's grammar forces next (config_.jump_forward)
  void finish(Request& r, FinishReason reason);
  void emit(Request& r);
  // The tokens and logprobs `r` has not sent yet, with the running counters; marks them sent.
  StepOutput take_unsent(Request& r, bool final);
  // `count_nodes`: also recount the radix tree's nodes (a walk over the tree; done when the
  // scheduler has nothing to do, so a busy step costs O(batch), not O(cache)).
  void publish_stats(bool count_nodes = true);

  CausalLM* model_;
  ModelRunner runner_;  // every forward goes through it
  const Tokenizer* tokenizer_;
  SchedulerConfig config_;
  int64_t context_length_ = 0;
  int64_t max_running_ = 0;
  int64_t max_queued_ = 0;
  std::unique_ptr<PagePool> pool_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<RadixTree> tree_;

  std::deque<Command> idle_tasks_;  // run_when_idle commands waiting for running_ to drain
  std::deque<std::unique_ptr<Request>> waiting_;
  std::deque<std::unique_ptr<Request>> grammar_queue_;  // waiting for their grammar to compile
  std::shared_ptr<GrammarBackend> grammar_backend_;
  std::vector<uint32_t> grammar_mask_;  // [ceil(vocab / 32)] one request's allowed tokens
  std::vector<std::unique_ptr<Request>> running_;
  int64_t admit_counter_ = 0;
  double new_token_ratio_ = 0.7;
  uint64_t seed_counter_ = 0;
  std::vector<float> logits_host_;
  std::vector<float> row_scratch_;  // an input-logprob row (processed without touching the rows)
  std::vector<int64_t> stop_ids_;   // one request's min_new_tokens stop ids, kept to reuse

  mutable std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;
  std::deque<Command> inbox_;
  bool stop_requested_ = false;
  bool grammar_ready_ = false;  // a compilation finished since the last look (under inbox_mu_)
  std::thread thread_;

  // Admission and health counters, read by other threads without a lock.
  std::atomic<int64_t> live_{0};           // submitted and not finished
  std::atomic<int64_t> running_count_{0};  // running_.size() as last published
  std::atomic<bool> busy_{false};
  std::atomic<int64_t> progress_ns_{0};      // steady clock at the end of the last step
  std::atomic<int64_t> step_started_ns_{0};  // steady clock at the start of the step; 0: none
  std::mutex watchdog_mu_;
  std::condition_variable watchdog_cv_;
  bool watchdog_stop_ = false;  // under watchdog_mu_
  std::thread watchdog_;

  mutable std::mutex stats_mu_;
  SchedulerStats stats_;
  SchedulerStats counters_;  // scheduler-thread copy of the running totals
  int64_t radix_nodes_ = 0;
};

// Blocks on `stream` until the request finishes; returns all output tokens and the final output
// (its counters and finish reason), with the logprobs of every step concatenated.
struct GenerationResult {
  std::vector<int32_t> output_ids;
  std::vector<TokenLogprob> output_logprobs;
  std::vector<std::vector<TokenLogprob>> output_top_logprobs;
  std::vector<std::vector<TokenLogprob>> output_token_ids_logprobs;
  std::vector<InputLogprob> input_logprobs;
  FinishReason finish_reason;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};
GenerationResult wait_for_result(RequestStream& stream);

}  // namespace sglang
