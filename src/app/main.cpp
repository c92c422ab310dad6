// sglang-cpp: one binary, subcommands. `serve` (the HTTP server) arrives with the server issue;
// today: make-checkpoint (random-weight HF checkpoints) and generate (offline greedy generation).
#include <spdlog/sinks/stdout_color_sinks.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/offline_generator.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/random_checkpoint.h"
#include "util/logging.h"

namespace {

using namespace sglang;

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
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
  std::string model_path, input_ids;
  int64_t max_new_tokens = 16;
  int64_t chunked_prefill_size = 0;
  int threads = 0;
  bool ignore_eos = false;
};

int run_generate(const GenerateArgs& a) {
  std::vector<int32_t> ids;
  if (!parse_ids(a.input_ids, &ids))
    return fail("--input-ids must be a comma-separated list of token ids");
  CpuBackend backend(a.threads);
  auto t0 = std::chrono::steady_clock::now();
  auto model = load_causal_lm(a.model_path, backend);
  if (!model.ok()) return fail(model.error().message);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SGLANG_LOG_INFO("loaded {} from {} on {} in {:.2f} s", (*model)->config().architecture_name,
                  a.model_path, backend.name(), load_s);
  const int64_t total = static_cast<int64_t>(ids.size()) + a.max_new_tokens;
  const int64_t page_size = 16;
  PagePool pool((total + page_size - 1) / page_size, page_size);
  KvCache kv(backend, (*model)->kv_cache_shape(), pool.num_pages(), page_size);
  GreedyOptions opt;
  opt.max_new_tokens = a.max_new_tokens;
  opt.stop_at_eos = !a.ignore_eos;
  opt.prefill_chunk = a.chunked_prefill_size;
  auto out = generate_greedy(**model, kv, pool, {ids}, opt);
  if (!out.ok()) return fail(out.error().message);
  std::string line;
  for (int32_t id : (*out)[0]) line += (line.empty() ? "" : ",") + std::to_string(id);
  std::printf("%s\n", line.c_str());
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
  make_cmd->add_option("--arch", mk.arch, "family for --tiny: qwen2, llama, mistral");
  make_cmd->add_option("--seed", mk.seed, "RNG seed");
  make_cmd->add_option("--out", mk.out, "output directory")->required();

  GenerateArgs gen;
  auto* gen_cmd =
      app.add_subcommand("generate", "greedy generation from token ids, printed as ids");
  gen_cmd->add_option("--model-path", gen.model_path, "Hugging Face model directory")->required();
  gen_cmd->add_option("--input-ids", gen.input_ids, "prompt token ids, comma-separated")
      ->required();
  gen_cmd->add_option("--max-new-tokens", gen.max_new_tokens, "tokens to generate")
      ->check(CLI::PositiveNumber);
  gen_cmd->add_option("--chunked-prefill-size", gen.chunked_prefill_size,
                      "prefill chunk size (0: whole prompt)");
  gen_cmd->add_option("--threads", gen.threads, "CPU threads (0: all cores)");
  gen_cmd->add_flag("--ignore-eos", gen.ignore_eos, "keep generating after an EOS token");

  CLI11_PARSE(app, argc, argv);
  // Logs go to stderr: stdout carries results (generate prints ids there).
  spdlog::set_default_logger(spdlog::stderr_color_mt("sglang-cpp"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] %v");
  if (!set_log_level(log_level)) return fail("unknown --log-level " + log_level);
  if (*make_cmd) return run_make_checkpoint(mk);
  if (*gen_cmd) return run_generate(gen);
  return 0;
}
