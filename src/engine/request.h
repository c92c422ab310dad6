#pragma once
// A generation request as the scheduler sees it, and the channel its results flow back through.
// The HTTP layer (or the offline runner) creates a Request, submits it, and reads StepOutputs from
// its RequestStream; only the scheduler thread touches the rest of the Request.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cache/radix_tree.h"
#include "engine/grammar_backend.h"
#include "sampling/sampler.h"
#include "sampling/sampling_params.h"

namespace sglang {

// SGLang's finish_reason: {"type": "stop", "matched": <token id or string>},
// {"type": "length", "length": max_new_tokens}, {"type": "abort", "message": ...}.
struct FinishReason {
  enum class Kind { kStopToken, kStopString, kLength, kAbort };
  Kind kind = Kind::kLength;
  int64_t matched_token = 0;
  std::string matched_string;
  int64_t length = 0;
  std::string message;
  // HTTP status the abort maps to (SGLang's FINISH_ABORT carries one): 400 for a request the
  // engine cannot serve, 500 for an internal failure, 0 (null) for a user abort, which answers 200.
  int status_code = 0;

  static FinishReason stop_token(int64_t id) { return {Kind::kStopToken, id, {}, 0, {}, 0}; }
  static FinishReason stop_string(std::string s) {
    return {Kind::kStopString, 0, std::move(s), 0, {}, 0};
  }
  static FinishReason length_reached(int64_t n) { return {Kind::kLength, 0, {}, n, {}, 0}; }
  static FinishReason abort(std::string msg, int status = 0) {
    return {Kind::kAbort, 0, {}, 0, std::move(msg), status};
  }
};

// SGLang's JSON of a finish reason (meta_info.finish_reason); aborts carry status_code/err_type.
nlohmann::ordered_json to_json(const FinishReason& f);

// Input logprob entry: the logprob of prompt token `token_id` given the tokens before it (none for
// the first token of the prompt).
struct InputLogprob {
  int32_t token_id = 0;
  std::optional<float> logprob;
  std::vector<TokenLogprob> top;        // empty for the first prompt token
  std::vector<TokenLogprob> token_ids;  // the asked token_ids_logprob; empty for the first token
};

// What one scheduler step produced for one request. Token ids and logprobs are the new ones since
// the previous StepOutput; the counters are totals.
struct StepOutput {
  std::vector<int32_t> new_token_ids;
  std::vector<TokenLogprob> new_token_logprobs;  // parallel to new_token_ids, if return_logprob
  std::vector<std::vector<TokenLogprob>> new_top_logprobs;  // if top_logprobs_num > 0
  // If token_ids_logprob: one entry per new output position. A request with max_new_tokens 0
  // still gets one, for the position after the prompt (what SGLang's /v1/score reads).
  std::vector<std::vector<TokenLogprob>> new_token_ids_logprobs;
  std::vector<InputLogprob> input_logprobs;  // once, when the prompt's logprobs are complete
  std::vector<float> embedding;  // embedding servers: the pooled output, in the final StepOutput
  bool finished = false;
  std::optional<FinishReason> finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};

// A single-producer (scheduler) multi-step channel. The consumer either blocks in pop() or
// registers a notifier that the scheduler calls after each push (an event loop's wake-up).
class RequestStream {
 public:
  void push(StepOutput out) {
    std::function<void()> notify;
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(out));
      notify = notifier_;
    }
    cv_.notify_all();
    if (notify) notify();
  }
  // Blocks until an output is there.
  StepOutput pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    StepOutput out = std::move(queue_.front());
    queue_.pop_front();
    return out;
  }
  std::optional<StepOutput> try_pop() {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return std::nullopt;
    StepOutput out = std::move(queue_.front());
    queue_.pop_front();
    return out;
  }
  void set_notifier(std::function<void()> f) {
    std::lock_guard lock(mu_);
    notifier_ = std::move(f);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StepOutput> queue_;
  std::function<void()> notifier_;
};

// An immutable token sequence held by reference: the n copies of one prompt (and the scheduler's
// requests made from them) share one allocation, so a queued copy costs its bookkeeping, not its
// prompt (issue 16: memory per queued request bounded for n). Reads like a const vector.
class SharedTokens {
 public:
  using Storage = std::shared_ptr<const std::vector<int32_t>>;
  SharedTokens() = default;
  // Implicit, so `req.prompt = ids;` keeps reading as an assignment of tokens.
  SharedTokens(std::vector<int32_t> ids)  // NOLINT(google-explicit-constructor)
      : ids_(std::make_shared<const std::vector<int32_t>>(std::move(ids))) {}
  SharedTokens(std::initializer_list<int32_t> ids) : SharedTokens(std::vector<int32_t>(ids)) {}

  const std::vector<int32_t>& vec() const { return ids_ ? *ids_ : empty_vector(); }
  size_t size() const { return vec().size(); }
  bool empty() const { return vec().empty(); }
  int32_t operator[](size_t i) const { return vec()[i]; }
  std::vector<int32_t>::const_iterator begin() const { return vec().begin(); }
  std::vector<int32_t>::const_iterator end() const { return vec().end(); }
  const int32_t* data() const { return vec().data(); }
  // The shared allocation (null when empty): what tests compare to see copies share a prompt.
  const Storage& storage() const { return ids_; }

 private:
  static const std::vector<int32_t>& empty_vector() {
    static const std::vector<int32_t> kEmpty;
    return kEmpty;
  }
  Storage ids_;
};

struct LogprobOptions {
  bool return_logprob = false;
  int64_t top_logprobs_num = 0;
  // First prompt position whose logprob is returned; -1: SGLang's default (the last prompt token).
  int64_t logprob_start_len = -1;
  // SGLang's token_ids_logprob: the token ids whose logprobs every position reports
  // (input_token_ids_logprobs / output_token_ids_logprobs); empty: none asked.
  std::vector<int32_t> token_ids_logprob;
};

enum class RequestState { kWaiting, kRunning, kFinished };

struct Request {
  // Set by the submitter.
  std::string rid;
  SharedTokens prompt;  // the copies of an n > 1 request share one
  // Segment of each prompt token (a cross-encoder's query/document pair); empty: all 0.
  std::vector<int32_t> token_type_ids;
  SamplingParams params;
  LogprobOptions logprob;
  std::shared_ptr<RequestStream> stream;
  // Requests with the same non-empty group (the copies of an n > 1 request) share their prompt:
  // the scheduler prefills the first and admits the others once its prefix is in the cache.
  std::string prefix_group;
  // The data-parallel replica to run on (GenerateReqInput.data_parallel_rank); none: the
  // --load-balance-method picks.
  std::optional<int64_t> data_parallel_rank;

  // Scheduler state.
  RequestState state = RequestState::kWaiting;
  std::vector<int32_t> output;
  PenaltyState penalties;
  uint64_t seed = 0;
  std::vector<int32_t> pages;  // page table: the tree's prefix pages, then the request's own
  int64_t tree_pages = 0;      // leading entries of `pages` owned by the radix tree
  RadixTree::Node* last_node = nullptr;  // locked while the request runs
  int64_t kv_len = 0;                    // tokens of prompt+output whose K/V are in `pages`
  int64_t cached_tokens = 0;             // prefix reused from the cache at the first admission
  bool cached_tokens_set = false;
  int64_t admit_order = 0;      // larger = admitted later (retraction picks the newest)
  int64_t computed_before = 0;  // most tokens this request had computed before a retraction
  bool admitted_once = false;
  // Structured output: the constraint's compilation while the request waits in the grammar queue,
  // then its own matcher (the scheduler thread's only), advanced by every sampled token.
  std::optional<GrammarKey> grammar_key;
  std::optional<GrammarFuture> grammar_pending;
  std::unique_ptr<grammar::GrammarMatcher> grammar;
  std::vector<InputLogprob> input_logprobs;
  bool input_logprobs_done = false;  // all prompt positions from logprob_start_len are in
  bool input_logprobs_sent = false;
  std::vector<float> embedding;               // embedding servers: set when the prompt is prefilled
  std::vector<TokenLogprob> output_logprobs;  // one per output token, if asked
  std::vector<std::vector<TokenLogprob>> output_top_logprobs;
  std::vector<std::vector<TokenLogprob>> output_token_ids_logprobs;
  int64_t emitted = 0;                     // output tokens already sent on the stream
  int64_t emitted_token_ids_logprobs = 0;  // entries of output_token_ids_logprobs already sent
  std::chrono::steady_clock::time_point arrival;
  bool abort_requested = false;
  std::string abort_message;

  int64_t total_len() const { return static_cast<int64_t>(prompt.size() + output.size()); }
  int32_t token_at(int64_t i) const {
    const auto p = static_cast<int64_t>(prompt.size());
    return i < p ? prompt[static_cast<size_t>(i)] : output[static_cast<size_t>(i - p)];
  }
};

}  // namespace sglang
