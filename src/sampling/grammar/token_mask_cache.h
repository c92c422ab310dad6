#pragma once
// Per automaton position, the tokens decided at compile time (xgrammar's adaptive token mask
// cache): with the position alone on the stack, walk the vocabulary trie and sort every normal
// token into accepted (consumed within the rule or its callees, whatever surrounds it), rejected,
// or uncertain (it runs past the rule's end, so the real stack decides at run time). Each
// position keeps its accepted set as a list, a complement list or a bitset, whichever is
// smallest, and its uncertain tokens as a list.
#include <cstdint>
#include <span>
#include <vector>

#include "sampling/grammar/grammar_automaton.h"
#include "sampling/grammar/vocabulary.h"

namespace sglang::grammar {

class TokenMaskCache {
 public:
  // `threads` workers walk positions in parallel (0: hardware concurrency, at most 8).
  static TokenMaskCache build(const GrammarAutomaton& automaton, const Vocabulary& vocab,
                              unsigned threads = 0);

  // ORs position `state`'s accepted tokens into `bitmask` (vocab.bitmask_words() words);
  // `scratch` is as long and is overwritten.
  void or_accepted(int32_t state, std::span<uint32_t> bitmask, std::span<uint32_t> scratch) const;
  // The uncertain tokens sorted by their bytes, and each one's common prefix length with the one
  // before it (0 for the first), so a run-time check can reuse the prefix's stacks.
  std::span<const int32_t> uncertain(int32_t state) const;
  std::span<const uint16_t> uncertain_prefix(int32_t state) const;
  size_t num_uncertain_total() const { return uncertain_.size(); }
  size_t memory_bytes() const;

 private:
  enum class Kind : uint8_t { kNone = 0, kList = 1, kComplement = 2, kBitset = 3 };
  struct Entry {
    Kind kind = Kind::kNone;
    uint32_t begin = 0, count = 0;  // ids_ (lists) or words_ (bitset)
    uint32_t uncertain_begin = 0, uncertain_count = 0;
  };
  std::vector<Entry> entries_;  // per automaton state
  std::vector<int32_t> ids_;
  std::vector<uint32_t> words_;
  std::vector<int32_t> uncertain_;
  std::vector<uint16_t> uncertain_prefix_;
  const Vocabulary* vocab_ = nullptr;
};

}  // namespace sglang::grammar
