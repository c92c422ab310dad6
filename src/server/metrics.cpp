#include "server/metrics.h"

#include <cstdio>

namespace sglang {
namespace {

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

void line(std::string& out, const std::string& name, const std::string& labels, double v) {
  out += name + "{" + labels + "} " + fmt_double(v) + "\n";
}

void header(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

void Histogram::observe(double v) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (v <= buckets_[i]) ++counts_[i];
  }
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    out += name + "_bucket{" + labels + ",le=\"" + fmt_double(buckets_[i]) + "\"} " +
           std::to_string(counts_[i]) + "\n";
  }
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum{" + labels + "} " + fmt_double(sum_) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_({0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0,
             200.0, 400.0}),
      e2e_({0.1,  0.2,  0.4,  0.6,  0.8,   1.0,   2.0,   4.0,   6.0,    8.0,    10.0,
            20.0, 40.0, 60.0, 80.0, 100.0, 200.0, 400.0, 600.0, 1200.0, 1800.0, 2400.0}),
      itl_({0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06,
            0.08,  0.1,   0.2,   0.4,   0.6,  0.8,   1.0,  2.0,   4.0,  6.0,   8.0}) {}

void Metrics::on_finished(int64_t prompt_tokens, int64_t generation_tokens, int64_t cached_tokens,
                          double e2e_seconds) {
  {
    std::lock_guard lock(mu_);
    prompt_tokens_ += prompt_tokens;
    generation_tokens_ += generation_tokens;
    cached_tokens_ += cached_tokens;
    ++requests_;
  }
  e2e_.observe(e2e_seconds);
}

void Metrics::on_first_token(double s) {
  ttft_.observe(s);
}
void Metrics::on_inter_token(double s) {
  itl_.observe(s);
}

std::string Metrics::render(const std::string& model_name, const SchedulerStats& st) const {
  std::string labels = "model_name=\"" + model_name + "\"";
  std::string out;
  int64_t prompt, gen, cached, reqs;
  {
    std::lock_guard lock(mu_);
    prompt = prompt_tokens_;
    gen = generation_tokens_;
    cached = cached_tokens_;
    reqs = requests_;
  }
  header(out, "sglang:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
  line(out, "sglang:prompt_tokens_total", labels, static_cast<double>(prompt));
  header(out, "sglang:generation_tokens_total", "counter",
         "Number of generation tokens processed.");
  line(out, "sglang:generation_tokens_total", labels, static_cast<double>(gen));
  header(out, "sglang:cached_tokens_total", "counter", "Number of cached prompt tokens.");
  line(out, "sglang:cached_tokens_total", labels, static_cast<double>(cached));
  header(out, "sglang:num_requests_total", "counter", "Number of requests processed.");
  line(out, "sglang:num_requests_total", labels, static_cast<double>(reqs));
  header(out, "sglang:num_running_reqs", "gauge", "The number of running requests.");
  line(out, "sglang:num_running_reqs", labels, static_cast<double>(st.num_running_reqs));
  header(out, "sglang:num_queue_reqs", "gauge", "The number of requests in the waiting queue.");
  line(out, "sglang:num_queue_reqs", labels, static_cast<double>(st.num_waiting_reqs));
  header(out, "sglang:num_used_tokens", "gauge", "The number of used tokens.");
  line(out, "sglang:num_used_tokens", labels, static_cast<double>(st.num_used_tokens));
  header(out, "sglang:token_usage", "gauge", "The token usage.");
  line(out, "sglang:token_usage", labels,
       st.max_total_num_tokens > 0
           ? static_cast<double>(st.num_used_tokens) / static_cast<double>(st.max_total_num_tokens)
           : 0.0);
  header(out, "sglang:cache_hit_rate", "gauge", "The prefix cache hit rate.");
  line(out, "sglang:cache_hit_rate", labels,
       st.total_prompt_tokens > 0 ? static_cast<double>(st.total_cached_tokens) /
                                        static_cast<double>(st.total_prompt_tokens)
                                  : 0.0);
  header(out, "sglang:gen_throughput", "gauge", "The generation throughput (token/s).");
  line(out, "sglang:gen_throughput", labels, st.last_gen_throughput);
  header(out, "sglang:num_retracted_reqs", "counter", "Number of retracted requests.");
  line(out, "sglang:num_retracted_reqs", labels, static_cast<double>(st.total_retractions));
  header(out, "sglang:time_to_first_token_seconds", "histogram",
         "Histogram of time to first token in seconds.");
  ttft_.render(out, "sglang:time_to_first_token_seconds", labels);
  header(out, "sglang:e2e_request_latency_seconds", "histogram",
         "Histogram of End-to-end request latency in seconds");
  e2e_.render(out, "sglang:e2e_request_latency_seconds", labels);
  header(out, "sglang:inter_token_latency_seconds", "histogram",
         "Histogram of inter-token latency in seconds.");
  itl_.render(out, "sglang:inter_token_latency_seconds", labels);
  return out;
}

}  // namespace sglang
