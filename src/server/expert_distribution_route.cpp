// SGLang's expert distribution routes (http_server.py): /start_expert_distribution_record,
// /stop_expert_distribution_record and /dump_expert_distribution_record, GET or POST, each
// answering 200 with one line of text. The recorder lives beside the model; the scheduler thread
// feeds it from inside the forward, these routes drive it from the HTTP side.
#include <cstdlib>
#include <thread>

#include "server/api_error.h"
#include "server/api_server.h"
#include "util/logging.h"

namespace sglang {

namespace {
constexpr const char* kText = "text/plain; charset=utf-8";
}  // namespace

Status ApiServer::init_expert_recorder() {
  if (!args_.expert_distribution_recorder_mode) return {};
  SGLANG_ASSIGN_OR_RETURN(ExpertRecorderMode mode,
                          parse_expert_recorder_mode(*args_.expert_distribution_recorder_mode));
  const ModelConfig& c = model_->config();
  if (!c.is_moe()) {
    // SGLang fails its start-up the same way: a model without routed experts has no expert
    // location metadata.
    return make_error(ErrorCode::kInvalidArgument,
                      "ExpertLocationMetadata is required for expert distribution recording. One "
                      "possible reason is that you are using a model that does not support "
                      "expert distribution recording (" +
                          c.architecture_name +
                          " has no routed experts; --expert-distribution-recorder-mode needs a "
                          "mixture-of-experts model such as Qwen2MoeForCausalLM).");
  }
  ExpertRecorderOptions o;
  o.mode = mode;
  o.num_layers = c.num_hidden_layers;
  o.num_experts = c.moe.num_experts;
  o.buffer_size = args_.expert_distribution_recorder_buffer_size;
  const char* dir = std::getenv("SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR");
  o.dir = dir != nullptr && *dir != '\0' ? dir : "/tmp";
  o.log_metrics = args_.enable_expert_distribution_metrics;
  recorder_ = std::make_unique<ExpertDistributionRecorder>(std::move(o));
  model_->set_expert_routing_observer(recorder_.get());
  return {};
}

void ApiServer::expert_distribution(const std::string& path, std::shared_ptr<http::Exchange> ex) {
  if (!recorder_) {
    // SGLang's no-op recorder raises this in its scheduler (which does not survive it); here the
    // request gets the message instead.
    return respond_error(ex,
                         ApiError::plain(400,
                                         "Please set ServerArgs.expert_distribution_recorder_mode "
                                         "to use ExpertDistributionRecorder.\n"));
  }
  if (path == "/start_expert_distribution_record") {
    recorder_->start_record();
    ex->respond(200, kText, "Start recording the expert distribution.\n");
    return;
  }
  if (path == "/stop_expert_distribution_record") {
    recorder_->stop_record();
    ex->respond(200, kText, "Stop recording the expert distribution.\n");
    return;
  }
  // The file write runs off the I/O threads.
  std::thread([this, ex] {
    auto written = recorder_->dump_record();
    if (!written.ok()) {
      SGLANG_LOG_ERROR("dump_expert_distribution_record: {}", written.error().message);
      return respond_error(ex, ApiError::plain(500, "Failed to dump expert distribution record: " +
                                                        written.error().message + "\n"));
    }
    ex->respond(200, kText, "Dump expert distribution record.\n");
  }).detach();
}

}  // namespace sglang
