#include "engine/expert_distribution_recorder.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "util/logging.h"

namespace sglang {

Result<ExpertRecorderMode> parse_expert_recorder_mode(const std::string& name) {
  if (name == "stat") return ExpertRecorderMode::kStat;
  if (name == "per_pass") return ExpertRecorderMode::kPerPass;
  if (name == "per_token") return ExpertRecorderMode::kPerToken;
  if (name == "stat_approx") {
    // SGLang gathers stat_approx from DeepEP's normal-mode dispatch and raises
    // NotImplementedError without it.
    return make_error(ErrorCode::kUnsupported,
                      "--expert-distribution-recorder-mode stat_approx needs DeepEP "
                      "(--moe-a2a-backend deepep --deepep-mode normal), which this server does "
                      "not have; use stat (exact counts)");
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "--expert-distribution-recorder-mode must be one of stat, stat_approx, "
                    "per_pass, per_token; got " +
                        name);
}

ExpertDistributionRecorder::ExpertDistributionRecorder(ExpertRecorderOptions options)
    : options_(std::move(options)) {
  std::lock_guard lock(mu_);
  reset_locked();
  if (options_.log_metrics) {
    SGLANG_LOG_INFO(
        "ExpertDistributionRecorder auto start record since enable_expert_distribution_metrics");
    recording_ = true;
  }
}

void ExpertDistributionRecorder::reset_locked() {
  const size_t cells = static_cast<size_t>(options_.num_layers * options_.num_experts);
  ring_.clear();
  ring_next_ = 0;
  layer_order_.clear();
  expert_order_.assign(static_cast<size_t>(options_.num_layers), {});
  seen_.assign(cells, 0);
  passes_.clear();
  ++epoch_;
}

void ExpertDistributionRecorder::start_record() {
  std::lock_guard lock(mu_);
  if (recording_) {
    SGLANG_LOG_WARN(
        "SGLang server is already recording expert ids. Did you forget to dump the expert ids "
        "recorded so far by sending requests to the `/stop_expert_distribution_record` and "
        "`/dump_expert_distribution_record` endpoints?");
  }
  SGLANG_LOG_INFO("Resetting ExpertDistributionRecorder...");
  reset_locked();
  recording_ = true;
}

void ExpertDistributionRecorder::stop_record() {
  std::lock_guard lock(mu_);
  if (!recording_) {
    SGLANG_LOG_WARN(
        "SGLang server has not been recording expert ids. Did you forget to start recording by "
        "sending request to the `/start_expert_distribution_record` endpoint?");
  }
  recording_ = false;
}

bool ExpertDistributionRecorder::recording() const {
  std::lock_guard lock(mu_);
  return recording_;
}

void ExpertDistributionRecorder::on_forward_begin(const ForwardBatch& batch) {
  {
    std::lock_guard lock(mu_);
    current_recorded_ = recording_;
    current_epoch_ = epoch_;
  }
  current_ = Pass{};
  current_.id = next_pass_id_++;
  if (!current_recorded_) return;
  current_.counts.assign(static_cast<size_t>(options_.num_layers * options_.num_experts), 0);
  current_.first_chosen.assign(static_cast<size_t>(options_.num_layers), {});
  if (options_.mode == ExpertRecorderMode::kPerToken) {
    current_.input_ids = batch.token_ids;
    current_.positions.resize(batch.token_ids.size());
    for (const auto& s : batch.seqs) {
      for (int64_t j = 0; j < s.num_new_tokens; ++j) {
        current_.positions[static_cast<size_t>(s.first_token + j)] =
            static_cast<int32_t>(s.prefix_len + j);
      }
    }
    current_.expert_ids.assign(static_cast<size_t>(options_.num_layers), {});
  }
}

void ExpertDistributionRecorder::on_select_experts(int64_t layer, const int32_t* expert_ids,
                                                   int64_t num_tokens, int64_t top_k) {
  if (!current_recorded_ || layer < 0 || layer >= options_.num_layers) return;
  if (std::find(current_.layers.begin(), current_.layers.end(), layer) == current_.layers.end()) {
    current_.layers.push_back(layer);
  }
  auto& first = current_.first_chosen[static_cast<size_t>(layer)];
  for (int64_t i = 0; i < num_tokens * top_k; ++i) {
    const int32_t e = expert_ids[i];
    if (e < 0 || e >= options_.num_experts) continue;  // as SGLang: -1 marks no expert
    if (count(current_.counts, layer, e)++ == 0) first.push_back(e);
  }
  if (options_.mode == ExpertRecorderMode::kPerToken) {
    current_.top_k = top_k;
    current_.expert_ids[static_cast<size_t>(layer)].assign(expert_ids,
                                                           expert_ids + num_tokens * top_k);
  }
}

void ExpertDistributionRecorder::on_forward_end() {
  if (!current_recorded_) return;
  current_recorded_ = false;
  int64_t selections = 0;
  {
    std::lock_guard lock(mu_);
    if (!recording_ || epoch_ != current_epoch_) return;
    for (int32_t c : current_.counts) selections += c;
    commit_locked(current_);
  }
  if (options_.log_metrics) {
    // SGLang's balancedness is mean / max of the per-GPU loads of each layer, averaged over the
    // layers; with the one device here every layer's load is on it, so it is 1.
    SGLANG_LOG_INFO(
        "[Expert Balancedness] forward_pass_id={} current_pass_balancedness=1.000 "
        "last_10_average_balancedness=1.000 last_100_average_balancedness=1.000 "
        "last_1000_average_balancedness=1.000  gpu_physical_count_sum={}",
        current_.id, selections);
  }
}

void ExpertDistributionRecorder::commit_locked(Pass& pass) {
  if (options_.mode != ExpertRecorderMode::kStat) {
    passes_.push_back(std::move(pass));
    return;
  }
  for (int64_t layer : pass.layers) {
    if (std::find(layer_order_.begin(), layer_order_.end(), layer) == layer_order_.end()) {
      layer_order_.push_back(layer);
    }
    for (int32_t e : pass.first_chosen[static_cast<size_t>(layer)]) {
      uint8_t& seen = seen_[static_cast<size_t>(layer * options_.num_experts + e)];
      if (!seen) expert_order_[static_cast<size_t>(layer)].push_back(e);
      seen = 1;
    }
  }
  const int64_t capacity = options_.buffer_size;
  if (capacity < 0 || static_cast<int64_t>(ring_.size()) < capacity) {
    ring_.push_back(std::move(pass.counts));
  } else if (capacity > 0) {
    ring_[ring_next_] = std::move(pass.counts);
    ring_next_ = (ring_next_ + 1) % ring_.size();
  }
}

std::string ExpertDistributionRecorder::render() const {
  std::lock_guard lock(mu_);
  return render_locked();
}

std::string ExpertDistributionRecorder::render_locked() const {
  const int64_t experts = options_.num_experts;
  std::string out;
  switch (options_.mode) {
    case ExpertRecorderMode::kStat: {
      std::vector<int64_t> total(static_cast<size_t>(options_.num_layers * experts), 0);
      for (const auto& counts : ring_) {
        for (size_t i = 0; i < counts.size(); ++i) total[i] += counts[i];
      }
      out = "layer_id,expert_id,count\n";
      for (int64_t layer : layer_order_) {
        for (int32_t e : expert_order_[static_cast<size_t>(layer)]) {
          const int64_t c = total[static_cast<size_t>(layer * experts + e)];
          if (c > 0) out += fmt::format("{},{},{}\n", layer, e, c);
        }
      }
      break;
    }
    case ExpertRecorderMode::kPerPass:
      out = "forward_pass_id,layer_id,expert_id,count\n";
      for (const Pass& p : passes_) {
        for (int64_t layer = 0; layer < options_.num_layers; ++layer) {
          for (int64_t e = 0; e < experts; ++e) {
            const int32_t c = p.counts[static_cast<size_t>(layer * experts + e)];
            if (c > 0) out += fmt::format("{},{},{},{}\n", p.id, layer, e, c);
          }
        }
      }
      break;
    case ExpertRecorderMode::kPerToken: {
      int64_t k = 0;
      for (const Pass& p : passes_) k = std::max(k, p.top_k);
      out = "forward_pass_id,token_index,input_id,position,layer_id";
      for (int64_t j = 0; j < k; ++j) out += fmt::format(",expert_{}", j);
      out += "\n";
      for (const Pass& p : passes_) {
        for (size_t t = 0; t < p.input_ids.size(); ++t) {
          for (int64_t layer = 0; layer < options_.num_layers; ++layer) {
            const auto& ids = p.expert_ids[static_cast<size_t>(layer)];
            if (ids.size() < (t + 1) * static_cast<size_t>(p.top_k)) continue;
            out += fmt::format("{},{},{},{},{}", p.id, t, p.input_ids[t], p.positions[t], layer);
            for (int64_t j = 0; j < k; ++j) {
              out += fmt::format(",{}", j < p.top_k ? ids[t * p.top_k + j] : -1);
            }
            out += "\n";
          }
        }
      }
      break;
    }
  }
  return out;
}

Result<std::string> ExpertDistributionRecorder::dump_record() {
  std::string text;
  {
    std::lock_guard lock(mu_);
    text = render_locked();
    reset_locked();
  }
  // SGLang's names: expert_distribution_recorder_{time.time()}.pt for stat, with the rank
  // appended for the detail modes; Python's repr of the float is the shortest round trip, as fmt's.
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string name = fmt::format("expert_distribution_recorder_{}", now);
  if (options_.mode != ExpertRecorderMode::kStat) name += "_0";
  const std::filesystem::path path = std::filesystem::path(options_.dir) / (name + ".csv");
  SGLANG_LOG_INFO("Write expert distribution to {}", path.string());
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  std::ofstream file(path);
  file << text;
  file.close();
  if (!file) {
    return make_error(ErrorCode::kInternal, "cannot write " + path.string() +
                                                (ec ? " (" + ec.message() + ")" : std::string()));
  }
  return path.string();
}

}  // namespace sglang
