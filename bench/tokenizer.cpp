// Encode throughput of the sglang.cpp tokenizer: reads a corpus (one document per line,
// JSON-escaped strings as bench/tokenizer.sh writes them), encodes every document without special
// tokens on one thread and then on all threads, and prints one JSON line (MB/s, tokens/s).
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tokenizer/tokenizer.h"

using namespace sglang;

int main(int argc, char** argv) {
  CLI::App app{"sglang.cpp tokenizer benchmark"};
  std::string tokenizer_path, corpus_path;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  app.add_option("--tokenizer", tokenizer_path)->required();
  app.add_option("--corpus", corpus_path)->required();
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);

  auto tok = Tokenizer::from_file(tokenizer_path);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.error().message.c_str());
    return 1;
  }
  std::vector<std::string> docs;
  size_t bytes = 0;
  std::ifstream in(corpus_path);
  for (std::string line; std::getline(in, line);) {
    docs.push_back(nlohmann::json::parse(line).get<std::string>());
    bytes += docs.back().size();
  }
  auto run = [&](int n_threads) {
    std::atomic<size_t> next{0}, tokens{0};
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < n_threads; ++t) {
      pool.emplace_back([&] {
        size_t local = 0;
        for (size_t i; (i = next.fetch_add(1)) < docs.size();)
          local += (*tok)->encode(docs[i], false).size();
        tokens += local;
      });
    }
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return nlohmann::json{{"threads", n_threads},
                          {"mb_s", static_cast<double>(bytes) / 1e6 / s},
                          {"tokens_s", static_cast<double>(tokens.load()) / s},
                          {"tokens", tokens.load()}};
  };
  run(1);  // warm the BPE cache as the Python side warms its own
  nlohmann::json out = {{"engine", "sglang.cpp"}, {"bytes", bytes}, {"docs", docs.size()}};
  out["single"] = run(1);
  out["all"] = run(threads);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
