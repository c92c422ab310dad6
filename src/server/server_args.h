#pragma once
// SGLang's launch_server flags (python/sglang/srt/server_args.py): the same names and defaults, as
// typed fields. One table (server_args.cpp) binds each flag to its field, so the CLI, the derived
// defaults and /get_server_info (SGLang's dataclasses.asdict(server_args)) read the same values.
// Flags that SGLang has but that do not apply here (GPU-only tuning, distributed serving) are
// accepted and logged as ignored when set, so an existing launch command keeps working; a misspelt
// flag is an error.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/dtype.h"
#include "util/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace sglang {

struct ServerArgs {
  // Model and tokenizer
  std::string model_path;
  std::string tokenizer_path;  // default: model_path
  bool skip_tokenizer_init = false;
  std::string load_format = "auto";
  std::string dtype = "auto";
  // SGLang's --kv-cache-dtype: auto (the model's dtype), bf16 / bfloat16, and here also fp16 /
  // float16 and fp32 / float32; SGLang's fp8 and fp4 values are refused (finalize()).
  std::string kv_cache_dtype = "auto";
  // SGLang's --quantization: w8a8_int8 quantizes a float checkpoint's matmul weights at load (per
  // channel int8, int8 activations; SGLang reads them pre-quantized); SGLang's other methods are
  // refused as not supported on the CPU (gguf is accepted: a GGUF file's own block types), other
  // values as SGLang's argparse choices refuse them.
  std::optional<std::string> quantization;
  std::optional<int64_t> context_length;  // default: the model's
  bool is_embedding = false;
  std::optional<std::string> chat_template;
  std::string served_model_name;  // default: model_path
  std::string weight_version = "default";
  // HTTP server
  std::string host = "127.0.0.1";
  int64_t port = 30000;
  std::optional<std::string> api_key;
  std::optional<std::string> admin_api_key;
  double watchdog_timeout = 300;  // seconds
  bool enable_metrics = false;
  std::string log_level = "info";
  bool log_requests = false;
  int64_t decode_log_interval = 40;
  bool enable_cache_report = false;
  int64_t stream_interval = 1;
  bool incremental_streaming_output = false;
  std::optional<int64_t> random_seed;  // default: random (finalize)
  int64_t max_http_body_bytes = 64ll << 20;
  int64_t max_http_header_bytes = 64ll << 10;  // request line + headers
  double http_idle_timeout = 60;               // seconds
  std::optional<int64_t> http_threads;         // default: 2
  // Memory and scheduling
  std::optional<double> mem_fraction_static;
  std::optional<int64_t> max_running_requests;
  std::optional<int64_t> max_queued_requests;  // default: derived by the scheduler
  std::optional<int64_t> max_total_tokens;
  std::optional<int64_t> chunked_prefill_size;
  std::string schedule_policy = "fcfs";
  double schedule_conservativeness = 1.0;
  int64_t page_size = 1;
  bool disable_radix_cache = false;
  bool enable_jump_forward = false;
  // SGLang's --enable-mixed-chunk (decodes join the prefill chunks' forward) is the default on the
  // CPU, where a prefill step is long enough that decodes held behind it stall for seconds;
  // --disable-mixed-chunk (ours) gives SGLang's default: a step prefills or decodes.
  bool enable_mixed_chunk = false;
  bool disable_mixed_chunk = false;
  // "cuda" or "cpu"; empty (the default): cuda when the build has CUDA and a GPU is visible, else
  // cpu (SGLang's --device default). main.cpp resolves it and writes the choice back.
  std::string device;
  int64_t base_gpu_id = 0;
  // CUDA graphs are not captured yet: --disable-cuda-graph and --disable-overlap-schedule are
  // honoured trivially (decode runs eagerly, the scheduler does not overlap), and graph batch
  // sizes are refused at start rather than ignored (finalize).
  bool disable_cuda_graph = false;
  std::optional<int64_t> cuda_graph_max_bs;
  std::vector<int64_t> cuda_graph_bs;
  bool disable_overlap_schedule = false;
  // SGLang's data parallelism: --dp-size engine replicas in this process, dispatched by
  // --load-balance-method (SGLang's default round_robin).
  int64_t dp_size = 1;
  std::string load_balance_method = "round_robin";
  // Structured output: SGLang's backend names all select our grammar engine; "none" disables it.
  std::optional<std::string> grammar_backend;  // default: xgrammar (finalize)
  bool constrained_json_disable_any_whitespace = false;
  bool enable_custom_logit_processor = false;  // refused at start (finalize)
  // OpenAI API: SGLang's function_call/ and parser/reasoning_parser.py names
  std::optional<std::string> tool_call_parser;
  std::optional<std::string> reasoning_parser;
  // MoE expert distribution recorder (engine/expert_distribution_recorder.h)
  std::optional<std::string> expert_distribution_recorder_mode;
  int64_t expert_distribution_recorder_buffer_size = 1000;
  bool enable_expert_distribution_metrics = false;
  int64_t threads = 0;  // CPU threads of the model (0: all cores)

  // Values of the flags that do not apply here (name -> value), kept for /get_server_info.
  nlohmann::ordered_json compat = nlohmann::ordered_json::object();

  // Every flag in the table's order, as /get_server_info shows them.
  nlohmann::ordered_json to_json() const;
};

// The KV cache's storage dtype for --kv-cache-dtype (validated by finalize()). "auto" is the
// model's dtype, as SGLang's ModelRunner (kv_cache_dtype = model dtype), and the model's dtype here
// is the dtype its weights are held in: --dtype when given (weight_dtype), else bfloat16 for a GGUF
// file (llama.cpp's converter records the source model's 16-bit float type, and block-quantized
// weights have no float dtype of their own), else the checkpoint's torch_dtype.
// An encoder (causal false) keeps float32 under auto: its K/V live only within its one
// bidirectional forward (no radix cache, no decode), so the cache's bandwidth never matters there.
// Attention computes in float32 whatever the cache holds.
DType resolve_kv_cache_dtype(const std::string& kv_cache_dtype, std::optional<DType> weight_dtype,
                             bool gguf, const std::string& torch_dtype, bool causal = true);

// The command line of `serve` / `launch_server`.
class ServerArgsParser {
 public:
  // Registers every flag on `app`.
  void add_to(CLI::App& app);
  // After parsing: the typed values, derived defaults filled (tokenizer_path = model_path,
  // served_model_name = model_path, ...), ignored flags logged; an error names the flag.
  Result<ServerArgs> finalize() const;

 private:
  std::vector<std::string> raw_;                 // one string per flag, as given
  std::vector<std::vector<std::string>> lists_;  // the values of list flags (--cuda-graph-bs)
  std::vector<CLI::Option*> options_;
};

}  // namespace sglang
