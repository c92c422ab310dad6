#include "sampling/grammar/grammar_matcher.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace sglang::grammar {

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> g, int max_rollback_tokens)
    : g_(std::move(g)), a_(g_->automaton()), stepper_(a_, pool_) {
  ring_.resize(static_cast<size_t>(std::max(0, max_rollback_tokens)) + 1);
  static constexpr size_t kReservedNodes = 4096;
  pool_.reserve(kReservedNodes);
  stepper_.reserve(kReservedNodes);
  state_mark_.assign(a_.num_states(), 0);
  mask_scratch_.resize(static_cast<size_t>(g_->vocabulary().bitmask_words()));
  depth_sets_.resize(static_cast<size_t>(g_->vocabulary().trie().max_depth) + 1);
  reset();
}

void GrammarMatcher::reset() {
  pool_.clear();
  for (CheckCache& c : check_cache_) c.node = -1;  // node ids are reused after a clear
  head_ = 0;
  count_ = 1;
  Step& s = ring_[0];
  s.set.clear();
  s.set.push_back(pool_.intern(a_.rule_start(a_.root_rule()), -1));
  s.can_end = stepper_.close(s.set);
  s.terminated = false;
}

void GrammarMatcher::push(std::vector<int32_t>& set, bool can_end, bool terminated) {
  head_ = (head_ + 1) % ring_.size();
  count_ = std::min(count_ + 1, ring_.size());
  Step& s = ring_[head_];
  s.set.swap(set);
  s.can_end = can_end;
  s.terminated = terminated;
}

bool GrammarMatcher::try_bytes(std::string_view bytes) {
  work_.assign(current().set.begin(), current().set.end());
  bool ended = current().can_end;
  // In scratch nodes, so a rejected string leaves the pool as it was; kept when accepted.
  pool_.begin_scratch();
  bool ok = stepper_.advance_all(work_, bytes, ended, work2_);
  if (!ok) {
    pool_.end_scratch();
    return false;
  }
  pool_.commit_scratch();
  push(work_, ended, false);
  return true;
}

bool GrammarMatcher::accept_string(std::string_view bytes) {
  if (is_terminated()) return false;
  return try_bytes(bytes);
}

bool GrammarMatcher::accept_token(int32_t token_id) {
  const Vocabulary& v = g_->vocabulary();
  if (is_terminated() || token_id < 0 || token_id >= v.size()) return false;
  if (v.is_stop(token_id)) {
    if (!can_terminate()) return false;
    work_.assign(current().set.begin(), current().set.end());
    push(work_, true, true);
    return true;
  }
  if (v.is_special(token_id)) return false;
  return accept_string(v.token_bytes(token_id));
}

void GrammarMatcher::rollback(int num_tokens) {
  auto n = static_cast<size_t>(std::max(0, num_tokens));
  n = std::min(n, count_ - 1);
  head_ = (head_ + ring_.size() - n) % ring_.size();
  count_ -= n;
}

void GrammarMatcher::fill_next_token_bitmask(std::span<uint32_t> bitmask) {
  const Vocabulary& v = g_->vocabulary();
  auto words = std::min(bitmask.size(), static_cast<size_t>(v.bitmask_words()));
  std::span<uint32_t> mask = bitmask.first(words);
  std::memset(mask.data(), 0, words * sizeof(uint32_t));
  auto set_bit = [&](int32_t id) {
    if (static_cast<size_t>(id) / 32 < words) mask[static_cast<size_t>(id) / 32] |= 1u << (id % 32);
  };
  const Step& cur = current();
  if (cur.terminated) {
    for (int32_t id : v.stop_token_ids()) set_bit(id);
    return;
  }
  const TokenMaskCache& masks = g_->masks();
  if (++state_epoch_ == 0) {
    std::fill(state_mark_.begin(), state_mark_.end(), 0);
    state_epoch_ = 1;
  }
  // The context-independent part: each distinct top position's accepted set.
  bool any_uncertain = false;
  for (int32_t id : cur.set) {
    int32_t s = pool_.node(id).state;
    if (a_.byte_edges(s).empty()) continue;
    any_uncertain = any_uncertain || !masks.uncertain(s).empty();
    if (state_mark_[static_cast<size_t>(s)] == state_epoch_) continue;
    state_mark_[static_cast<size_t>(s)] = state_epoch_;
    masks.or_accepted(s, mask, std::span<uint32_t>(mask_scratch_).first(words));
  }
  // The context-dependent part: each top's uncertain tokens, fed from that stack alone.
  if (any_uncertain) {
    pool_.begin_scratch();
    for (int32_t id : cur.set) {
      int32_t s = pool_.node(id).state;
      if (a_.byte_edges(s).empty()) continue;
      auto uncertain = masks.uncertain(s);
      if (uncertain.empty()) continue;
      // A persistent node id names its whole stack, so its verdicts can be reused: inside a long
      // string, step after step has the same stack.
      CheckCache* hit = nullptr;
      for (CheckCache& c : check_cache_) {
        if (c.node == id) hit = &c;
      }
      if (hit) {
        for (int32_t t : hit->allowed) set_bit(t);
        continue;
      }
      CheckCache& entry = check_cache_[check_cache_next_];
      check_cache_next_ = (check_cache_next_ + 1) % check_cache_.size();
      entry.node = id;
      entry.allowed.clear();
      // Sorted by bytes: each token continues from the stacks of the prefix it shares with the
      // one before, and a prefix no stack survived rejects the tokens that share it.
      auto prefix = masks.uncertain_prefix(s);
      depth_sets_[0].clear();
      depth_sets_[0].push_back(id);
      stepper_.close(depth_sets_[0]);
      size_t valid = 0;        // depth_sets_[0..valid] hold the previous token's prefix
      size_t dead = SIZE_MAX;  // the previous token died reading byte dead - 1
      for (size_t k = 0; k < uncertain.size(); ++k) {
        int32_t t = uncertain[k];
        const std::string& bytes = v.token_bytes(t);
        size_t common = prefix[k];
        if (common >= dead) continue;
        dead = SIZE_MAX;
        size_t d = std::min(valid, common);
        for (; d < bytes.size(); ++d) {
          stepper_.advance(depth_sets_[d], static_cast<uint8_t>(bytes[d]), depth_sets_[d + 1]);
          if (depth_sets_[d + 1].empty()) {
            dead = d + 1;
            break;
          }
        }
        valid = d;
        if (dead == SIZE_MAX) {
          set_bit(t);
          entry.allowed.push_back(t);
        }
      }
    }
    pool_.end_scratch();
  }
  if (cur.can_end) {
    for (int32_t id : v.stop_token_ids()) set_bit(id);
  }
}

std::string GrammarMatcher::find_jump_forward_string() {
  static constexpr size_t kMaxJump = 4096;
  std::string out;
  if (is_terminated()) return out;
  pool_.begin_scratch();
  work_.assign(current().set.begin(), current().set.end());
  bool can_end = current().can_end;
  while (!can_end && out.size() < kMaxJump) {
    int only = -1;
    bool several = false;
    for (int32_t id : work_) {
      for (const ByteEdge& e : a_.byte_edges(pool_.node(id).state)) {
        if (e.lo != e.hi || (only >= 0 && only != e.lo)) {
          several = true;
          break;
        }
        only = e.lo;
      }
      if (several) break;
    }
    if (several || only < 0) break;
    can_end = stepper_.advance(work_, static_cast<uint8_t>(only), work2_);
    work_.swap(work2_);
    if (work_.empty()) break;
    out.push_back(static_cast<char>(only));
  }
  pool_.end_scratch();
  return out;
}

void apply_token_bitmask(std::span<float> logits, std::span<const uint32_t> bitmask) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  size_t n = logits.size();
  float* x = logits.data();
  for (size_t w = 0; w * 32 < n; ++w) {
    uint32_t word = w < bitmask.size() ? bitmask[w] : 0;
    if (word == 0xFFFFFFFFu) continue;
    size_t base = w * 32;
    size_t len = std::min<size_t>(32, n - base);
    // Branch-free per lane so the compiler vectorises the full words.
    for (size_t i = 0; i < len; ++i) {
      x[base + i] = ((word >> i) & 1u) ? x[base + i] : kNegInf;
    }
  }
}

}  // namespace sglang::grammar
