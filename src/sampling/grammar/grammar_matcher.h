#pragma once
// Matching one request's output against a compiled grammar, token by token: the state is a set
// of stacks (grammar_stacks.h), the per-step token mask ORs the stack tops' precomputed accepted
// sets and checks their uncertain tokens against the real stacks, and the last
// `max_rollback_tokens` states are kept for rollback. One matcher per request, used by one thread
// at a time; the per-step path reuses its buffers (no allocation once warm).
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/grammar/compiled_grammar.h"
#include "sampling/grammar/grammar_stacks.h"

namespace sglang::grammar {

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> g, int max_rollback_tokens = 200);

  // false: not allowed here (special, unknown, rejected by the grammar, or a stop token where
  // the grammar cannot end); the state is then unchanged. A stop token where the grammar can end
  // terminates the match.
  bool accept_token(int32_t token_id);
  // Bytes as if one token (jump-forward and tests): one rollback step; false: state unchanged.
  bool accept_string(std::string_view bytes);
  // bit (id % 32) of word id / 32 set = id allowed; writes vocabulary().bitmask_words() words.
  void fill_next_token_bitmask(std::span<uint32_t> bitmask);
  // The longest byte string the grammar forces next ("" when none): a single possible byte,
  // repeatedly, while the grammar cannot end. Does not change the state.
  std::string find_jump_forward_string();
  bool can_terminate() const { return current().can_end; }
  bool is_terminated() const { return current().terminated; }
  // Undoes the last `num_tokens` accepted tokens or strings (at most as many as are kept).
  void rollback(int num_tokens);
  void reset();

  const CompiledGrammar& grammar() const { return *g_; }
  size_t num_stacks() const { return current().set.size(); }

 private:
  struct Step {
    std::vector<int32_t> set;  // closed set of stack nodes
    bool can_end = false;
    bool terminated = false;
  };
  const Step& current() const { return ring_[head_]; }
  bool try_bytes(std::string_view bytes);
  void push(std::vector<int32_t>& set, bool can_end, bool terminated);

  std::shared_ptr<const CompiledGrammar> g_;
  const GrammarAutomaton& a_;
  StackPool pool_;
  StackStepper stepper_;
  std::vector<Step> ring_;  // the current state and up to max_rollback_tokens before it
  size_t head_ = 0, count_ = 1;
  std::vector<int32_t> work_, work2_;
  std::vector<std::vector<int32_t>> depth_sets_;  // per byte depth of an uncertain token
  // The uncertain tokens a stack (a persistent node id) allowed, for the last few stacks.
  struct CheckCache {
    int32_t node = -1;
    std::vector<int32_t> allowed;
  };
  std::array<CheckCache, 16> check_cache_;
  size_t check_cache_next_ = 0;
  std::vector<uint32_t> state_mark_;
  std::vector<uint32_t> mask_scratch_;
  uint32_t state_epoch_ = 0;
};

// Applies a bitmask to one row of logits: an id whose bit is clear (or past the bitmask) becomes
// -inf. The sampler calls it before penalties, temperature, top-k/top-p.
void apply_token_bitmask(std::span<float> logits, std::span<const uint32_t> bitmask);

}  // namespace sglang::grammar
