#pragma once
// Prometheus metrics with SGLang's names (python/sglang/srt/metrics/collector.py): request counters
// and latency histograms kept here, scheduler gauges read from SchedulerStats at scrape time.
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/scheduler.h"

namespace sglang {

class Histogram {
 public:
  explicit Histogram(std::vector<double> buckets)
      : buckets_(std::move(buckets)), counts_(buckets_.size(), 0) {}
  void observe(double v);
  // Appends the _bucket/_sum/_count lines of `name` with `labels` ("model_name=\"x\"").
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> buckets_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void on_finished(int64_t prompt_tokens, int64_t generation_tokens, int64_t cached_tokens,
                   double e2e_seconds);
  void on_first_token(double ttft_seconds);
  void on_inter_token(double seconds);
  std::string render(const std::string& model_name, const SchedulerStats& stats) const;

 private:
  mutable std::mutex mu_;
  int64_t prompt_tokens_ = 0, generation_tokens_ = 0, cached_tokens_ = 0, requests_ = 0;
  Histogram ttft_, e2e_, itl_;
};

}  // namespace sglang
