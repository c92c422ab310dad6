#include "engine/data_parallel_scheduler.h"

#include <algorithm>

namespace sglang {

Result<LoadBalanceMethod> parse_load_balance_method(std::string_view name) {
  if (name == "round_robin") return LoadBalanceMethod::kRoundRobin;
  if (name == "shortest_queue") return LoadBalanceMethod::kShortestQueue;
  if (name == "minimum_tokens") return LoadBalanceMethod::kMinimumTokens;
  if (name == "follow_bootstrap_room") {
    return make_error(ErrorCode::kUnsupported,
                      "--load-balance-method follow_bootstrap_room routes prefill/decode "
                      "disaggregation, which this server does not run; use round_robin or "
                      "shortest_queue");
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "--load-balance-method: invalid choice: '" + std::string(name) +
                        "' (choose from 'round_robin', 'shortest_queue', 'minimum_tokens')");
}

DataParallelScheduler::DataParallelScheduler(std::vector<std::unique_ptr<Scheduler>> replicas,
                                             LoadBalanceMethod method)
    : replicas_(std::move(replicas)), method_(method) {}

size_t DataParallelScheduler::pick() {
  const size_t n = replicas_.size();
  if (method_ == LoadBalanceMethod::kShortestQueue) {
    // The fewest requests in flight now (SGLang balances the replicas' num_reqs); ties go round
    // robin, so an idle server still spreads a burst.
    size_t best = round_robin_ % n;
    int64_t best_load = replicas_[best]->num_live();
    for (size_t k = 1; k < n; ++k) {
      const size_t i = (round_robin_ + k) % n;
      const int64_t load = replicas_[i]->num_live();
      if (load < best_load) best = i, best_load = load;
    }
    round_robin_ = (best + 1) % n;
    return best;
  }
  // round_robin, and minimum_tokens, which SGLang deprecated and serves by round robin.
  const size_t i = round_robin_;
  round_robin_ = (round_robin_ + 1) % n;
  return i;
}

Status DataParallelScheduler::submit(std::unique_ptr<Request> req) {
  if (req->data_parallel_rank) {
    // Direct routing, as SGLang's controller: that replica answers, even with a full queue.
    const auto rank = static_cast<size_t>(*req->data_parallel_rank);
    if (rank >= replicas_.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "data_parallel_rank " + std::to_string(rank) + " is out of range.");
    }
    last_dispatched_.store(static_cast<int64_t>(rank));
    return replicas_[rank]->submit(std::move(req));
  }
  size_t first;
  {
    std::lock_guard lock(dispatch_mu_);
    first = pick();
  }
  // A full replica hands the request on to the next one with room; the last one tried answers
  // (with the queue-full error when none has room).
  const size_t n = replicas_.size();
  size_t chosen = first;
  for (size_t k = 0; k + 1 < n; ++k) {
    const size_t i = (first + k) % n;
    if (replicas_[i]->check_queue_room(1).ok()) break;
    chosen = (i + 1) % n;
  }
  last_dispatched_.store(static_cast<int64_t>(chosen));
  return replicas_[chosen]->submit(std::move(req));
}

Status DataParallelScheduler::check_queue_room(int64_t count) const {
  if (replicas_.size() == 1) return replicas_[0]->check_queue_room(count);
  int64_t room = 0;
  for (const auto& r : replicas_) {
    const SchedulerStats st = r->stats();
    const int64_t queued = std::max<int64_t>(r->num_live() - st.num_running_reqs, 0);
    room += std::max<int64_t>(r->max_queued_requests() - queued, 0);
  }
  if (count > room) return make_error(ErrorCode::kResourceExhausted, "The request queue is full.");
  return {};
}

int64_t DataParallelScheduler::max_queued_requests() const {
  int64_t total = 0;
  for (const auto& r : replicas_) total += r->max_queued_requests();
  return total;
}

SchedulerHealth DataParallelScheduler::health() const {
  SchedulerHealth out = replicas_[0]->health();
  for (size_t i = 1; i < replicas_.size(); ++i) {
    const SchedulerHealth h = replicas_[i]->health();
    if (h.busy && !out.busy) {
      out = h;
    } else if (h.busy == out.busy) {
      out.since_progress_s = std::max(out.since_progress_s, h.since_progress_s);
      out.current_step_s = std::max(out.current_step_s, h.current_step_s);
    }
  }
  return out;
}

void DataParallelScheduler::abort(const std::string& rid, const std::string& message) {
  // Unknown rids are ignored by a replica, so every one is told (as SGLang's controller sends an
  // AbortReq to all workers).
  for (auto& r : replicas_) r->abort(rid, message);
}

void DataParallelScheduler::abort_all(const std::string& message) {
  for (auto& r : replicas_) r->abort_all(message);
}

std::future<bool> DataParallelScheduler::flush_cache() {
  if (replicas_.size() == 1) return replicas_[0]->flush_cache();
  std::vector<std::future<bool>> each;
  for (auto& r : replicas_) each.push_back(r->flush_cache());
  return std::async(std::launch::deferred, [each = std::move(each)]() mutable {
    bool ok = true;
    for (auto& f : each) ok = f.get() && ok;
    return ok;
  });
}

void DataParallelScheduler::start() {
  for (auto& r : replicas_) r->start();
}

void DataParallelScheduler::stop() {
  for (auto& r : replicas_) r->stop();
}

std::vector<SchedulerStats> DataParallelScheduler::replica_stats() const {
  std::vector<SchedulerStats> out;
  for (const auto& r : replicas_) out.push_back(r->stats());
  return out;
}

SchedulerStats DataParallelScheduler::stats() const {
  if (replicas_.size() == 1) return replicas_[0]->stats();
  SchedulerStats s;
  bool first = true;
  for (const SchedulerStats& r : replica_stats()) {
    if (first) {
      s.context_length = r.context_length;
      s.page_size = r.page_size;
      first = false;
    }
    s.max_total_num_tokens += r.max_total_num_tokens;
    s.max_running_requests += r.max_running_requests;
    s.num_running_reqs += r.num_running_reqs;
    s.num_waiting_reqs += r.num_waiting_reqs;
    s.num_used_tokens += r.num_used_tokens;
    s.num_waiting_tokens += r.num_waiting_tokens;
    s.num_free_pages += r.num_free_pages;
    s.num_cached_pages += r.num_cached_pages;
    s.num_evictable_pages += r.num_evictable_pages;
    s.num_radix_nodes += r.num_radix_nodes;
    s.total_prompt_tokens += r.total_prompt_tokens;
    s.total_cached_tokens += r.total_cached_tokens;
    s.total_generated_tokens += r.total_generated_tokens;
    s.total_retractions += r.total_retractions;
    s.total_jump_forward_tokens += r.total_jump_forward_tokens;
    s.total_finished_reqs += r.total_finished_reqs;
    s.total_forward_steps += r.total_forward_steps;
    s.last_gen_throughput += r.last_gen_throughput;
  }
  return s;
}

int64_t DataParallelScheduler::max_total_tokens() const {
  int64_t total = 0;
  for (const auto& r : replicas_) total += r->max_total_tokens();
  return total;
}

}  // namespace sglang
