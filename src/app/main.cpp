// sglang-cpp: one binary, subcommands. `serve` (the HTTP server) arrives with the server issue;
// today: make-checkpoint (random-weight HF checkpoints) and generate (offline greedy generation).
#include <spdlog/sinks/stdout_color_sinks.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include <omp.h>

#include "engine/scheduler.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_device.h"
#include "model/causal_lm.h"
#include "model/gguf_model.h"
#include "model/random_checkpoint.h"
#include "sampling/sampling_params.h"
#include "server/api_server.h"
#include "server/http_server.h"
#include "server/server_args.h"
#include "util/logging.h"

namespace {

using namespace sglang;

// Runs `f` on a thread of its own and returns its result (an exception is rethrown here). For
// start-up work with OpenMP regions (dequantizing and packing weights, zeroing the KV pool) that
// must not leave a thread team behind: a thread's exit frees its team. The forward itself runs on
// the CPU kernels' worker pool (kernels/cpu/thread_pool.h), but an idle OpenMP team still holds
// threads, and while the forward had OpenMP regions of its own, libgomp's count of the threads of
// every team it keeps (gomp_managed_threads) outnumbering the cores made each barrier sleep in the
// kernel (gomp_throttled_spin_count_var): the server decoded at ~0.6x the raw forward loop.
template <typename F>
auto on_own_thread(F&& f) {
  std::optional<std::invoke_result_t<F&>> out;
  std::exception_ptr error;
  std::thread([&] {
    try {
      out.emplace(f());
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

// The backend of --device: "cuda" or "cpu", or empty for SGLang's default (cuda when the build has
// CUDA and a GPU is visible, else cpu). `device` is overwritten with the choice. --device cuda
// without a GPU, or in a build without CUDA, is a start error (make_cuda_backend says which).
Result<std::unique_ptr<Backend>> make_backend(std::string& device, int64_t gpu_id, int threads) {
  if (device.empty()) device = cuda_compiled_in() && cuda_device_count() > 0 ? "cuda" : "cpu";
  if (device == "cuda") return make_cuda_backend(static_cast<int>(gpu_id));
  if (device != "cpu") {
    return make_error(ErrorCode::kUnsupported,
                      "--device " + device + " is not supported (choose cuda or cpu)");
  }
  return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(threads));
}

bool parse_ids(const std::string& text, std::vector<int32_t>* out) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) return false;
      out->push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return false;
    }
  }
  return !out->empty();
}

struct MakeCheckpointArgs {
  std::string like, arch = "qwen2", out;
  bool tiny = false;
  uint64_t seed = 0;
};

int run_make_checkpoint(const MakeCheckpointArgs& a) {
  Result<CheckpointSpec> spec =
      a.tiny ? checkpoint_spec_tiny(a.arch)
             : (a.like.empty() ? Result<CheckpointSpec>(make_error(ErrorCode::kInvalidArgument,
                                                                   "give --like NAME or --tiny"))
                               : checkpoint_spec_like(a.like));
  if (!spec.ok()) return fail(spec.error().message);
  auto t0 = std::chrono::steady_clock::now();
  Status st = write_random_checkpoint(*spec, a.seed, a.out);
  if (!st.ok()) return fail(st.error().message);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SGLANG_LOG_INFO("wrote {} (seed {}) to {} in {:.1f} s", spec->name, a.seed, a.out, secs);
  return 0;
}

struct GenerateArgs {
  std::string model_path, input_ids, input_file, schedule_policy = "fcfs";
  std::string kv_cache_dtype = "auto";
  int64_t max_new_tokens = 16;
  int threads = 0;
  std::string device;  // empty: as make_backend's default
  int64_t gpu_id = 0;
  bool ignore_eos = false;
  SchedulerConfig engine;
};

Result<SchedulePolicy> parse_policy(const std::string& name) {
  if (name == "fcfs") return SchedulePolicy::kFcfs;
  if (name == "lpm") return SchedulePolicy::kLpm;
  return make_error(ErrorCode::kInvalidArgument,
                    "--schedule-policy must be fcfs or lpm, got " + name);
}

// Requests from --input-ids (one prompt) or --input-file (JSON lines: {"input_ids": [...],
// "sampling_params": {...}, "rid": "..."}), all submitted at once to the scheduler; one JSON line
// per request on stdout in input order, throughput on stderr.
int run_generate(const GenerateArgs& a) {
  std::vector<std::unique_ptr<Request>> reqs;
  if (!a.input_ids.empty()) {
    auto r = std::make_unique<Request>();
    std::vector<int32_t> prompt;
    if (!parse_ids(a.input_ids, &prompt)) {
      return fail("--input-ids must be a comma-separated list of token ids");
    }
    r->prompt = std::move(prompt);
    r->params.max_new_tokens = a.max_new_tokens;
    r->params.temperature = 0;
    r->params.ignore_eos = a.ignore_eos;
    r->params.apply_defaults();
    reqs.push_back(std::move(r));
  } else if (!a.input_file.empty()) {
    std::ifstream in(a.input_file);
    if (!in) return fail("cannot open --input-file " + a.input_file);
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = a.input_file + ":" + std::to_string(line_no) + ": ";
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return fail(where + "not a JSON object");
      auto r = std::make_unique<Request>();
      const auto ids = j.value("input_ids", nlohmann::json());
      if (!ids.is_array()) return fail(where + "input_ids must be a list of token ids");
      std::vector<int32_t> prompt;
      for (const auto& t : ids) {
        if (!t.is_number_integer()) return fail(where + "input_ids must be a list of token ids");
        prompt.push_back(t.get<int32_t>());
      }
      r->prompt = std::move(prompt);
      auto params = sampling_params_from_json(j.value("sampling_params", nlohmann::json()));
      if (!params.ok()) return fail(where + params.error().message);
      r->params = *params;
      r->rid = j.value("rid", std::to_string(reqs.size()));
      reqs.push_back(std::move(r));
    }
  } else {
    return fail("give --input-ids or --input-file");
  }

  std::string device = a.device;
  auto made = make_backend(device, a.gpu_id, a.threads);
  if (!made.ok()) return fail(made.error().message);
  Backend& backend = **made;
  auto t0 = std::chrono::steady_clock::now();
  auto model = on_own_thread([&] { return load_causal_lm(a.model_path, backend); });
  if (!model.ok()) return fail(model.error().message);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SGLANG_LOG_INFO("loaded {} from {} on {} in {:.2f} s", (*model)->config().architecture_name,
                  a.model_path, backend.name(), load_s);
  if (!(*model)->config().causal) {
    return fail((*model)->config().architecture_name +
                " is an encoder: it scores inputs (serve it with --is-embedding), it does not "
                "generate");
  }
  SchedulerConfig cfg = a.engine;
  {
    auto gguf = find_gguf_file(a.model_path);
    if (!gguf.ok()) return fail(gguf.error().message);
    cfg.kv_cache_dtype =
        resolve_kv_cache_dtype(a.kv_cache_dtype, std::nullopt, !gguf->empty(),
                               (*model)->config().torch_dtype, (*model)->config().causal);
  }
  auto policy = parse_policy(a.schedule_policy);
  if (!policy.ok()) return fail(policy.error().message);
  cfg.schedule_policy = *policy;
  std::unique_ptr<Scheduler> scheduler;
  try {
    scheduler = on_own_thread([&] { return std::make_unique<Scheduler>(**model, nullptr, cfg); });
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  SGLANG_LOG_INFO("KV cache: {} tokens, page size {}, max running requests {}",
                  scheduler->max_total_tokens(), cfg.page_size,
                  scheduler->stats().max_running_requests);
  std::vector<std::shared_ptr<RequestStream>> streams;
  int64_t input_tokens = 0;
  const auto start = std::chrono::steady_clock::now();
  scheduler->start();
  for (auto& r : reqs) {
    r->stream = std::make_shared<RequestStream>();
    streams.push_back(r->stream);
    input_tokens += static_cast<int64_t>(r->prompt.size());
    const std::string rid = r->rid;
    Status st = scheduler->submit(std::move(r));
    if (!st.ok()) return fail("request " + rid + ": " + st.error().message);
  }
  int64_t output_tokens = 0, cached_tokens = 0;
  std::vector<GenerationResult> results;
  for (auto& s : streams) {
    results.push_back(wait_for_result(*s));
    output_tokens += results.back().completion_tokens;
    cached_tokens += results.back().cached_tokens;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const SchedulerStats stats = scheduler->stats();
  scheduler->stop();
  for (size_t i = 0; i < results.size(); ++i) {
    const GenerationResult& g = results[i];
    if (a.input_file.empty()) {
      std::string line;
      for (int32_t id : g.output_ids) line += (line.empty() ? "" : ",") + std::to_string(id);
      std::printf("%s\n", line.c_str());
      continue;
    }
    nlohmann::json out = {{"index", i},
                          {"output_ids", g.output_ids},
                          {"meta_info",
                           {{"finish_reason", to_json(g.finish_reason)},
                            {"prompt_tokens", g.prompt_tokens},
                            {"completion_tokens", g.completion_tokens},
                            {"cached_tokens", g.cached_tokens}}}};
    std::printf("%s\n", out.dump().c_str());
  }
  SGLANG_LOG_INFO(
      "{} requests in {:.2f} s: input {:.1f} tok/s, output {:.1f} tok/s, cached prompt tokens {} "
      "of {}, forward steps {}, retractions {}",
      results.size(), secs, static_cast<double>(input_tokens) / secs,
      static_cast<double>(output_tokens) / secs, cached_tokens, input_tokens,
      stats.total_forward_steps, stats.total_retractions);
  return 0;
}

// How long SIGTERM / SIGINT may take before the process exits regardless (under the 5 s that
// deployments give between SIGTERM and SIGKILL).
constexpr std::chrono::milliseconds kShutdownDeadline{4000};

// `serve` / `launch_server`: SGLang's HTTP server. SIGTERM or SIGINT: stop accepting, abort what
// runs (clients get their finish_reason abort), exit 0.
int run_serve(const ServerArgsParser& parser) {
  auto parsed = parser.finalize();
  if (!parsed.ok()) return fail(parsed.error().message);
  ServerArgs args = *parsed;  // a copy: make_backend writes the resolved --device back
  if (!set_log_level(args.log_level)) return fail("unknown --log-level " + args.log_level);
  // Signals go to one thread that waits for them; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // --dp-size N: the cores (--threads, or all) are split between the N replicas, each its own
  // backend (OpenMP team) and scheduler thread.
  const int64_t dp = std::max<int64_t>(args.dp_size, 1);
  const int64_t total_threads = args.threads > 0 ? args.threads : omp_get_num_procs();
  const int per_replica = static_cast<int>(std::max<int64_t>(total_threads / dp, 1));
  auto made = make_backend(args.device, args.base_gpu_id,
                           dp > 1 ? per_replica : static_cast<int>(args.threads));
  if (!made.ok()) return fail(made.error().message);
  Backend& backend = **made;
  if (args.device == "cuda") {
    if (dp > 1) return fail("--dp-size above 1 is not supported with --device cuda yet");
    SGLANG_LOG_INFO("CUDA graphs: none captured yet, decode runs without them");
  }
  const auto t0 = std::chrono::steady_clock::now();
  SGLANG_LOG_INFO("Loading {} on {}{}", args.model_path, backend.name(),
                  dp > 1 ? fmt::format(" (DP0 of --dp-size {})", dp) : std::string());
  ApiServer::BackendFactory replica_backend = [per_replica]() -> std::unique_ptr<Backend> {
    return std::make_unique<CpuBackend>(per_replica);
  };
  auto api = on_own_thread([&] { return ApiServer::create(args, backend, replica_backend); });
  if (!api.ok()) return fail(api.error().message);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  http::ServerOptions opt;
  opt.host = args.host;
  opt.port = static_cast<int>(args.port);
  opt.io_threads = static_cast<int>(args.http_threads.value_or(2));
  opt.body_limit = static_cast<uint64_t>(args.max_http_body_bytes);
  opt.header_limit = static_cast<uint32_t>(args.max_http_header_bytes);
  opt.idle_timeout_ms = static_cast<int64_t>(args.http_idle_timeout * 1000);
  ApiServer* api_ptr = api->get();
  http::HttpServer server(opt,
                          [api_ptr](const http::Request& req, std::shared_ptr<http::Exchange> ex) {
                            api_ptr->handle(req, std::move(ex));
                          });
  Status st = server.listen();
  if (!st.ok()) return fail(st.error().message);
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    SGLANG_LOG_INFO("Received signal {}; shutting down.", sig);
    // Whatever the queue holds, the process is gone within the bound a supervisor expects: a
    // shutdown that has not finished by then (a forward that does not return) ends here.
    std::thread([] {
      std::this_thread::sleep_for(kShutdownDeadline);
      SGLANG_LOG_WARN("Shutdown did not finish within {} s; exiting now.",
                      std::chrono::duration<double>(kShutdownDeadline).count());
      spdlog::default_logger()->flush();
      std::_Exit(0);
    }).detach();
    api_ptr->shutdown();
    server.stop(500);
  });
  SGLANG_LOG_INFO("Loaded in {:.2f} s. Serving on http://{}:{}", load_s, opt.host, server.port());
  SGLANG_LOG_INFO("The server is fired up and ready to roll!");
  server.run();
  // run() returns after stop(); a stop that did not come from a signal still needs the thread.
  if (signal_thread.joinable()) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sglang-cpp: an LLM serving engine in C++ with SGLang's API"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warning, error, critical");

  MakeCheckpointArgs mk;
  auto* make_cmd = app.add_subcommand("make-checkpoint",
                                      "write a random-weight HF checkpoint (bf16 safetensors)");
  make_cmd->add_option(
      "--like", mk.like, "a real model's shape: " + [] {
        std::string s;
        for (const auto& k : known_checkpoint_shapes()) s += (s.empty() ? "" : ", ") + k;
        return s;
      }());
  make_cmd->add_flag("--tiny", mk.tiny, "hidden 64, 2 layers, the family's real vocabulary");
  make_cmd->add_option("--arch", mk.arch,
                       "family for --tiny: qwen2, llama, mistral, llama-reward, "
                       "xlm-roberta-reranker, bert-reranker, qwen2-moe, qwen3, qwen3-moe, "
                       "gemma2, gemma3, phi3 (the last five: a 4096-token vocabulary)");
  make_cmd->add_option("--seed", mk.seed, "RNG seed");
  make_cmd->add_option("--out", mk.out, "output directory")->required();

  GenerateArgs gen;
  auto* gen_cmd = app.add_subcommand(
      "generate", "offline generation through the scheduler (token ids in, token ids out)");
  gen_cmd->add_option("--model-path", gen.model_path, "Hugging Face model directory")->required();
  auto* ids_opt =
      gen_cmd->add_option("--input-ids", gen.input_ids, "one prompt: comma-separated token ids");
  gen_cmd
      ->add_option("--input-file", gen.input_file,
                   "JSON lines: {\"input_ids\": [...], \"sampling_params\": {...}}")
      ->excludes(ids_opt);
  gen_cmd->add_option("--max-new-tokens", gen.max_new_tokens, "tokens to generate (--input-ids)")
      ->check(CLI::NonNegativeNumber);
  gen_cmd->add_flag("--ignore-eos", gen.ignore_eos, "keep generating after EOS (--input-ids)");
  gen_cmd->add_option("--threads", gen.threads, "CPU threads (0: all cores)");
  gen_cmd
      ->add_option("--device", gen.device,
                   "cuda or cpu (default: cuda when the build has CUDA and a GPU is visible)")
      ->check(CLI::IsMember({"cuda", "cpu"}));
  gen_cmd->add_option("--base-gpu-id", gen.gpu_id, "the GPU of --device cuda");
  gen_cmd->add_option("--chunked-prefill-size", gen.engine.chunked_prefill_size,
                      "prompt tokens per step (<= 0: whole prompts)");
  gen_cmd->add_option("--max-total-tokens", gen.engine.max_total_tokens, "KV cache pool in tokens");
  gen_cmd->add_option("--mem-fraction-static", gen.engine.mem_fraction_static,
                      "share of free memory for the KV cache pool");
  gen_cmd->add_option("--page-size", gen.engine.page_size, "tokens per KV page")
      ->check(CLI::PositiveNumber);
  gen_cmd->add_option("--max-running-requests", gen.engine.max_running_requests,
                      "requests decoded together");
  gen_cmd->add_flag("--disable-radix-cache", gen.engine.disable_radix_cache,
                    "no prefix reuse between requests");
  gen_cmd->add_option("--schedule-policy", gen.schedule_policy, "fcfs or lpm");
  gen_cmd->add_option("--random-seed", gen.engine.random_seed, "seed of unseeded sampling");
  gen_cmd
      ->add_option(
          "--kv-cache-dtype", gen.kv_cache_dtype,
          "KV cache storage, as serve's: auto, bf16, bfloat16, fp16, float16, fp32, float32")
      ->check(CLI::IsMember(
          {"auto", "bf16", "bfloat16", "fp16", "float16", "half", "fp32", "float32", "float"}));

  // The HTTP server: `serve`, or `launch_server` as in `python -m sglang.launch_server`.
  ServerArgsParser serve_args, launch_args;
  auto* serve_cmd = app.add_subcommand("serve", "serve SGLang's HTTP API");
  serve_args.add_to(*serve_cmd);
  auto* launch_cmd = app.add_subcommand("launch_server", "the same as serve (SGLang's name)");
  launch_args.add_to(*launch_cmd);

  CLI11_PARSE(app, argc, argv);
  // Logs go to stderr: stdout carries results (generate prints ids there).
  spdlog::set_default_logger(spdlog::stderr_color_mt("sglang-cpp"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] %v");
  if (!set_log_level(log_level)) return fail("unknown --log-level " + log_level);
  if (*make_cmd) return run_make_checkpoint(mk);
  if (*gen_cmd) return run_generate(gen);
  if (*serve_cmd) return run_serve(serve_args);
  if (*launch_cmd) return run_serve(launch_args);
  return 0;
}
