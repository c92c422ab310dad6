#include "server/server_args.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <random>

#include "util/logging.h"

namespace sglang {

namespace {
using OJson = nlohmann::ordered_json;

std::string dashed(const std::string& name) {
  std::string s = "--" + name;
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}
}  // namespace

const std::vector<ServerArgs::Flag>& ServerArgs::flags() {
  // name, type, default, applies, help. Defaults are SGLang's; null where SGLang derives the
  // value at start-up (then we derive it too, see finalize() and the scheduler).
  static const std::vector<Flag> kFlags = {
      // Model and tokenizer
      {"model_path", 's', nullptr, true, "Hugging Face model directory"},
      {"tokenizer_path", 's', nullptr, true, "tokenizer directory (default: the model path)"},
      {"tokenizer_mode", 's', "auto", false, ""},
      {"skip_tokenizer_init", 'b', false, true, "take and return token ids only"},
      {"load_format", 's', "auto", true, "auto, safetensors or gguf (auto: detected)"},
      {"trust_remote_code", 'b', false, false, ""},
      {"dtype", 's', "auto", true, "auto, float32, bfloat16, float16"},
      {"kv_cache_dtype", 's', "auto", false, ""},
      {"context_length", 'i', nullptr, true, "maximum tokens of a request (default: the model's)"},
      {"is_embedding", 'b', false, true, "serve an embedding model"},
      {"revision", 's', nullptr, false, ""},
      {"model_impl", 's', "auto", false, ""},
      {"chat_template", 's', nullptr, true, "chat template file or name"},
      {"served_model_name", 's', nullptr, true, "model name in responses (default: the path)"},
      {"weight_version", 's', "default", true, "version string reported with the weights"},
      // HTTP server
      {"host", 's', "127.0.0.1", true, "address to listen on"},
      {"port", 'i', 30000, true, "port to listen on"},
      {"api_key", 's', nullptr, true,
       "require 'Authorization: Bearer KEY' on every route but health"},
      {"admin_api_key", 's', nullptr, false, ""},
      {"enable_metrics", 'b', false, true, "serve Prometheus metrics on /metrics"},
      {"log_level", 's', "info", true, "debug, info, warning, error, critical"},
      {"log_level_http", 's', nullptr, false, ""},
      {"log_requests", 'b', false, true, "log each request"},
      {"log_requests_level", 'i', 2, false, ""},
      {"show_time_cost", 'b', false, false, ""},
      {"decode_log_interval", 'i', 40, true, "log decode throughput every N steps"},
      {"watchdog_timeout", 'f', 300.0, false, ""},
      {"file_storage_path", 's', "sglang_storage", false, ""},
      {"enable_cache_report", 'b', false, true, "report cached tokens in OpenAI usage"},
      {"stream_interval", 'i', 1, true, "tokens between streamed chunks"},
      {"stream_output", 'b', false, false, ""},
      {"incremental_streaming_output", 'b', false, true, "stream only the new text of each chunk"},
      {"random_seed", 'i', nullptr, true, "seed of unseeded sampling (default: random)"},
      {"max_http_body_bytes", 'i', 67108864, true, "largest accepted request body"},
      {"http_threads", 'i', nullptr, true, "I/O threads of the HTTP server (default: 2)"},
      // Memory and scheduling
      {"mem_fraction_static", 'f', nullptr, true, "share of free memory for the KV cache pool"},
      {"max_running_requests", 'i', nullptr, true, "requests decoded together"},
      {"max_queued_requests", 'i', nullptr, false, ""},
      {"max_total_tokens", 'i', nullptr, true, "KV cache pool size in tokens"},
      {"chunked_prefill_size", 'i', nullptr, true, "prompt tokens per step (-1: no chunking)"},
      {"max_prefill_tokens", 'i', 16384, false, ""},
      {"schedule_policy", 's', "fcfs", true, "fcfs or lpm"},
      {"schedule_conservativeness", 'f', 1.0, true, "reservation for running requests"},
      {"page_size", 'i', 1, true, "tokens per KV cache page"},
      {"disable_radix_cache", 'b', false, true, "no prefix cache"},
      {"cpu_offload_gb", 'i', 0, false, ""},
      // Backends and parallelism (accepted; this server runs one process on one device)
      {"device", 's', "cpu", true, "cpu"},
      {"tp_size", 'i', 1, false, ""},
      {"pp_size", 'i', 1, false, ""},
      {"dp_size", 'i', 1, false, ""},
      {"ep_size", 'i', 1, false, ""},
      {"base_gpu_id", 'i', 0, false, ""},
      {"gpu_id_step", 'i', 1, false, ""},
      {"nnodes", 'i', 1, false, ""},
      {"node_rank", 'i', 0, false, ""},
      {"dist_init_addr", 's', nullptr, false, ""},
      {"attention_backend", 's', nullptr, false, ""},
      {"sampling_backend", 's', nullptr, false, ""},
      {"grammar_backend", 's', nullptr, false, ""},
      {"quantization", 's', nullptr, false, ""},
      {"disable_cuda_graph", 'b', false, false, ""},
      {"cuda_graph_max_bs", 'i', nullptr, false, ""},
      {"disable_overlap_schedule", 'b', false, false, ""},
      {"enable_mixed_chunk", 'b', false, false, ""},
      {"enable_torch_compile", 'b', false, false, ""},
      {"torch_compile_max_bs", 'i', 32, false, ""},
      {"enable_dp_attention", 'b', false, false, ""},
      {"triton_attention_reduce_in_fp32", 'b', false, false, ""},
      {"num_continuous_decode_steps", 'i', 1, false, ""},
      {"allow_auto_truncate", 'b', false, false, ""},
      {"enable_custom_logit_processor", 'b', false, false, ""},
      {"tool_call_parser", 's', nullptr, false, ""},
      {"reasoning_parser", 's', nullptr, false, ""},
      // MoE expert distribution recorder (engine/expert_distribution_recorder.h)
      {"expert_distribution_recorder_mode", 's', nullptr, true,
       "record MoE routing: stat, per_pass or per_token"},
      {"expert_distribution_recorder_buffer_size", 'i', nullptr, true,
       "forward passes kept by stat mode (-1: all; default 1000)"},
      {"enable_expert_distribution_metrics", 'b', false, true,
       "record from the start and log expert balancedness per forward pass"},
      {"download_dir", 's', nullptr, false, ""},
      {"tokenizer_worker_num", 'i', 1, false, ""},
      {"threads", 'i', 0, true, "CPU threads of the model (0: all cores)"},
  };
  return kFlags;
}

void ServerArgs::add_to(CLI::App& app) {
  const auto& fl = flags();
  raw_.assign(fl.size(), "");
  options_.assign(fl.size(), nullptr);
  for (size_t i = 0; i < fl.size(); ++i) {
    const Flag& f = fl[i];
    const std::string help = f.applies ? f.help : "accepted for SGLang compatibility; no effect";
    if (f.type == 'b') {
      options_[i] = app.add_flag(dashed(f.name), help);
    } else {
      options_[i] = app.add_option(dashed(f.name), raw_[i], help);
    }
  }
  options_[0]->required();
}

Status ServerArgs::finalize() {
  const auto& fl = flags();
  args_ = OJson::object();
  for (size_t i = 0; i < fl.size(); ++i) {
    const Flag& f = fl[i];
    const bool given = options_[i]->count() > 0;
    OJson v = f.default_value;
    if (given) {
      try {
        switch (f.type) {
          case 'b':
            v = true;
            break;
          case 'i':
            v = std::stoll(raw_[i]);
            break;
          case 'f':
            v = std::stod(raw_[i]);
            break;
          default:
            v = raw_[i];
        }
      } catch (const std::exception&) {
        return make_error(ErrorCode::kInvalidArgument,
                          dashed(f.name) + ": not a valid value: " + raw_[i]);
      }
      if (!f.applies) {
        SGLANG_LOG_WARN("{} is accepted for SGLang compatibility and has no effect here",
                        dashed(f.name));
      }
    }
    args_[f.name] = v;
  }
  if (args_["tokenizer_path"].is_null()) args_["tokenizer_path"] = args_["model_path"];
  if (args_["served_model_name"].is_null()) args_["served_model_name"] = args_["model_path"];
  if (args_["random_seed"].is_null()) {
    args_["random_seed"] = static_cast<int64_t>(std::random_device{}() % 1000000000);
  }
  const std::string sched = args_["schedule_policy"];
  if (sched != "fcfs" && sched != "lpm") {
    return make_error(
        ErrorCode::kInvalidArgument,
        "--schedule-policy must be fcfs or lpm (the policies implemented), got " + sched);
  }
  // As SGLang: the buffer size follows eplb_rebalance_num_iterations (1000) when not given.
  if (args_["expert_distribution_recorder_buffer_size"].is_null()) {
    args_["expert_distribution_recorder_buffer_size"] = 1000;
  }
  if (args_["expert_distribution_recorder_buffer_size"].get<int64_t>() == 0 ||
      args_["expert_distribution_recorder_buffer_size"].get<int64_t>() < -1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--expert-distribution-recorder-buffer-size must be positive or -1 "
                      "(unbounded)");
  }
  const std::string device = args_["device"];
  if (device != "cpu") {
    return make_error(ErrorCode::kUnsupported,
                      "--device " + device + " is not available in this build; use --device cpu");
  }
  return {};
}

std::string ServerArgs::str(const std::string& key) const {
  const OJson& v = args_.at(key);
  return v.is_null() ? "" : v.get<std::string>();
}
int64_t ServerArgs::integer(const std::string& key, int64_t fallback) const {
  const OJson& v = args_.at(key);
  return v.is_null() ? fallback : v.get<int64_t>();
}
double ServerArgs::number(const std::string& key, double fallback) const {
  const OJson& v = args_.at(key);
  return v.is_null() ? fallback : v.get<double>();
}
bool ServerArgs::flag(const std::string& key) const {
  return args_.at(key).get<bool>();
}
bool ServerArgs::is_null(const std::string& key) const {
  return args_.at(key).is_null();
}

}  // namespace sglang
