// Structured-output speed of our grammar engine (src/sampling/grammar/), the C++ half of
// bench/grammar.sh; bench/grammar_xgrammar.py measures xgrammar the same way on the same cases
// and writes the token sequences this program walks (so both step through the very same ids).
// Per case: compile time (the front-end's EBNF plus compile_ebnf, a fresh compile each run:
// nothing here caches), median and minimum of --compile-runs; then per-token mask time:
// before each token of the instance (and once more before the end) the timed call is
// fill_next_token_bitmask alone, then the token is checked against the mask and accepted. The
// first pass is an untimed warm-up that also checks the instance and counts each step's allowed
// tokens (compared with xgrammar's counts: the masks should agree); --passes timed passes follow,
// a fresh matcher each, and median and P99 are over all their steps pooled. Prints one JSON
// object. For engine work without xgrammar: --grammar FILE --document FILE times one EBNF
// grammar on a text it accepts (e.g. bench/grammar/json.ebnf and json_document.json).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "sampling/grammar/compiled_grammar.h"
#include "sampling/grammar/grammar_matcher.h"
#include "sampling/grammar/json_schema_converter.h"
#include "sampling/grammar/regex_converter.h"
#include "sampling/grammar/vocabulary.h"
#include "tokenizer/tokenizer.h"

using namespace sglang;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Nearest rank, as grammar_xgrammar.py computes it.
double percentile(const std::vector<double>& sorted, double q) {
  auto k = static_cast<long>(std::ceil(q / 100.0 * static_cast<double>(sorted.size()))) - 1;
  k = std::clamp(k, 0L, static_cast<long>(sorted.size()) - 1);
  return sorted[static_cast<size_t>(k)];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The case's grammar as EBNF text: our front-ends' (the compile time includes them), or under
// --grammar-source xgrammar, xgrammar's own EBNF of the case (its front-end's output, printed by
// grammar_xgrammar.py): the engine alone, on the very grammar xgrammar compiles.
Result<std::string> ebnf_of(const nlohmann::json& c, const std::string& xgrammar_ebnf, bool ours) {
  const std::string kind = c.at("kind");
  if (!ours) return xgrammar_ebnf;
  const std::string spec = c.at("spec");
  if (kind == "ebnf") return spec;
  if (kind == "json_schema") return grammar::json_schema_to_ebnf(spec);  // any_whitespace
  if (kind == "regex") return grammar::regex_to_ebnf(spec);
  return grammar::builtin_json_ebnf();  // json_object
}

// splitmix64(i): the weight of mask word i in mask_hash, as grammar_xgrammar.py's splitmix64.
uint64_t splitmix64(uint64_t i) {
  uint64_t z = i + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Sum of word * weight (mod 2^64): masks that differ anywhere differ here but by chance; the
// Python side computes the same over xgrammar's mask.
uint64_t mask_hash(const std::vector<uint32_t>& mask) {
  uint64_t h = 0;
  for (size_t w = 0; w < mask.size(); ++w) h += uint64_t{mask[w]} * splitmix64(w);
  return h;
}

bool bit(const std::vector<uint32_t>& mask, int32_t id) {
  return (mask[static_cast<size_t>(id) / 32] >> (id % 32)) & 1u;
}

struct Walk {
  std::vector<double> us;        // per step
  std::vector<int64_t> counts;   // allowed tokens per step (when asked)
  std::vector<uint64_t> hashes;  // mask_hash per step (when asked)
  std::vector<int64_t>
      stacks;  // the matcher's stacks per step (when asked): what a slow step holds
  std::string error;
};

Walk walk(const std::shared_ptr<const grammar::CompiledGrammar>& g, const std::vector<int32_t>& ids,
          int32_t stop, bool count, long dump_step = -1) {
  Walk w;
  grammar::GrammarMatcher m(g, 200);
  std::vector<uint32_t> mask(static_cast<size_t>(g->vocabulary().bitmask_words()));
  for (size_t step = 0; step <= ids.size(); ++step) {
    auto t0 = Clock::now();
    m.fill_next_token_bitmask(mask);
    w.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (count) {
      int64_t n = 0;
      for (uint32_t x : mask) n += std::popcount(x);
      w.counts.push_back(n);
      w.hashes.push_back(mask_hash(mask));
      w.stacks.push_back(static_cast<int64_t>(m.num_stacks()));
    }
    if (static_cast<long>(step) == dump_step) {
      // The allowed ids of this step, one line (to compare with xgrammar's when counts differ).
      for (int32_t id = 0; id < static_cast<int32_t>(g->vocabulary().size()); ++id) {
        if (bit(mask, id)) std::fprintf(stderr, "%d ", id);
      }
      std::fprintf(stderr, "\n");
    }
    int32_t id = step == ids.size() ? stop : ids[step];
    if (!bit(mask, id)) {
      w.error = "token " + std::to_string(step) + " (" + std::to_string(id) + ") is masked";
      return w;
    }
    if (!m.accept_token(id)) {
      w.error = "token " + std::to_string(step) + " (" + std::to_string(id) + ") is rejected";
      return w;
    }
  }
  if (!m.is_terminated()) w.error = "the stop token did not end the grammar";
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sglang.cpp grammar benchmark"};
  std::string cases_path, xgr_path, tokenizer_path, source = "ours";
  int passes = 5, compile_runs = 5, min_steps = 500;
  unsigned threads = 2;
  std::string dump, only, grammar_path, document_path;
  app.add_option("--cases", cases_path, "bench/grammar_cases.json");
  app.add_option("--xgrammar", xgr_path, "grammar_xgrammar.py's output for this tokenizer");
  // Without xgrammar: one EBNF file and a text it accepts, tokenized here (engine work).
  app.add_option("--grammar", grammar_path, "an EBNF file, instead of --cases/--xgrammar");
  app.add_option("--document", document_path, "with --grammar: a text the grammar accepts");
  app.add_option("--tokenizer", tokenizer_path, "tokenizer.json")->required();
  app.add_option("--grammar-source", source, "ours: our front-ends; xgrammar: xgrammar's EBNF")
      ->check(CLI::IsMember({"ours", "xgrammar"}));
  app.add_option("--passes", passes);
  app.add_option("--compile-runs", compile_runs);
  app.add_option("--min-steps", min_steps,
                 "more passes over a short instance, so P99 is not its maximum");
  app.add_option("--threads", threads, "compile workers (xgrammar's side: max_threads=2)");
  double slow_us = 0;
  bool print_ebnf = false;
  app.add_flag("--print-ebnf", print_ebnf, "print each case's EBNF to stderr");
  app.add_option("--case", only, "run this case only (profiling)");
  app.add_option("--slow", slow_us, "list the steps slower than this many us (median of passes)");
  app.add_option("--dump-mask", dump, "CASE:STEP: print that step's allowed ids to stderr");
  CLI11_PARSE(app, argc, argv);
  const std::string dump_case = dump.substr(0, dump.find(':'));
  const long dump_step = dump.empty() ? -1 : std::stol(dump.substr(dump.find(':') + 1));

  auto tok = Tokenizer::from_file(tokenizer_path);
  if (!tok.ok()) {
    std::fprintf(stderr, "tokenizer: %s\n", tok.error().message.c_str());
    return 1;
  }
  nlohmann::json cases, xgr;
  if (!grammar_path.empty()) {
    if (document_path.empty()) {
      std::fprintf(stderr, "--grammar needs --document\n");
      return 1;
    }
    // One case and a stand-in for the Python side's file: the document tokenized by our
    // tokenizer, the chat end tokens the vocabulary has as stop ids, nothing to compare with.
    cases = {{{"name", grammar_path}, {"kind", "ebnf"}, {"spec", read_file(grammar_path)}}};
    std::vector<int32_t> stops;
    for (const char* t : {"<|endoftext|>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>", "</s>"}) {
      if (int32_t id = (*tok)->token_to_id(t); id >= 0) stops.push_back(id);
    }
    if (stops.empty()) {
      std::fprintf(stderr, "the tokenizer has none of the usual end tokens to stop with\n");
      return 1;
    }
    xgr = {{"vocab_size", (*tok)->vocab_size()},
           {"stop_token_ids", stops},
           {"cases",
            {{{"ebnf", ""},
              {"token_ids", (*tok)->encode(read_file(document_path), false)},
              {"mask_hashes", nlohmann::json::array()}}}}};
  } else if (!cases_path.empty() && !xgr_path.empty()) {
    cases = nlohmann::json::parse(read_file(cases_path)).at("cases");
    xgr = nlohmann::json::parse(read_file(xgr_path));
  } else {
    std::fprintf(stderr, "give --cases and --xgrammar, or --grammar and --document\n");
    return 1;
  }
  // The stop ids xgrammar found in the same tokenizer, so both sides allow the same end.
  auto stop_ids = xgr.at("stop_token_ids").get<std::vector<int32_t>>();
  auto vocab_t0 = Clock::now();
  auto vocab =
      grammar::Vocabulary::from_tokenizer(**tok, xgr.at("vocab_size").get<int64_t>(), stop_ids);
  const double vocab_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - vocab_t0).count();
  grammar::CompileOptions options;
  options.threads = threads;

  nlohmann::json out = {{"engine", "sglang.cpp"},
                        {"vocab_size", vocab->size()},
                        {"vocabulary_ms", vocab_ms},
                        {"cases", {}}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const auto& xc = xgr.at("cases").at(i);
    const std::string name = c.at("name");
    if (!only.empty() && name != only) continue;
    const bool ours = source == "ours";
    std::vector<double> compile_ms;
    std::shared_ptr<const grammar::CompiledGrammar> g;
    for (int r = 0; r < compile_runs; ++r) {
      auto t0 = Clock::now();
      auto ebnf = ebnf_of(c, xc.at("ebnf"), ours);
      if (!ebnf.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), ebnf.error().message.c_str());
        return 1;
      }
      if (print_ebnf && r == 0) std::fprintf(stderr, "%s:\n%s\n", name.c_str(), ebnf->c_str());
      auto compiled = grammar::compile_ebnf(*ebnf, vocab, "root", options);
      compile_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (!compiled.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), compiled.error().message.c_str());
        return 1;
      }
      g = *compiled;
    }
    const auto ids = xc.at("token_ids").get<std::vector<int32_t>>();
    Walk first = walk(g, ids, stop_ids.at(0), true, name == dump_case ? dump_step : -1);
    if (!first.error.empty()) {
      std::fprintf(stderr, "%s: the instance fails on our engine: %s\n", name.c_str(),
                   first.error.c_str());
      return 1;
    }
    std::vector<double> us;
    std::vector<std::vector<double>> per_step(ids.size() + 1);
    const int case_passes = std::max(
        passes, (min_steps + static_cast<int>(ids.size())) / static_cast<int>(ids.size() + 1));
    for (int p = 0; p < case_passes; ++p) {
      Walk w = walk(g, ids, stop_ids.at(0), false);
      us.insert(us.end(), w.us.begin(), w.us.end());
      for (size_t s = 0; s < w.us.size(); ++s) per_step[s].push_back(w.us[s]);
    }
    // Each step's median over the passes: which steps are slow (bench/grammar.sh prints them).
    std::vector<double> step_us;
    for (auto& v : per_step) step_us.push_back(median(v));
    for (size_t s = 0; slow_us > 0 && s < step_us.size(); ++s) {
      if (step_us[s] <= slow_us) continue;
      std::fprintf(stderr, "%s: slow step %zu: %.1f us, %lld stacks, next token '%s'\n",
                   name.c_str(), s, step_us[s], static_cast<long long>(first.stacks[s]),
                   s < ids.size() ? vocab->token_bytes(ids[s]).c_str() : "(stop)");
    }
    std::sort(us.begin(), us.end());
    // Steps whose mask differs from xgrammar's (both masks exact would agree, up to the
    // grammars' own differences when the front-ends differ; the Python side leaves out the
    // tokens xgrammar treats as text and we do not).
    const auto xhashes = xc.at("mask_hashes").get<std::vector<uint64_t>>();
    int mismatches = 0, first_mismatch = -1;
    for (size_t s = 0; s < first.hashes.size() && s < xhashes.size(); ++s) {
      if (first.hashes[s] != xhashes[s]) {
        if (first_mismatch < 0) first_mismatch = static_cast<int>(s);
        ++mismatches;
      }
    }
    out["cases"].push_back({{"name", name},
                            {"grammar_source", ours ? "ours" : "xgrammar"},
                            {"tokens", ids.size()},
                            {"states", g->automaton().num_states()},
                            {"uncertain_entries", g->masks().num_uncertain_total()},
                            {"cache_bytes", g->masks().memory_bytes()},
                            {"compile_ms",
                             {{"median", median(compile_ms)},
                              {"min", *std::min_element(compile_ms.begin(), compile_ms.end())}}},
                            {"mask_us",
                             {{"median", median(us)},
                              {"p99", percentile(us, 99)},
                              {"max", us.back()},
                              {"steps", us.size()}}},
                            {"allowed_counts", first.counts},
                            {"step_us", step_us},
                            {"step_stacks", first.stacks},
                            {"count_mismatches", mismatches},
                            {"first_mismatch", first_mismatch}});
    std::fprintf(
        stderr, "%s: compile %.2f ms, mask median %.2f us p99 %.2f us%s\n", name.c_str(),
        median(compile_ms), median(us), percentile(us, 99),
        mismatches ? (" (" + std::to_string(mismatches) + " steps' masks differ)").c_str() : "");
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
