// Mask exactness: in random reachable states, the mask equals a brute-force check of every token
// (feed the token through the matcher, then roll it back).
#include <gtest/gtest.h>

#include <chrono>
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
