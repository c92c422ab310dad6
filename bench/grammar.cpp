// Grammar engine timing for bench/grammar.sh (to come): compiles an EBNF grammar for a tokenizer's
// vocabulary (median of --repeat compiles), then walks the tokens of a document the grammar
// accepts, timing fill_next_token_bitmask before each token. Prints one JSON line.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sampling/grammar/grammar_matcher.h"
#include "tokenizer/tokenizer.h"

using namespace sglang;

namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sglang.cpp grammar engine benchmark"};
  std::string tokenizer_path, grammar_path, document_path;
  int64_t vocab_size = 0;
  std::vector<int32_t> stop_ids;
  int repeat = 5;
  unsigned threads = 0;
  app.add_option("--tokenizer", tokenizer_path, "tokenizer.json")->required();
  app.add_option("--grammar", grammar_path, "EBNF file (xgrammar's dialect)")->required();
  app.add_option("--document", document_path, "text the grammar accepts")->required();
  app.add_option("--vocab-size", vocab_size, "logits width (default: the tokenizer's)");
  app.add_option("--stop-ids", stop_ids);
  app.add_option("--repeat", repeat);
  app.add_option("--threads", threads, "compile workers (0: all cores)");
  CLI11_PARSE(app, argc, argv);

  auto tok = Tokenizer::from_file(tokenizer_path);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.error().message.c_str());
    return 1;
  }
  auto vocab_t0 = std::chrono::steady_clock::now();
  auto vocab = grammar::Vocabulary::from_tokenizer(
      **tok, std::max(vocab_size, (*tok)->vocab_size()), stop_ids);
  double vocab_ms = ms_since(vocab_t0);
  std::string ebnf = read_file(grammar_path), document = read_file(document_path);
  grammar::CompileOptions options;
  options.threads = threads;
  std::vector<double> compile_ms;
  std::shared_ptr<const grammar::CompiledGrammar> g;
  for (int i = 0; i < std::max(1, repeat); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = grammar::compile_ebnf(ebnf, vocab, "root", options);
    compile_ms.push_back(ms_since(t0));
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      return 1;
    }
    g = *r;
  }
  std::sort(compile_ms.begin(), compile_ms.end());
  auto ids = (*tok)->encode(document, false);
  grammar::GrammarMatcher m(g);
  std::vector<uint32_t> mask(static_cast<size_t>(vocab->bitmask_words()));
  std::vector<double> us;
  const char* profile_env = std::getenv("SGLANG_BENCH_GRAMMAR_PROFILE");
  int profile_fills = profile_env ? std::atoi(profile_env) : 0;
  for (size_t k = 0; k < ids.size(); ++k) {
    int32_t id = ids[k];
    // SGLANG_BENCH_GRAMMAR_PROFILE=N: N extra untimed fills per step, for a profiler to see.
    for (int extra = profile_fills; extra > 0; --extra) m.fill_next_token_bitmask(mask);
    auto t0 = std::chrono::steady_clock::now();
    m.fill_next_token_bitmask(mask);
    us.push_back(ms_since(t0) * 1000);
    if (std::getenv("SGLANG_BENCH_GRAMMAR_SLOW") &&
        us.back() > std::atof(std::getenv("SGLANG_BENCH_GRAMMAR_SLOW"))) {
      std::fprintf(stderr, "slow step %zu: %.0f us, %zu stacks, next token '%s'\n", k, us.back(),
                   m.num_stacks(), vocab->token_bytes(id).c_str());
    }
    if (!(mask[static_cast<size_t>(id) / 32] >> (id % 32) & 1) || !m.accept_token(id)) {
      std::string prefix;
      for (size_t p = 0; p < k; ++p) prefix += vocab->token_bytes(ids[p]);
      std::fprintf(stderr,
                   "token %d ('%s') of the document is not allowed by the grammar after:\n%s\n", id,
                   vocab->token_bytes(id).c_str(), prefix.c_str());
      return 1;
    }
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us.empty() ? 0.0 : us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))];
  };
  nlohmann::json out = {{"vocabulary_ms", vocab_ms},
                        {"compile_ms_median", compile_ms[compile_ms.size() / 2]},
                        {"compile_ms_min", compile_ms.front()},
                        {"states", g->automaton().num_states()},
                        {"uncertain_entries", g->masks().num_uncertain_total()},
                        {"cache_bytes", g->masks().memory_bytes()},
                        {"tokens", ids.size()},
                        {"mask_us_median", pct(0.5)},
                        {"mask_us_p99", pct(0.99)},
                        {"mask_us_max", us.empty() ? 0.0 : us.back()},
                        {"can_terminate", m.can_terminate()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
