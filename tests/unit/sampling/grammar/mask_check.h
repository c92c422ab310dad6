#pragma once
// Mask exactness checks shared by the small-vocabulary and the Qwen-vocabulary suites: in random
// reachable states, the mask equals a brute-force check of every token (feed the token through
// the matcher, then roll it back).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "sampling/grammar/grammar_matcher.h"

namespace sglang::grammar::testing {

inline const char* const kGrammars[] = {
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
inline std::vector<uint32_t> brute_force_mask(GrammarMatcher& m, const Vocabulary& v) {
  std::vector<uint32_t> mask(static_cast<size_t>(v.bitmask_words()), 0);
  for (int32_t id = 0; id < v.size(); ++id) {
    if (m.accept_token(id)) {
      mask[static_cast<size_t>(id) / 32] |= 1u << (id % 32);
      m.rollback(1);
    }
  }
  return mask;
}

inline std::vector<int32_t> allowed_ids(const std::vector<uint32_t>& mask, int64_t size) {
  std::vector<int32_t> out;
  for (int32_t id = 0; id < size; ++id) {
    if (mask[static_cast<size_t>(id) / 32] & (1u << (id % 32))) out.push_back(id);
  }
  return out;
}

// Walks `steps` random allowed tokens from the start, checking the mask at each state.
inline void check_walks(const std::shared_ptr<const CompiledGrammar>& g, int walks, int steps,
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

}  // namespace sglang::grammar::testing
