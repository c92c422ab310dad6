#pragma once
// Data parallelism inside one server, as SGLang's --dp-size (its data_parallel_controller.py):
// N engine replicas, each its own model instance on its own share of the cores, its own scheduler
// thread, KV pool share and radix cache. Requests are dispatched to one replica by
// --load-balance-method; aborts and cache flushes go to every replica (SGLang's controller sends
// control messages to all workers); statistics are summed, and each replica's own are kept for the
// per-rank lists SGLang answers (/get_load, /get_server_info's internal_states). With one replica
// every call is that scheduler's.
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/scheduler.h"
#include "util/status.h"

namespace sglang {

// SGLang's LoadBalanceMethod: round_robin (its default); shortest_queue (the replica with the
// fewest requests, which SGLang approximates with a budget from the replicas' load reports);
// minimum_tokens, which SGLang deprecated and serves by round robin. follow_bootstrap_room routes
// prefill/decode disaggregation, which this server has not: refused at start.
enum class LoadBalanceMethod { kRoundRobin, kShortestQueue, kMinimumTokens };
Result<LoadBalanceMethod> parse_load_balance_method(std::string_view name);

class DataParallelScheduler {
 public:
  // `replicas` non-empty; the first one's model serves what is the same for all (config, vocab).
  DataParallelScheduler(std::vector<std::unique_ptr<Scheduler>> replicas,
                        LoadBalanceMethod method = LoadBalanceMethod::kRoundRobin);
  DataParallelScheduler(const DataParallelScheduler&) = delete;
  DataParallelScheduler& operator=(const DataParallelScheduler&) = delete;

  size_t size() const { return replicas_.size(); }
  Scheduler& replica(size_t i) { return *replicas_[i]; }
  const Scheduler& replica(size_t i) const { return *replicas_[i]; }

  // Every replica runs the same model with the same limits: one validates for all.
  Status validate(const Request& req) const { return replicas_[0]->validate(req); }
  // Dispatches to one replica by the method; a replica whose queue is full passes the request to
  // the next one with room (the queue bound is the sum of the replicas'). Thread-safe.
  Status submit(std::unique_ptr<Request> req);
  // The replica the last submit() chose (tests; -1 before any).
  int64_t last_dispatched() const { return last_dispatched_.load(); }
  Status check_queue_room(int64_t count) const;
  int64_t max_queued_requests() const;
  // Busy when any replica is; stuck when any busy replica is (the worst one's figures).
  SchedulerHealth health() const;
  void abort(const std::string& rid, const std::string& message = "Abort request.");
  void abort_all(const std::string& message);
  // Flushes every replica; true only if every one flushed (none busy).
  std::future<bool> flush_cache();
  void start();
  void stop();

  // Summed over the replicas (limits and pool sizes too: the server's totals); the context length
  // and page size are the replicas' own.
  SchedulerStats stats() const;
  std::vector<SchedulerStats> replica_stats() const;
  const SchedulerConfig& config() const { return replicas_[0]->config(); }
  int64_t context_length() const { return replicas_[0]->context_length(); }
  int64_t max_total_tokens() const;
  CausalLM& model() { return replicas_[0]->model(); }

 private:
  size_t pick();

  std::vector<std::unique_ptr<Scheduler>> replicas_;
  LoadBalanceMethod method_;
  std::mutex dispatch_mu_;
  size_t round_robin_ = 0;
  std::atomic<int64_t> last_dispatched_{-1};
};

}  // namespace sglang
