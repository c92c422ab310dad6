// Forward-pass throughput of the CPU backend on a checkpoint directory:
//   prefill: one sequence of --prefill-len random tokens, tokens / second of the whole forward;
//   decode:  B sequences, each with --context cached tokens, then --decode-steps steps in which
//   every
//            sequence adds one token in one batched forward; B * steps / second.
// Prints one JSON line (the same fields as bench/llama_cpp_forward.py) for bench/cpu_forward.sh.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/model_runner.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/thread_pool.h"
#include "model/causal_lm.h"

using namespace sglang;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> random_ids(std::mt19937& rng, int64_t n, int64_t vocab) {
  std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

void check(const Result<Tensor>& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "forward failed: %s\n", r.error().message.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sglang.cpp CPU forward benchmark"};
  std::string model_path;
  int threads = 0;
  int64_t prefill_len = 512, context = 128, steps = 32;
  std::vector<int64_t> batches = {1, 8, 32};
  std::string dtype = "auto";
  std::string kv_dtype = "fp32";
  app.add_option("--model-path", model_path)->required();
  app.add_option("--kv-cache-dtype", kv_dtype, "KV cache storage: fp32, bf16 or fp16");
  bool profile = false;
  app.add_flag("--profile", profile,
               "also report each measure's share of time in linear() and attention()");
  app.add_option("--dtype", dtype, "weights' dtype, as the server's --dtype");
  app.add_option("--threads", threads);
  app.add_option("--prefill-len", prefill_len);
  app.add_option("--context", context);
  app.add_option("--decode-steps", steps);
  app.add_option("--batches", batches)->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  CpuBackend backend(threads);
  backend.enable_profile(profile);
  // Each measure's time in linear() and attention(), as shares of its timed forwards.
  nlohmann::ordered_json shares;
  const auto record_shares = [&](const std::string& name, double total_s) {
    const auto& p = backend.profile();
    shares[name] = {{"linear", p.linear_s / total_s},
                    {"attention", p.attention_s / total_s},
                    {"other", 1.0 - (p.linear_s + p.attention_s) / total_s}};
  };
  auto t_load = std::chrono::steady_clock::now();
  auto weight_dtype = parse_weight_dtype(dtype);
  if (!weight_dtype.ok()) {
    std::fprintf(stderr, "%s\n", weight_dtype.error().message.c_str());
    return 1;
  }
  LoadOptions options;
  options.weight_dtype = *weight_dtype;
  auto loaded = load_causal_lm(model_path, backend, options);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    return 1;
  }
  const double load_s = seconds_since(t_load);
  CausalLM& model = **loaded;
  const int64_t vocab = model.config().vocab_size;
  const int64_t max_batch = *std::max_element(batches.begin(), batches.end());
  const int64_t page_size = 16;
  const int64_t tokens_needed = std::max(prefill_len, max_batch * (context + steps + 1));
  PagePool pool(tokens_needed / page_size + max_batch + 1, page_size);
  KvCacheShape kv_shape = model.kv_cache_shape();
  kv_shape.dtype = kv_dtype == "bf16"   ? DType::kBF16
                   : kv_dtype == "fp16" ? DType::kF16
                                        : DType::kF32;
  KvCache kv(backend, kv_shape, pool.num_pages(), page_size);
  std::mt19937 rng(1234);

  // Prefill: one warm-up, then the median of three timed runs.
  std::vector<double> prefill_times;
  {
    auto pages = *pool.allocate(pool.pages_for(prefill_len));
    const auto ids = random_ids(rng, prefill_len, vocab);
    for (int rep = 0; rep < 4; ++rep) {
      ForwardBatch b;
      b.add(ids, 0, pages, LogitsMode::kLast);
      if (rep == 1) backend.reset_profile();
      auto t0 = std::chrono::steady_clock::now();
      auto out = ModelRunner(model).forward(b, kv);
      check(out);
      backend.synchronize();
      if (rep > 0) prefill_times.push_back(seconds_since(t0));
    }
    pool.free(pages);
  }
  if (profile) {
    double total = 0;
    for (double t : prefill_times) total += t;
    record_shares("prefill", total);
  }
  std::sort(prefill_times.begin(), prefill_times.end());
  nlohmann::ordered_json result;
  result["engine"] = "sglang.cpp";
  result["backend"] = backend.name();
  result["threads"] = threads;
  result["dtype"] = dtype;
  result["kv_cache_dtype"] = std::string(dtype_name(kv_shape.dtype));
  result["load_s"] = load_s;
  result["prefill_len"] = prefill_len;
  result["prefill_tok_s"] = static_cast<double>(prefill_len) / prefill_times[1];

  nlohmann::ordered_json decode;
  for (int64_t batch : batches) {
    std::vector<std::vector<int32_t>> pages;
    std::vector<int32_t> last(static_cast<size_t>(batch));
    ForwardBatch pre;
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t s = 0; s < batch; ++s) {
      pages.push_back(*pool.allocate(pool.pages_for(context + steps + 1)));
      prompts.push_back(random_ids(rng, context, vocab));
    }
    for (int64_t s = 0; s < batch; ++s) pre.add(prompts[s], 0, pages[s], LogitsMode::kLast);
    check(ModelRunner(model).forward(pre, kv));
    double elapsed = 0;
    int64_t jobs0 = 0;
    for (int64_t step = 0; step <= steps; ++step) {  // step 0 is a warm-up
      ForwardBatch b;
      const auto next = random_ids(rng, batch, vocab);
      for (int64_t s = 0; s < batch; ++s) {
        b.add(std::span<const int32_t>(&next[static_cast<size_t>(s)], 1), context + step, pages[s],
              LogitsMode::kLast);
      }
      if (step == 1) {
        backend.reset_profile();
        jobs0 = cpu::pool_jobs();
      }
      auto t0 = std::chrono::steady_clock::now();
      check(ModelRunner(model).forward(b, kv));
      backend.synchronize();
      if (step > 0) elapsed += seconds_since(t0);
    }
    if (profile) {
      record_shares("decode_" + std::to_string(batch), elapsed);
      // Jobs the worker pool shared between threads: each step's hand-offs outside OpenMP.
      shares["decode_" + std::to_string(batch)]["pool_jobs_per_step"] =
          static_cast<double>(cpu::pool_jobs() - jobs0) / static_cast<double>(steps);
    }
    decode[std::to_string(batch)] = static_cast<double>(batch * steps) / elapsed;
    for (auto& p : pages) pool.free(p);
  }
  result["decode_context"] = context;
  result["decode_tok_s"] = decode;
  if (profile) result["time_shares"] = shares;
  std::printf("%s\n", result.dump().c_str());
  return 0;
}
