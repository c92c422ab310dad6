#pragma once
// Shared by the grammar engine's suites: a small synthetic vocabulary and grammar helpers.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/grammar/grammar_matcher.h"

namespace sglang::grammar::testing {

// Ids 0-255: the single bytes; then multi-byte tokens that cross rule boundaries in the test
// grammars; then an empty (special) token and the stop token, last.
inline std::shared_ptr<const Vocabulary> small_vocab() {
  static const std::shared_ptr<const Vocabulary> vocab = [] {
    std::vector<std::string> t;
    for (int b = 0; b < 256; ++b) t.emplace_back(1, static_cast<char>(b));
    for (const char* s : {"ab",
                          "abc",
                          "\"}",
                          "},",
                          "true",
                          "null",
                          "{\"",
                          "\":",
                          "1,",
                          "  ",
                          "\n ",
                          "\xC3\xA9",
                          "\xCE\xB1\xCE\xB2",
                          "\xE4\xB8",
                          "[1",
                          "]}",
                          "]]",
                          "\"a\"",
                          "12",
                          "-0",
                          "1.5",
                          ", ",
                          "<to",
                          "<tool>",
                          "ol>",
                          "</tool>",
                          "{}",
                          "a}",
                          "))",
                          "()",
                          "(()",
                          "x-1",
                          "-12",
                          "23.",
                          "fa",
                          "lse",
                          "ull",
                          ",\"",
                          "\":\"",
                          "\"]",
                          "[]",
                          "[[",
                          "{\"a\":1}",
                          "tru",
                          "e,"}) {
      t.emplace_back(s);
    }
    t.emplace_back("");         // special
    t.emplace_back("<|end|>");  // stop
    auto stop = static_cast<int32_t>(t.size() - 1);
    return Vocabulary::from_token_bytes(std::move(t), {stop});
  }();
  return vocab;
}

inline std::shared_ptr<const CompiledGrammar> compile_or_die(
    std::string_view ebnf, std::shared_ptr<const Vocabulary> v = small_vocab()) {
  auto g = compile_ebnf(ebnf, std::move(v));
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message) << "\n" << ebnf;
  return g.ok() ? *g : nullptr;
}

// Whether the grammar matches the whole of `s`.
inline bool matches(const std::shared_ptr<const CompiledGrammar>& g, std::string_view s) {
  GrammarMatcher m(g);
  return m.accept_string(s) && m.can_terminate();
}

// Whether `s` is a prefix of something the grammar matches (as far as the matcher can tell: the
// bytes are accepted).
inline bool accepts_prefix(const std::shared_ptr<const CompiledGrammar>& g, std::string_view s) {
  GrammarMatcher m(g);
  return m.accept_string(s);
}

inline std::string error_of(std::string_view ebnf) {
  auto g = compile_ebnf(ebnf, small_vocab());
  return g.ok() ? std::string("<compiled>") : g.error().message;
}

}  // namespace sglang::grammar::testing
