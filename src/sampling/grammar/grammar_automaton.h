#pragma once
// A Grammar compiled to byte automata, one per rule that must stay a rule: the root and the rules
// on a recursion cycle (e.g. any-JSON's value/object/array). Every other rule is inlined where it
// is referenced, so a regex or a non-recursive JSON schema becomes a single automaton. Edges are
// byte ranges or calls of a rule (push the callee, continue at the target once it ends). Each
// rule's automaton is determinised (bounded; an automaton whose DFA would be too big stays an
// epsilon-free NFA, which the matcher handles the same way, since it tracks sets of stacks anyway).
// All rules' states live in one array; a state id names a (rule, position) pair.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sampling/grammar/grammar.h"
#include "util/status.h"

namespace sglang::grammar {

struct ByteEdge {
  uint8_t lo = 0, hi = 0;  // inclusive
  int32_t target = -1;
};

struct CallEdge {
  int32_t rule = -1;    // the callee (an index into Grammar::rules)
  int32_t target = -1;  // where the caller continues once the callee ends
};

struct AutomatonState {
  uint32_t bytes_begin = 0, bytes_end = 0;  // byte edges, sorted by lo
  uint32_t calls_begin = 0, calls_end = 0;
  int32_t rule = -1;
  bool accepting = false;  // the rule may end here
};

// Bounds that keep compilation finite and small whatever the grammar.
struct AutomatonLimits {
  size_t max_nfa_states = size_t{1} << 19;           // per rule, before determinising
  size_t max_dfa_states_per_rule = size_t{1} << 14;  // beyond: keep the epsilon-free NFA
  size_t max_states = size_t{1} << 16;  // all rules together (each one a mask position)
  int max_inline_depth = 2000;          // expression + inlined rule nesting
};

class GrammarAutomaton {
 public:
  // Fails (as a value) on grammars the engine refuses: left recursion, or beyond the limits.
  static Result<GrammarAutomaton> compile(const Grammar& grammar,
                                          const AutomatonLimits& limits = {});

  size_t num_states() const { return states_.size(); }
  const AutomatonState& state(int32_t s) const { return states_[static_cast<size_t>(s)]; }
  std::span<const ByteEdge> byte_edges(int32_t s) const {
    const AutomatonState& st = state(s);
    return {byte_edges_.data() + st.bytes_begin, st.bytes_end - st.bytes_begin};
  }
  std::span<const CallEdge> call_edges(int32_t s) const {
    const AutomatonState& st = state(s);
    return {call_edges_.data() + st.calls_begin, st.calls_end - st.calls_begin};
  }
  // The first state of a rule kept as an automaton (-1 for an inlined rule).
  int32_t rule_start(int32_t rule) const { return rule_start_[static_cast<size_t>(rule)]; }
  int32_t root_rule() const { return root_rule_; }
  const std::string& rule_name(int32_t rule) const {
    return rule_names_[static_cast<size_t>(rule)];
  }
  // A state the callee returns to that is accepting and has no edges: returning there is the
  // same as returning to the caller's caller (the matcher uses this as a tail call, so that right
  // recursion such as `list ::= item list | ""` keeps its stacks shallow).
  bool is_tail(int32_t s) const {
    const AutomatonState& st = state(s);
    return st.accepting && st.bytes_begin == st.bytes_end && st.calls_begin == st.calls_end;
  }
  // How many rules are kept as automata (1: the whole grammar was inlined into the root).
  size_t num_kept_rules() const;

 private:
  friend class AutomatonBuilder;
  std::vector<AutomatonState> states_;
  std::vector<ByteEdge> byte_edges_;
  std::vector<CallEdge> call_edges_;
  std::vector<int32_t> rule_start_;
  std::vector<std::string> rule_names_;
  int32_t root_rule_ = -1;
};

// The UTF-8 byte-range sequences that together match exactly the code points of `ranges`
// (surrogates excluded): e.g. [U+0080, U+07FF] -> [C2-DF][80-BF].
std::vector<std::vector<std::pair<uint8_t, uint8_t>>> utf8_byte_sequences(
    const std::vector<CodepointRange>& ranges);

}  // namespace sglang::grammar
