// Mask exactness and timing on the real Qwen vocabulary (151k tokens, byte-level BPE).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "grammar_test_util.h"
#include "mask_check.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace sglang::grammar {
namespace {

using testing::check_walks;
using testing::compile_or_die;
using testing::kGrammars;

// Each state's brute force feeds all 151k tokens: fewer walks under the sanitizers.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kWalks = 1;
#else
constexpr int kWalks = 2;
#endif

std::shared_ptr<const Vocabulary> qwen_vocab() {
  static std::shared_ptr<const Vocabulary> vocab = []() -> std::shared_ptr<const Vocabulary> {
    auto tok =
        Tokenizer::from_file(::sglang::testing::asset_path("qwen3-tokenizer/tokenizer.json"));
    if (!tok.ok()) return nullptr;
    // Qwen3's logits are 151936 wide; <|im_end|> and <|endoftext|> stop.
    return Vocabulary::from_tokenizer(**tok, 151936, {151645, 151643});
  }();
  return vocab;
}

TEST(TokenMask, EqualsBruteForceOnQwenVocabulary) {
  auto vocab = qwen_vocab();
  ASSERT_TRUE(vocab) << "qwen3-tokenizer asset missing";
  uint32_t seed = 7;
  for (const char* grammar : kGrammars) {
    SCOPED_TRACE(grammar);
    auto start = std::chrono::steady_clock::now();
    auto g = compile_or_die(grammar, vocab);
    ASSERT_TRUE(g);
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    std::printf("compiled in %.1f ms (%zu states, %zu uncertain entries)\n", ms.count(),
                g->automaton().num_states(), g->masks().num_uncertain_total());
    check_walks(g, kWalks, 8, seed++);
  }
}

// Llama 3's vocabulary (128k byte-level tokens, 256 special ids): the recursive grammar and the
// TagDispatch one.
TEST(TokenMask, EqualsBruteForceOnLlama3Vocabulary) {
  auto tok = Tokenizer::from_file(::sglang::testing::asset_path("llama3-tokenizer/tokenizer.json"));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto vocab = Vocabulary::from_tokenizer(**tok, 128256, {128001, 128009});
  uint32_t seed = 21;
  for (const char* grammar : {kGrammars[0], kGrammars[4]}) {
    SCOPED_TRACE(grammar);
    auto g = compile_or_die(grammar, vocab);
    ASSERT_TRUE(g);
    check_walks(g, 1, 8, seed++);
  }
}

// Timing, not a check (run with --gtest_also_run_disabled_tests): per-token mask time along a
// tokenized document, and compile time, on the Qwen vocabulary.
TEST(TokenMask, DISABLED_TimingOnQwen) {
  auto vocab = qwen_vocab();
  ASSERT_TRUE(vocab);
  auto tok = Tokenizer::from_file(::sglang::testing::asset_path("qwen3-tokenizer/tokenizer.json"));
  ASSERT_TRUE(tok.ok());
  struct Run {
    const char* grammar;
    const char* document;
  };
  const Run runs[] = {
      {kGrammars[0],
       R"({"name": "Alice Smith", "age": 42, "tags": ["a", "bcd", "e f g"], "nested": {"x": [1, 2, {"y": null}], "ok": true}, "text": "The quick brown fox jumps over the lazy dog."})"},
      {kGrammars[1], R"({"name":"Bob é","tags":["x","yz 1","abc"]})"},
  };
  // Compile time of schema-shaped grammars (one inlined automaton) as the fields grow.
  for (int fields : {5, 20, 60}) {
    std::string text = "root ::= \"{\" ws";
    for (int f = 0; f < fields; ++f) {
      text += std::string(f ? " \",\" ws" : "") + " \"\\\"field_" + std::to_string(f) +
              "\\\":\" ws " + (f % 3 == 2 ? "num" : "str");
    }
    text += " ws \"}\"\n";
    text +=
        "str ::= \"\\\"\" ([^\"\\\\\\x00-\\x1f] | \"\\\\\" [\"\\\\/bfnrt] | \"\\\\u\" "
        "[0-9a-fA-F]{4})* \"\\\"\"\n";
    text += "num ::= \"-\"? ([1-9] [0-9]* | \"0\") (\".\" [0-9]+)?\nws ::= [ \\n\\t]*\n";
    auto start = std::chrono::steady_clock::now();
    auto g = compile_or_die(text, vocab);
    ASSERT_TRUE(g);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("schema with %d fields: %zu states, compile %.1f ms, cache %.1f MB\n", fields,
                g->automaton().num_states(), ms,
                static_cast<double>(g->masks().memory_bytes()) / 1e6);
  }
  std::printf("Qwen trie: %zu nodes\n", vocab->trie().nodes.size());
  for (const Run& r : runs) {
    auto start = std::chrono::steady_clock::now();
    auto g = compile_or_die(r.grammar, vocab);
    ASSERT_TRUE(g);
    double compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    auto ids = (*tok)->encode(r.document, false);
    if (std::getenv("SGLANG_GRAMMAR_TIMING_VERBOSE")) {
      for (size_t s = 0; s < g->automaton().num_states(); ++s) {
        auto n = g->masks().uncertain(static_cast<int32_t>(s)).size();
        if (n > 0) std::printf("  state %zu: %zu uncertain\n", s, n);
      }
    }
    GrammarMatcher m(g);
    std::vector<uint32_t> mask(static_cast<size_t>(vocab->bitmask_words()));
    std::vector<double> us;
    for (int32_t id : ids) {
      auto t0 = std::chrono::steady_clock::now();
      m.fill_next_token_bitmask(mask);
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      ASSERT_TRUE(mask[static_cast<size_t>(id) / 32] & (1u << (id % 32))) << id;
      ASSERT_TRUE(m.accept_token(id));
      if (std::getenv("SGLANG_GRAMMAR_TIMING_VERBOSE")) {
        std::printf("  %8.1f us  stacks %zu  token '%s'\n", us.back(), m.num_stacks(),
                    vocab->token_bytes(id).c_str());
      }
    }
    std::sort(us.begin(), us.end());
    std::printf(
        "compile %.1f ms; mask per token over %zu tokens: median %.1f us, p99 %.1f us, max %.1f "
        "us\n",
        compile_ms, us.size(), us[us.size() / 2], us[us.size() * 99 / 100], us.back());
  }
}

}  // namespace
}  // namespace sglang::grammar
