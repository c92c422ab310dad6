#pragma once
// The pushdown part of matching: persistent, hash-consed stacks of automaton states, and one step
// of a set of them over a byte. A stack is a node (state, parent): `state` is where the innermost
// rule is, `parent` the node the rule returns to (its state is the caller's return state), -1 at
// the bottom. Equal stacks are one node, so alternatives share their common parts and a set of
// stacks is a set of node ids. Used by the matcher (one pool per request) and by the compile-time
// mask precomputation (one pool per worker).
#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sampling/grammar/grammar_automaton.h"

namespace sglang::grammar {

// Parents below 0 mark a stack's bottom: kBottom is a real one; kAnyContext (compile time only)
// stands for "whatever called this rule", see StackStepper::set_any_context.
inline constexpr int32_t kBottom = -1;
inline constexpr int32_t kAnyContext = -2;

struct StackNode {
  int32_t state = -1;
  int32_t parent = kBottom;
  int32_t bottom = kBottom;  // the parent value at the stack's bottom
};

class StackPool {
 public:
  int32_t intern(int32_t state, int32_t parent);
  const StackNode& node(int32_t id) const { return nodes_[static_cast<size_t>(id)]; }
  size_t size() const { return nodes_.size(); }
  // Nodes interned between begin_scratch and end_scratch are dropped by end_scratch (trial runs:
  // masks' context-dependent checks, jump-forward), so they do not grow the pool.
  // Room for `n` nodes up front, so the first steps of a match do not grow the tables.
  void reserve(size_t n);
  void begin_scratch();
  void end_scratch();
  // Ends the scratch run keeping its nodes (a trial that succeeded becomes the real step).
  void commit_scratch();
  void clear();

 private:
  // Open addressing from (state, parent) to a node id; cleared by the slots it used.
  struct Table {
    std::vector<uint64_t> keys;  // 0: empty
    std::vector<int32_t> values;
    std::vector<uint32_t> used;
    int32_t find(uint64_t key) const;
    void insert(uint64_t key, int32_t value);
    void clear();
    void reserve(size_t n);
  };
  static uint64_t key_of(int32_t state, int32_t parent) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 32 |
            static_cast<uint32_t>(parent + 1)) +
           1;
  }
  std::vector<StackNode> nodes_;
  Table table_, scratch_table_;
  size_t scratch_begin_ = 0;
  bool scratch_ = false;
};

// Steps sets of stacks. A set is kept closed: every node in it whose state calls a rule also has
// the callee's start pushed on it, and every node whose rule may end also has its parent (which
// is what "the rule ends here" continues as). `ended` says whether a bottom frame may end, i.e.
// the whole grammar (or, at compile time, the rule under study) can stop there.
class StackStepper {
 public:
  StackStepper(const GrammarAutomaton& automaton, StackPool& pool) : a_(automaton), pool_(pool) {}

  // Compile time: when a rule ends on a bottom frame, continue in every place that calls it
  // (`returns[rule]`: the return states of all calls of it) on a kAnyContext bottom, which ends
  // the same way in turn. This over-approximates every real context, so a token dead in all of
  // them is rejected, not uncertain. Null (the matcher): a bottom frame just ends.
  void set_any_context(const std::vector<std::vector<int32_t>>* returns) { returns_ = returns; }

  void reserve(size_t nodes) { mark_.resize(std::max(mark_.size(), nodes), 0); }

  // Closes `set` in place (appending); returns `ended`.
  bool close(std::vector<int32_t>& set);
  // The closed set reached from the closed set `from` by one byte (empty: no stack accepts it).
  bool advance(std::span<const int32_t> from, uint8_t byte, std::vector<int32_t>& to);
  // Feeds `bytes` from `set` (replaced by the result); false, and `set` emptied, if rejected.
  bool advance_all(std::vector<int32_t>& set, std::string_view bytes, bool& ended,
                   std::vector<int32_t>& scratch);

 private:
  bool add(std::vector<int32_t>& set, int32_t node);

  const GrammarAutomaton& a_;
  StackPool& pool_;
  const std::vector<std::vector<int32_t>>* returns_ = nullptr;
  std::vector<uint32_t> mark_;  // per node: the epoch it was last added to a set in
  uint32_t epoch_ = 0;
};

}  // namespace sglang::grammar
