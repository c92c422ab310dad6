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
  for (MaskCache& c : mask_cache_) c.mask.resize(mask_scratch_.size());
  reset();
}

void GrammarMatcher::reset() {
  pool_.clear();
  for (MaskCache& c : mask_cache_) c.set.clear();  // node ids are reused after a clear
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

namespace {
uint64_t hash_set(std::span<const int32_t> set, bool can_end) {
  uint64_t h = can_end ? 0x9E3779B97F4A7C15ULL : 0;
  for (int32_t id : set) {
    h ^= static_cast<uint32_t>(id);
    h *= 0x100000001B3ULL;
  }
  return h;
}
}  // namespace

bool GrammarMatcher::check_uncertain(std::span<uint32_t> mask) {
  const Vocabulary& v = g_->vocabulary();
  const TokenMaskCache& masks = g_->masks();
  size_t words = mask.size();
  auto allowed = [&](int32_t id) {
    auto w = static_cast<size_t>(id) / 32;
    return w >= words || (mask[w] >> (id % 32) & 1u) != 0;
  };
  // Checking a token against the whole set is exactly accept_token's test, so a token uncertain
  // at several tops is fed once, and one another top already accepts is not fed at all (as
  // xgrammar skips the tokens an earlier stack accepted).
  const std::vector<int32_t>& trie_ids = v.trie().token_ids;
  cursors_.assign(tops_.size(), 0);
  bool begun = false;
  size_t valid = 0;        // depth_sets_[0..valid] hold the last fed token's prefix
  size_t dead = SIZE_MAX;  // the last fed token died reading byte dead - 1
  const std::string* last = nullptr;
  uint32_t last_rank = UINT32_MAX;
  for (;;) {
    // The next token in byte order over all tops' lists (each sorted by trie rank).
    uint32_t rank = UINT32_MAX;
    for (size_t k = 0; k < tops_.size(); ++k) {
      auto ranks = masks.uncertain_rank(tops_[k]);
      if (cursors_[k] < ranks.size()) rank = std::min(rank, ranks[cursors_[k]]);
    }
    if (rank == UINT32_MAX) break;
    for (size_t k = 0; k < tops_.size(); ++k) {
      auto ranks = masks.uncertain_rank(tops_[k]);
      if (cursors_[k] < ranks.size() && ranks[cursors_[k]] == rank) ++cursors_[k];
    }
    if (rank == last_rank) continue;
    last_rank = rank;
    int32_t t = trie_ids[rank];
    if (allowed(t)) continue;
    if (!begun) {
      begun = true;
      pool_.begin_scratch();
      depth_sets_[0].assign(current().set.begin(), current().set.end());
    }
    const std::string& bytes = v.token_bytes(t);
    size_t common = 0;
    if (last) {
      size_t n = std::min(last->size(), bytes.size());
      while (common < n && (*last)[common] == bytes[common]) ++common;
    }
    // Shares the prefix the last fed token died in: dies too (and leaves that prefix as it was).
    if (common >= dead) continue;
    last = &bytes;
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
    if (dead == SIZE_MAX) mask[static_cast<size_t>(t) / 32] |= 1u << (t % 32);
  }
  if (begun) pool_.end_scratch();
  return begun;
}

void GrammarMatcher::fill_next_token_bitmask(std::span<uint32_t> bitmask) {
  const Vocabulary& v = g_->vocabulary();
  auto words = std::min(bitmask.size(), static_cast<size_t>(v.bitmask_words()));
  std::span<uint32_t> mask = bitmask.first(words);
  auto set_bit = [&](int32_t id) {
    if (static_cast<size_t>(id) / 32 < words) mask[static_cast<size_t>(id) / 32] |= 1u << (id % 32);
  };
  const Step& cur = current();
  if (cur.terminated) {
    std::memset(mask.data(), 0, words * sizeof(uint32_t));
    for (int32_t id : v.stop_token_ids()) set_bit(id);
    return;
  }
  uint64_t hash = hash_set(cur.set, cur.can_end);
  for (const MaskCache& c : mask_cache_) {
    if (c.hash == hash && c.can_end == cur.can_end && c.words == words && !c.set.empty() &&
        std::equal(c.set.begin(), c.set.end(), cur.set.begin(), cur.set.end())) {
      std::memcpy(mask.data(), c.mask.data(), words * sizeof(uint32_t));
      return;
    }
  }
  std::memset(mask.data(), 0, words * sizeof(uint32_t));
  const TokenMaskCache& masks = g_->masks();
  if (++state_epoch_ == 0) {
    std::fill(state_mark_.begin(), state_mark_.end(), 0);
    state_epoch_ = 1;
  }
  // The context-independent part: each distinct top position's accepted set.
  tops_.clear();
  size_t ored = 0;
  for (int32_t id : cur.set) {
    int32_t s = pool_.node(id).state;
    if (a_.byte_edges(s).empty()) continue;
    if (state_mark_[static_cast<size_t>(s)] == state_epoch_) continue;
    state_mark_[static_cast<size_t>(s)] = state_epoch_;
    masks.or_accepted(s, mask, std::span<uint32_t>(mask_scratch_).first(words));
    ++ored;
    if (!masks.uncertain(s).empty()) tops_.push_back(s);
  }
  // The context-dependent part: the tops' uncertain tokens against the real stacks.
  bool checked = !tops_.empty() && check_uncertain(mask);
  if (cur.can_end) {
    for (int32_t id : v.stop_token_ids()) set_bit(id);
  }
  // Kept when it cost more than copying it back will.
  if (checked || ored > 1) {
    MaskCache& c = mask_cache_[mask_cache_next_];
    mask_cache_next_ = (mask_cache_next_ + 1) % mask_cache_.size();
    c.hash = hash;
    c.can_end = cur.can_end;
    c.words = words;
    c.set.assign(cur.set.begin(), cur.set.end());
    if (c.mask.size() < words) c.mask.resize(words);
    std::memcpy(c.mask.data(), mask.data(), words * sizeof(uint32_t));
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
