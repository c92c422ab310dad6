// Mask exactness: in random reachable states, the mask equals a brute-force check of every token
// (feed the token through the matcher, then roll it back).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "grammar_test_util.h"
#include "sampling/grammar/grammar_matcher.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace sglang::grammar {
namespace {

using testing::compile_or_die;

const char* const kGrammars[] = {
    // Recursive: any JSON (value/object/array stay rules; tokens cross their ends).
    R"g(root ::= value
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( "," ws member )* )? "}" ws
member ::= string ":" ws value
array ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\] | "\\" ["\\/bfnrt] )* "\"" ws
number ::= "-"? [0-9]+ ("." [0-9]+)? ws
ws ::= [ \t\n]*
)g",
    // Inlined to one automaton: a fixed-shape object, as a JSON schema front-end emits.
    R"g(root ::= "{" ws "\"name\":" ws str "," ws "\"tags\":" ws "[" (str ("," ws str){0,2})? "]" ws "}"
str ::= "\"" [a-zA-Z0-9 é]{0,8} "\""
ws ::= [ \n]?
)g",
    // The root calls itself; tokens run past inner roots' ends.
    R"g(root ::= "(" root ")" root | "x-" [0-9]* | "")g",
    // UTF-8 classes and tokens that end inside a code point.
    R"g(root ::= ([α-ω] | [中文] | "ab" | [\u00e9])+ ("!" | "."))g",
    // TagDispatch: free text with dispatched calls.
    R"g(root ::= TagDispatch(("<tool>", call), stop_eos=true)
call ::= "{" ("\"a\"" | "1" | ",")* "}" "</tool>"
)g",
};

// Every token's verdict by feeding it; the matcher is left as it was.
std::vector<uint32_t> brute_force_mask(GrammarMatcher& m, const Vocabulary& v) {
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()), 0);
  for (int32_t id = 0; id < v.size(); ++id) {
    if (m.accept_token(id)) {
      mask[static_cast<size_t>(id) / 32] |= 1u << (id % 32);
      m.rollback(1);
    }
  }
  return mask;
}

std::vector<int32_t> allowed_ids(const std::vector<uint32_t>& mask, int64_t size) {
  std::vector<int32_t> out;
  for (int32_t id = 0; id < size; ++id) {
    if (mask[static_cast<size_t>(id) / 32] & (1u << (id % 32))) out.push_back(id);
  }
  return out;
}

// Walks `steps` random allowed tokens from the start, checking the mask at each state.
void check_walks(const std::shared_ptr<const CompiledGrammar>& g, int walks, int steps,
                 uint32_t seed) {
  const Vocabulary& v = g->vocabulary();
  std::mt19937 rng(seed);
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()));
  int checked = 0;
  for (int w = 0; w < walks; ++w) {
    GrammarMatcher m(g);
    for (int s = 0; s < steps; ++s) {
      m.fill_next_token_bitmask(mask);
      auto expected = brute_force_mask(m, v);
      ++checked;
      if (mask != expected) {
        auto got = allowed_ids(mask, v.size()), want = allowed_ids(expected, v.size());
        std::string diff;
        for (int32_t id : want) {
          if (!std::binary_search(got.begin(), got.end(), id)) {
            diff += " missing " + std::to_string(id) + "='" + v.token_bytes(id) + "'";
          }
        }
        for (int32_t id : got) {
          if (!std::binary_search(want.begin(), want.end(), id)) {
            diff += " extra " + std::to_string(id) + "='" + v.token_bytes(id) + "'";
          }
        }
        FAIL() << "walk " << w << " step " << s << ":" << diff.substr(0, 2000);
      }
      std::vector<int32_t> choices;
      for (int32_t id : allowed_ids(mask, v.size())) {
        if (!v.is_stop(id)) choices.push_back(id);
      }
      if (choices.empty()) break;
      int32_t pick = choices[std::uniform_int_distribution<size_t>(0, choices.size() - 1)(rng)];
      ASSERT_TRUE(m.accept_token(pick)) << pick;
    }
  }
  EXPECT_GT(checked, walks);
}

TEST(TokenMask, EqualsBruteForceOnSmallVocabulary) {
  uint32_t seed = 1;
  for (const char* grammar : kGrammars) {
    SCOPED_TRACE(grammar);
    auto g = compile_or_die(grammar);
    ASSERT_TRUE(g);
    check_walks(g, 12, 40, seed++);
  }
}

TEST(TokenMask, StopTokensExactlyWhenTheGrammarCanEnd) {
  auto g = compile_or_die("root ::= \"a\" \"b\"?");
  ASSERT_TRUE(g);
  const Vocabulary& v = g->vocabulary();
  int32_t stop = v.stop_token_ids()[0];
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()));
  auto allowed = [&](int32_t id) { return (mask[static_cast<size_t>(id) / 32] >> (id % 32)) & 1; };
  GrammarMatcher m(g);
  m.fill_next_token_bitmask(mask);
  EXPECT_FALSE(allowed(stop));
  EXPECT_TRUE(allowed('a'));
  EXPECT_TRUE(allowed(256));  // "ab"
  EXPECT_FALSE(allowed('b'));
  ASSERT_TRUE(m.accept_token('a'));
  m.fill_next_token_bitmask(mask);
  EXPECT_TRUE(allowed(stop));
  EXPECT_TRUE(allowed('b'));
  EXPECT_FALSE(allowed(static_cast<int32_t>(v.size() - 2)));  // the special token, never
  EXPECT_EQ(allowed_ids(mask, v.size()).size(), 2u);
}

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
    check_walks(g, 2, 8, seed++);
  }
}

}  // namespace
}  // namespace sglang::grammar

namespace sglang::grammar {
namespace {

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
