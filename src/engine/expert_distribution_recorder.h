#pragma once
// SGLang's expert distribution recorder (--expert-distribution-recorder-mode,
// srt/eplb/expert_distribution.py): while recording is on, it keeps which experts the MoE layers
// route the tokens of each forward pass to; a dump writes what was kept to a file in
// SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR (default /tmp) and starts over.
//
// Modes, as SGLang's:
//   stat       per layer and expert, the number of top-k selections over the last
//              `buffer_size` forward passes (-1: all of them)
//   per_pass   the same counts, one set per forward pass
//   per_token  every token's top-k expert ids per pass and layer, with its input id and position
// (SGLang's stat_approx counts DeepEP dispatches and fails without DeepEP; it is not offered.)
//
// The file: SGLang saves a torch .pt (a pickle); this writes CSV. For stat, the format of SGLang's
// first recorder: `layer_id,expert_id,count`, layers and experts in the order they were first
// routed to, experts never chosen left out. The detail modes write one row per pass, layer and
// expert (per_pass) or per pass, token and layer (per_token).
//
// Threads: the on_* hooks run on the thread that runs the forward; start/stop/dump on any other.
// A pass counts only if recording was on from its first hook to its last with no start or dump in
// between, so a pass is never split between two dumps.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "model/expert_routing_observer.h"
#include "util/status.h"

namespace sglang {

enum class ExpertRecorderMode { kStat, kPerPass, kPerToken };

// "stat", "per_pass", "per_token"; stat_approx and anything else are errors naming the choices.
Result<ExpertRecorderMode> parse_expert_recorder_mode(const std::string& name);

struct ExpertRecorderOptions {
  ExpertRecorderMode mode = ExpertRecorderMode::kStat;
  int64_t num_layers = 0;      // decoder layers (dense ones are never routed)
  int64_t num_experts = 0;     // routed experts per MoE layer
  int64_t buffer_size = 1000;  // stat: passes kept; -1: unbounded
  std::string dir = "/tmp";
  // --enable-expert-distribution-metrics: record from the start and log each pass's balancedness.
  bool log_metrics = false;
};

class ExpertDistributionRecorder final : public ExpertRoutingObserver {
 public:
  explicit ExpertDistributionRecorder(ExpertRecorderOptions options);

  // Clears what was recorded and records from the next forward pass on.
  void start_record();
  void stop_record();
  // Writes the record to a new file in the directory, clears it (recording stays as it is) and
  // returns the file's path.
  Result<std::string> dump_record();
  // The file's contents without writing or clearing anything.
  std::string render() const;
  bool recording() const;
  const ExpertRecorderOptions& options() const { return options_; }

  void on_forward_begin(const ForwardBatch& batch) override;
  void on_select_experts(int64_t layer, const int32_t* expert_ids, int64_t num_tokens,
                         int64_t top_k) override;
  void on_forward_end() override;

 private:
  // One forward pass as the hooks saw it.
  struct Pass {
    int64_t id = 0;
    std::vector<int32_t> counts;  // [layer * num_experts + expert]
    std::vector<int64_t> layers;  // MoE layers in the order they routed
    // stat: each layer's experts in the order this pass first chose them
    std::vector<std::vector<int32_t>> first_chosen;
    // per_token
    int64_t top_k = 0;
    std::vector<int32_t> input_ids, positions;
    std::vector<std::vector<int32_t>> expert_ids;  // [layer][token * top_k + j]
  };

  void reset_locked();
  void commit_locked(Pass& pass);
  std::string render_locked() const;
  int32_t& count(std::vector<int32_t>& counts, int64_t layer, int64_t expert) const {
    return counts[static_cast<size_t>(layer * options_.num_experts + expert)];
  }

  const ExpertRecorderOptions options_;

  mutable std::mutex mu_;
  bool recording_ = false;
  uint64_t epoch_ = 0;  // bumped by start and dump: a pass begun before does not count
  // stat: a ring of the last buffer_size passes' counts, and the first-chosen order since the
  // last reset
  std::vector<std::vector<int32_t>> ring_;
  size_t ring_next_ = 0;
  std::vector<int64_t> layer_order_;
  std::vector<std::vector<int32_t>> expert_order_;  // [layer]
  std::vector<uint8_t> seen_;                       // [layer * num_experts + expert]
  // per_pass / per_token
  std::vector<Pass> passes_;

  // The forward thread's pass in progress (no lock: only that thread touches it).
  Pass current_;
  bool current_recorded_ = false;
  uint64_t current_epoch_ = 0;
  int64_t next_pass_id_ = 1;
};

}  // namespace sglang
