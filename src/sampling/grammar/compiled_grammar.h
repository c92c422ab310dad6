#pragma once
// A grammar ready for matching: its automata and the token masks precomputed for a vocabulary.
// Immutable, shared across requests and threads (the lead's grammar cache keys it by the text).
#include <memory>
#include <string_view>

#include "sampling/grammar/grammar.h"
#include "sampling/grammar/grammar_automaton.h"
#include "sampling/grammar/token_mask_cache.h"
#include "sampling/grammar/vocabulary.h"
#include "util/status.h"

namespace sglang::grammar {

class CompiledGrammar {
 public:
  CompiledGrammar(GrammarAutomaton automaton, std::shared_ptr<const Vocabulary> vocab,
                  TokenMaskCache masks)
      : automaton_(std::move(automaton)), vocab_(std::move(vocab)), masks_(std::move(masks)) {}

  const GrammarAutomaton& automaton() const { return automaton_; }
  const Vocabulary& vocabulary() const { return *vocab_; }
  const std::shared_ptr<const Vocabulary>& vocabulary_ptr() const { return vocab_; }
  const TokenMaskCache& masks() const { return masks_; }

 private:
  GrammarAutomaton automaton_;
  std::shared_ptr<const Vocabulary> vocab_;
  TokenMaskCache masks_;
};

struct CompileOptions {
  AutomatonLimits limits;
  unsigned threads = 0;  // mask precomputation workers (0: the machine's cores, at most 8)
};

// Parses, compiles, precomputes the masks. Thread-safe.
Result<std::shared_ptr<const CompiledGrammar>> compile_ebnf(std::string_view ebnf,
                                                            std::shared_ptr<const Vocabulary> vocab,
                                                            std::string_view root = "root",
                                                            const CompileOptions& options = {});
// The same from a Grammar built in code (front-ends that skip the text).
Result<std::shared_ptr<const CompiledGrammar>> compile_grammar(
    const Grammar& grammar, std::shared_ptr<const Vocabulary> vocab,
    const CompileOptions& options = {});

}  // namespace sglang::grammar
