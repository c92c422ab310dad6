#include "server/server_args.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <random>
#include <string_view>
#include <variant>

#include "engine/data_parallel_scheduler.h"
#include "util/logging.h"

namespace sglang {

namespace {
using OJson = nlohmann::ordered_json;

// A flag that does not apply here: its type ('b', 'i', 'f', 's') and SGLang's default.
struct Compat {
  char type;
  OJson default_value;
};

// Where a flag's value lives: a typed field of ServerArgs, or ServerArgs::compat.
using Field =
    std::variant<bool ServerArgs::*, int64_t ServerArgs::*, std::optional<int64_t> ServerArgs::*,
                 double ServerArgs::*, std::optional<double> ServerArgs::*,
                 std::string ServerArgs::*, std::optional<std::string> ServerArgs::*,
                 std::vector<int64_t> ServerArgs::*, Compat>;

struct Flag {
  const char* name;  // snake_case key; the flag is --name-with-dashes
  Field field;
  const char* help;  // empty: accepted for SGLang compatibility, no effect here
};

using A = ServerArgs;

// SGLang's flags in its order; defaults are the fields' initializers (SGLang's), null where SGLang
// derives the value at start-up (then we derive it too, see finalize() and the scheduler).
const std::vector<Flag>& flags() {
  static const std::vector<Flag> kFlags = {
      // Model and tokenizer
      {"model_path", &A::model_path, "Hugging Face model directory or GGUF file"},
      {"tokenizer_path", &A::tokenizer_path, "tokenizer directory (default: the model path)"},
      {"tokenizer_mode", Compat{'s', "auto"}, ""},
      {"skip_tokenizer_init", &A::skip_tokenizer_init, "take and return token ids only"},
      {"load_format", &A::load_format, "auto, safetensors or gguf (auto: detected)"},
      {"trust_remote_code", Compat{'b', false}, ""},
      {"dtype", &A::dtype, "auto, float32, bfloat16, float16"},
      {"kv_cache_dtype", &A::kv_cache_dtype,
       "KV cache storage: auto (the model's dtype), bf16/bfloat16, fp16/float16, fp32/float32"},
      {"context_length", &A::context_length, "maximum tokens of a request (default: the model's)"},
      {"is_embedding", &A::is_embedding, "serve an embedding model"},
      {"revision", Compat{'s', nullptr}, ""},
      {"model_impl", Compat{'s', "auto"}, ""},
      {"chat_template", &A::chat_template, "chat template file (default: the tokenizer's)"},
      {"served_model_name", &A::served_model_name, "model name in responses (default: the path)"},
      {"weight_version", &A::weight_version, "version string reported with the weights"},
      // HTTP server
      {"host", &A::host, "address to listen on"},
      {"port", &A::port, "port to listen on"},
      {"api_key", &A::api_key, "require 'Authorization: Bearer KEY' on every route but health"},
      {"admin_api_key", &A::admin_api_key,
       "require 'Authorization: Bearer KEY' on the admin routes (flush, weights, ...)"},
      {"enable_metrics", &A::enable_metrics, "serve Prometheus metrics on /metrics"},
      {"log_level", &A::log_level, "debug, info, warning, error, critical"},
      {"log_level_http", Compat{'s', nullptr}, ""},
      {"log_requests", &A::log_requests, "log each request"},
      {"log_requests_level", Compat{'i', 2}, ""},
      {"show_time_cost", Compat{'b', false}, ""},
      {"decode_log_interval", &A::decode_log_interval, "log decode throughput every N steps"},
      {"watchdog_timeout", &A::watchdog_timeout,
       "seconds a forward step may run before the process ends (<= 0: no watchdog)"},
      {"file_storage_path", Compat{'s', "sglang_storage"}, ""},
      {"enable_cache_report", &A::enable_cache_report, "report cached tokens in OpenAI usage"},
      {"stream_interval", &A::stream_interval, "tokens between streamed chunks"},
      {"stream_output", Compat{'b', false}, ""},
      {"incremental_streaming_output", &A::incremental_streaming_output,
       "stream only the new text of each chunk"},
      {"random_seed", &A::random_seed, "seed of unseeded sampling (default: random)"},
      {"constrained_json_whitespace_pattern", Compat{'s', nullptr}, ""},
      {"constrained_json_disable_any_whitespace", &A::constrained_json_disable_any_whitespace,
       "JSON-constrained output without free whitespace"},
      {"max_http_body_bytes", &A::max_http_body_bytes, "largest accepted request body"},
      {"max_http_header_bytes", &A::max_http_header_bytes,
       "largest accepted request line + headers (431 beyond)"},
      {"http_idle_timeout", &A::http_idle_timeout,
       "seconds an idle or slowly sending connection is kept"},
      {"http_threads", &A::http_threads, "I/O threads of the HTTP server (default: 2)"},
      // Memory and scheduling
      {"mem_fraction_static", &A::mem_fraction_static,
       "share of free memory for the KV cache pool"},
      {"max_running_requests", &A::max_running_requests, "requests decoded together"},
      {"max_queued_requests", &A::max_queued_requests,
       "waiting requests beyond this get 503 (default: 4 per running request, >= 4096)"},
      {"max_total_tokens", &A::max_total_tokens, "KV cache pool size in tokens"},
      {"chunked_prefill_size", &A::chunked_prefill_size,
       "prompt tokens per step (-1: no chunking)"},
      {"max_prefill_tokens", Compat{'i', 16384}, ""},
      {"schedule_policy", &A::schedule_policy, "fcfs or lpm"},
      {"schedule_conservativeness", &A::schedule_conservativeness,
       "reservation for running requests"},
      {"page_size", &A::page_size, "tokens per KV cache page"},
      {"disable_radix_cache", &A::disable_radix_cache, "no prefix cache"},
      {"enable_jump_forward", &A::enable_jump_forward,
       "append what a grammar forces without a decode step per token (SGLang <= 0.4's "
       "jump-forward; 0.5 has none, so it is off by default)"},
      {"disable_jump_forward", Compat{'b', false}, ""},
      {"cpu_offload_gb", Compat{'i', 0}, ""},
      // Backends and parallelism (accepted; this server runs one process on one device)
      {"device", &A::device,
       "cuda or cpu (default: cuda when the build has CUDA and a GPU is visible, else cpu)"},
      {"tp_size", Compat{'i', 1}, ""},
      {"pp_size", Compat{'i', 1}, ""},
      {"dp_size", &A::dp_size,
       "data-parallel engine replicas in this process (each its own scheduler, KV pool share "
       "and --threads / N cores); also --data-parallel-size"},
      {"load_balance_method", &A::load_balance_method,
       "how --dp-size replicas share requests: round_robin, shortest_queue (minimum_tokens: "
       "round robin, as SGLang)"},
      {"ep_size", Compat{'i', 1}, ""},
      {"base_gpu_id", &A::base_gpu_id, "the GPU to run on with --device cuda"},
      {"gpu_id_step", Compat{'i', 1}, ""},
      {"nnodes", Compat{'i', 1}, ""},
      {"node_rank", Compat{'i', 0}, ""},
      {"dist_init_addr", Compat{'s', nullptr}, ""},
      {"attention_backend", Compat{'s', nullptr}, ""},
      {"sampling_backend", Compat{'s', nullptr}, ""},
      {"grammar_backend", &A::grammar_backend,
       "xgrammar, outlines or llguidance (all served by our grammar engine) or none"},
      {"quantization", &A::quantization,
       "w8a8_int8: a float checkpoint's matmul weights as int8 per output channel, the "
       "activations rounded to int8 per 32 values"},
      {"disable_cuda_graph", &A::disable_cuda_graph,
       "no CUDA graphs (decode always runs without them here: none are captured yet)"},
      {"cuda_graph_max_bs", &A::cuda_graph_max_bs,
       "refused: CUDA graphs are not captured yet (give --disable-cuda-graph or drop it)"},
      {"cuda_graph_bs", &A::cuda_graph_bs,
       "refused: CUDA graphs are not captured yet (give --disable-cuda-graph or drop it)"},
      {"disable_overlap_schedule", &A::disable_overlap_schedule,
       "no overlap of scheduling with the forward (there is none here yet)"},
      {"enable_mixed_chunk", &A::enable_mixed_chunk,
       "decode tokens join the prefill chunks' forward (the default on the CPU)"},
      {"disable_mixed_chunk", &A::disable_mixed_chunk,
       "a step prefills or decodes, never both (SGLang's default without --enable-mixed-chunk)"},
      {"enable_torch_compile", Compat{'b', false}, ""},
      {"torch_compile_max_bs", Compat{'i', 32}, ""},
      {"enable_dp_attention", Compat{'b', false}, ""},
      {"triton_attention_reduce_in_fp32", Compat{'b', false}, ""},
      {"num_continuous_decode_steps", Compat{'i', 1}, ""},
      {"allow_auto_truncate", Compat{'b', false}, ""},
      {"enable_custom_logit_processor", &A::enable_custom_logit_processor,
       "refused: Python logit processors cannot run in this server"},
      {"tool_call_parser", &A::tool_call_parser,
       "parse tool calls of this format in OpenAI chat output (qwen25, llama3, ...)"},
      {"reasoning_parser", &A::reasoning_parser,
       "separate reasoning of this format in OpenAI chat output (deepseek-r1, qwen3, ...)"},
      {"expert_distribution_recorder_mode", &A::expert_distribution_recorder_mode,
       "record MoE routing: stat, per_pass or per_token"},
      {"expert_distribution_recorder_buffer_size", &A::expert_distribution_recorder_buffer_size,
       "forward passes kept by stat mode (-1: all; default 1000)"},
      {"enable_expert_distribution_metrics", &A::enable_expert_distribution_metrics,
       "record from the start and log expert balancedness per forward pass"},
      {"download_dir", Compat{'s', nullptr}, ""},
      {"tokenizer_worker_num", Compat{'i', 1}, ""},
      {"threads", &A::threads, "CPU threads of the model (0: all cores)"},
  };
  return kFlags;
}

std::string dashed(const std::string& name) {
  std::string s = "--" + name;
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

char type_of(const Field& f) {
  struct Visitor {
    char operator()(bool A::*) const { return 'b'; }
    char operator()(int64_t A::*) const { return 'i'; }
    char operator()(std::optional<int64_t> A::*) const { return 'i'; }
    char operator()(double A::*) const { return 'f'; }
    char operator()(std::optional<double> A::*) const { return 'f'; }
    char operator()(std::string A::*) const { return 's'; }
    char operator()(std::optional<std::string> A::*) const { return 's'; }
    char operator()(std::vector<int64_t> A::*) const { return 'l'; }
    char operator()(const Compat& c) const { return c.type; }
  };
  return std::visit(Visitor{}, f);
}

}  // namespace

OJson ServerArgs::to_json() const {
  OJson j = OJson::object();
  for (const Flag& f : flags()) {
    std::visit(
        [&](const auto& field) {
          using T = std::decay_t<decltype(field)>;
          if constexpr (std::is_same_v<T, Compat>) {
            j[f.name] = compat.contains(f.name) ? compat[f.name] : field.default_value;
          } else {
            const auto& v = this->*field;
            if constexpr (requires { v.has_value(); }) {
              j[f.name] = v ? OJson(*v) : OJson(nullptr);
            } else {
              j[f.name] = v;
            }
          }
        },
        f.field);
  }
  return j;
}

void ServerArgsParser::add_to(CLI::App& app) {
  const auto& fl = flags();
  raw_.assign(fl.size(), "");
  lists_.assign(fl.size(), {});
  options_.assign(fl.size(), nullptr);
  for (size_t i = 0; i < fl.size(); ++i) {
    const Flag& f = fl[i];
    const std::string help = *f.help ? f.help : "accepted for SGLang compatibility; no effect";
    std::string names = dashed(f.name);
    // SGLang's flag is --data-parallel-size with --dp-size as its alias (dp_size in server_info).
    if (std::string_view(f.name) == "dp_size") names += ",--data-parallel-size";
    if (type_of(f.field) == 'b') {
      options_[i] = app.add_flag(names, help);
    } else if (type_of(f.field) == 'l') {
      options_[i] = app.add_option(names, lists_[i], help);
    } else {
      options_[i] = app.add_option(names, raw_[i], help);
    }
  }
  options_[0]->required();
}

Result<ServerArgs> ServerArgsParser::finalize() const {
  const auto& fl = flags();
  ServerArgs a;
  for (size_t i = 0; i < fl.size(); ++i) {
    const Flag& f = fl[i];
    if (options_[i]->count() == 0) continue;
    const std::string& raw = raw_[i];
    OJson v;
    try {
      switch (type_of(f.field)) {
        case 'b':
          v = true;
          break;
        case 'i':
          v = static_cast<int64_t>(std::stoll(raw));
          break;
        case 'f':
          v = std::stod(raw);
          break;
        case 'l':
          v = OJson::array();
          for (const std::string& item : lists_[i]) v.push_back(int64_t{std::stoll(item)});
          break;
        default:
          v = raw;
      }
    } catch (const std::exception&) {
      return make_error(ErrorCode::kInvalidArgument,
                        dashed(f.name) + ": not a valid value: " + raw);
    }
    std::visit(
        [&](const auto& field) {
          using T = std::decay_t<decltype(field)>;
          if constexpr (std::is_same_v<T, Compat>) {
            SGLANG_LOG_WARN("{} is accepted for SGLang compatibility and has no effect here",
                            dashed(f.name));
            a.compat[f.name] = v;
          } else {
            auto& dst = a.*field;
            using V = std::decay_t<decltype(dst)>;
            if constexpr (std::is_same_v<V, std::optional<int64_t>>) {
              dst = v.get<int64_t>();
            } else if constexpr (std::is_same_v<V, std::optional<double>>) {
              dst = v.get<double>();
            } else if constexpr (std::is_same_v<V, std::optional<std::string>>) {
              dst = v.get<std::string>();
            } else {
              dst = v.get<V>();
            }
          }
        },
        f.field);
  }
  if (a.tokenizer_path.empty()) a.tokenizer_path = a.model_path;
  if (a.served_model_name.empty()) a.served_model_name = a.model_path;
  if (!a.random_seed) a.random_seed = static_cast<int64_t>(std::random_device{}() % 1000000000);
  if (a.schedule_policy != "fcfs" && a.schedule_policy != "lpm") {
    return make_error(ErrorCode::kInvalidArgument,
                      "--schedule-policy must be fcfs or lpm (the policies implemented), got " +
                          a.schedule_policy);
  }
  if (a.dp_size < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--dp-size must be at least 1, got " + std::to_string(a.dp_size));
  }
  if (auto method = parse_load_balance_method(a.load_balance_method); !method.ok()) {
    return method.error();
  }
  // SGLang's _handle_grammar_backend: xgrammar unless given.
  if (!a.grammar_backend) a.grammar_backend = "xgrammar";
  static const std::vector<std::string> kGrammarBackends = {"xgrammar", "outlines", "llguidance",
                                                            "none"};
  if (std::find(kGrammarBackends.begin(), kGrammarBackends.end(), *a.grammar_backend) ==
      kGrammarBackends.end()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--grammar-backend: invalid choice: '" + *a.grammar_backend +
                          "' (choose from 'xgrammar', 'outlines', 'llguidance', 'none')");
  }
  // As SGLang: the buffer size follows eplb_rebalance_num_iterations (1000) when not given.
  if (a.expert_distribution_recorder_buffer_size == 0 ||
      a.expert_distribution_recorder_buffer_size < -1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--expert-distribution-recorder-buffer-size must be positive or -1 "
                      "(unbounded)");
  }
  // SGLang's choices (auto, fp8_e5m2, fp8_e4m3, bf16, bfloat16, fp4_e2m1) plus the 16- and 32-bit
  // floats a CPU stores natively. The fp8/fp4 caches are CUDA kernels in SGLang; they are refused
  // here rather than silently widened.
  static const std::vector<std::string> kKvDtypes = {"auto", "bf16", "bfloat16", "fp16", "float16",
                                                     "half", "fp32", "float32",  "float"};
  if (std::find(kKvDtypes.begin(), kKvDtypes.end(), a.kv_cache_dtype) == kKvDtypes.end()) {
    const bool sglang_choice = a.kv_cache_dtype == "fp8_e5m2" || a.kv_cache_dtype == "fp8_e4m3" ||
                               a.kv_cache_dtype == "fp4_e2m1";
    return make_error(
        sglang_choice ? ErrorCode::kUnsupported : ErrorCode::kInvalidArgument,
        "--kv-cache-dtype " + a.kv_cache_dtype +
            (sglang_choice ? " is not supported by the CPU backend" : " is not a KV cache dtype") +
            " (choose from auto, bf16, bfloat16, fp16, float16, fp32, float32)");
  }
  if (a.quantization) {
    // SGLang's QUANTIZATION_CHOICES (server_args.py); w8a8_int8 is the one the CPU kernels take.
    static const std::vector<std::string> kSglangMethods = {
        "awq",          "fp8",          "gptq",      "marlin",     "gptq_marlin",
        "awq_marlin",   "bitsandbytes", "gguf",      "modelopt",   "modelopt_fp8",
        "modelopt_fp4", "petit_nvfp4",  "w8a8_int8", "w8a8_fp8",   "moe_wna16",
        "qoq",          "w4afp8",       "mxfp4",     "auto-round", "compressed-tensors"};
    const std::string& q = *a.quantization;
    if (std::find(kSglangMethods.begin(), kSglangMethods.end(), q) == kSglangMethods.end()) {
      std::string choices;
      for (const auto& m : kSglangMethods) choices += (choices.empty() ? "" : ", ") + m;
      return make_error(ErrorCode::kInvalidArgument, "argument --quantization: invalid choice: '" +
                                                         q + "' (choose from " + choices + ")");
    }
    if (q != "w8a8_int8" && q != "gguf") {
      return make_error(ErrorCode::kUnsupported,
                        "--quantization " + q +
                            " is not supported on the CPU backend (w8a8_int8 is, and gguf: a GGUF "
                            "file's own block types)");
    }
  }
  if (a.enable_custom_logit_processor) {
    return make_error(
        ErrorCode::kUnsupported,
        "--enable-custom-logit-processor is not supported: SGLang's custom logit processors are "
        "dill-pickled Python callables, and Python processors cannot run in this server (it has "
        "no Python interpreter).");
  }
  if (a.max_http_header_bytes < 1024 || a.http_idle_timeout <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--max-http-header-bytes must be at least 1024 and --http-idle-timeout "
                      "positive");
  }
  if (!a.device.empty() && a.device != "cpu" && a.device != "cuda") {
    return make_error(ErrorCode::kUnsupported,
                      "--device " + a.device + " is not supported (choose cuda or cpu)");
  }
  if ((a.cuda_graph_max_bs || !a.cuda_graph_bs.empty()) && !a.disable_cuda_graph) {
    return make_error(ErrorCode::kUnsupported,
                      "--cuda-graph-bs / --cuda-graph-max-bs cannot be honoured: this server "
                      "captures no CUDA graphs yet (decode runs without them); drop the flag or "
                      "give --disable-cuda-graph");
  }
  return a;
}

DType resolve_kv_cache_dtype(const std::string& kv_cache_dtype, std::optional<DType> weight_dtype,
                             bool gguf, const std::string& torch_dtype, bool causal) {
  if (kv_cache_dtype == "bf16" || kv_cache_dtype == "bfloat16") return DType::kBF16;
  if (kv_cache_dtype == "fp16" || kv_cache_dtype == "float16" || kv_cache_dtype == "half")
    return DType::kF16;
  if (kv_cache_dtype == "fp32" || kv_cache_dtype == "float32" || kv_cache_dtype == "float")
    return DType::kF32;
  if (!causal) return DType::kF32;
  if (weight_dtype) return *weight_dtype;
  if (gguf || torch_dtype == "bfloat16") return DType::kBF16;
  return torch_dtype == "float16" ? DType::kF16 : DType::kF32;
}

}  // namespace sglang
