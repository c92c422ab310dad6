#include "sampling/grammar/token_mask_cache.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <thread>

#include "sampling/grammar/grammar_stacks.h"

namespace sglang::grammar {

namespace {

struct Classified {
  std::vector<int32_t> accepted;         // in trie order
  std::vector<int32_t> uncertain;        // in trie order, i.e. sorted by bytes
  std::vector<uint32_t> uncertain_rank;  // each one's index in the trie's token_ids
};

// One position's sets in their stored form, made by the worker that classified it.
struct Compact {
  uint8_t kind = 0;             // TokenMaskCache::Kind
  std::vector<int32_t> ids;     // kList: accepted; kComplement: normal tokens not accepted
  std::vector<uint32_t> words;  // kBitset
  std::vector<int32_t> uncertain;
  std::vector<uint32_t> rank;
  std::vector<uint16_t> prefix;  // each uncertain token's common prefix with the one before
};

// A list is smaller than a bitset while it has fewer than size / 32 ids, and faster to apply while
// it has fewer than about size / 128.
void compact(Classified& c, const Vocabulary& vocab, std::vector<uint32_t>& bits, Compact& out) {
  size_t words = static_cast<size_t>(vocab.bitmask_words());
  size_t rejected = vocab.normal_token_ids().size() - c.accepted.size();
  // At run time a listed id costs about as much as eight bitset words: lists only while short.
  size_t list_limit = words / 4;
  if (c.accepted.size() <= list_limit && c.accepted.size() <= rejected) {
    out.kind = 1;
    out.ids = c.accepted;
    std::sort(out.ids.begin(), out.ids.end());
  } else {
    bits.assign(words, 0);
    for (int32_t id : c.accepted) bits[static_cast<size_t>(id) / 32] |= 1u << (id % 32);
    if (rejected <= list_limit) {
      out.kind = 2;
      const std::vector<uint32_t>& normal_bits = vocab.normal_bits();
      for (size_t w = 0; w < words; ++w) {
        for (uint32_t m = normal_bits[w] & ~bits[w]; m != 0; m &= m - 1) {
          out.ids.push_back(static_cast<int32_t>(w * 32 + static_cast<size_t>(__builtin_ctz(m))));
        }
      }
    } else {
      out.kind = 3;
      out.words = bits;
    }
  }
  out.uncertain = c.uncertain;
  out.rank = c.uncertain_rank;
  for (size_t k = 0; k < c.uncertain.size(); ++k) {
    size_t common = 0;
    if (k > 0) {
      const std::string& x = vocab.token_bytes(c.uncertain[k - 1]);
      const std::string& y = vocab.token_bytes(c.uncertain[k]);
      while (common < x.size() && common < y.size() && x[common] == y[common]) ++common;
    }
    out.prefix.push_back(static_cast<uint16_t>(std::min<size_t>(common, 0xFFFF)));
  }
}

// Walks the trie from one position; reuses its buffers across positions. The stack sets met on
// the way are interned, with their transitions cached per byte, so a trie node mostly costs one
// table lookup (inside a string, say, every character leads back to the same set).
class PositionWalker {
 public:
  PositionWalker(const GrammarAutomaton& a, const Vocabulary& v,
                 const std::vector<std::vector<int32_t>>& returns)
      : trie_(v.trie()), stepper_(a, pool_) {
    stepper_.set_any_context(&returns);
    at_depth_.resize(static_cast<size_t>(trie_.max_depth) + 1);
  }

  // A token is accepted when a stack that never left the position's rule survives it, uncertain
  // when only stacks that left it (into any calling context) do, rejected when none does; a
  // prefix no stack survived rejects its whole subtree at once.
  void classify(int32_t state, Classified& out) {
    out.accepted.clear();
    out.uncertain.clear();
    out.uncertain_rank.clear();
    pool_.clear();
    ids_.clear();
    sets_.clear();
    scratch_.clear();
    scratch_.push_back(pool_.intern(state, kBottom));
    stepper_.close(scratch_);
    at_depth_[0] = intern_set(scratch_);
    const auto& nodes = trie_.nodes;
    for (size_t i = 0; i < nodes.size();) {
      const VocabularyTrie::Node& n = nodes[i];
      size_t d = n.depth;
      int32_t from = at_depth_[d - 1];
      int32_t to = sets_[static_cast<size_t>(from)].next[n.byte];
      if (to < 0) {
        stepper_.advance(sets_[static_cast<size_t>(from)].nodes, n.byte, scratch_);
        to = intern_set(scratch_);
        sets_[static_cast<size_t>(from)].next[n.byte] = to;
      }
      const Set& set = sets_[static_cast<size_t>(to)];
      if (set.nodes.empty()) {
        i = n.subtree_end;
        continue;
      }
      at_depth_[d] = to;
      // A set that loops on every byte below this node ends every token of the subtree as it
      // is: take them all without walking it (a string's interior is most of the trie).
      if (n.subtree_end - i > kMinSkippedSubtree && takes_subtree(to, i)) {
        bool certain = sets_[static_cast<size_t>(to)].certain;
        auto& into = certain ? out.accepted : out.uncertain;
        uint32_t tokens_end = trie_.subtree_tokens_end(i);
        into.insert(into.end(), trie_.token_ids.begin() + n.tokens_begin,
                    trie_.token_ids.begin() + tokens_end);
        if (!certain) {
          for (uint32_t r = n.tokens_begin; r < tokens_end; ++r) out.uncertain_rank.push_back(r);
        }
        i = n.subtree_end;
        continue;
      }
      // (takes_subtree may have grown sets_: `set` is looked up again.)
      bool certain = sets_[static_cast<size_t>(to)].certain;
      auto& dest = certain ? out.accepted : out.uncertain;
      dest.insert(dest.end(), trie_.token_ids.begin() + n.tokens_begin,
                  trie_.token_ids.begin() + n.tokens_end);
      if (!certain) {
        for (uint32_t r = n.tokens_begin; r < n.tokens_end; ++r) out.uncertain_rank.push_back(r);
      }
      ++i;
    }
  }

 private:
  static constexpr uint32_t kMinSkippedSubtree = 16;  // nodes; smaller ones are walked

  struct Set {
    std::vector<int32_t> nodes;  // sorted
    bool certain = false;        // a stack still in the position's rule is among them
    bool loops_known = false;
    bool utf8_known = false, utf8_loops = false;
    std::array<uint64_t, 2> loops{};  // the ASCII bytes (not NUL) that lead back to this set
    std::array<int32_t, 256> next;
  };

  // Whether every token below trie node `node` ends as set `id` (alive) is: the set loops on
  // each ASCII byte there, and if there are bytes from 0x80, they read as well-formed UTF-8
  // whose every code point leads back to the set, through sets of the same certainty.
  bool takes_subtree(int32_t id, size_t node) {
    const std::array<uint64_t, 2>& below = trie_.below[node];
    const std::array<uint64_t, 2>& loops = loops_of(id);
    uint64_t missing0 = below[0] & ~loops[0], missing1 = below[1] & ~loops[1];
    if (missing1 != 0 || (missing0 & ~uint64_t{1}) != 0) return false;
    if (missing0 == 0) return true;
    uint16_t u = trie_.utf8[node];
    return !(u & VocabularyTrie::kUtf8Nul) && (u & 1u) && utf8_loops(id);
  }

  int32_t step(int32_t from, uint8_t byte) {
    int32_t to = sets_[static_cast<size_t>(from)].next[byte];
    if (to < 0) {
      stepper_.advance(sets_[static_cast<size_t>(from)].nodes, byte, step_scratch_);
      to = intern_set(step_scratch_);
      sets_[static_cast<size_t>(from)].next[byte] = to;
    }
    return to;
  }

  bool utf8_loops(int32_t id) {
    if (sets_[static_cast<size_t>(id)].utf8_known) return sets_[static_cast<size_t>(id)].utf8_loops;
    utf8_memo_.clear();
    bool certain = sets_[static_cast<size_t>(id)].certain;
    bool ok = true;
    for (unsigned b = 0xC2; b <= 0xF4 && ok; ++b) {
      int q = VocabularyTrie::utf8_step(0, static_cast<uint8_t>(b));
      if (q > 0) ok = code_point_returns(id, step(id, static_cast<uint8_t>(b)), q, certain);
    }
    Set& set = sets_[static_cast<size_t>(id)];
    set.utf8_known = true;
    set.utf8_loops = ok;
    return ok;
  }

  // From set `x` in decoder state `q`, every completion of the code point reaches `root`.
  bool code_point_returns(int32_t root, int32_t x, int q, bool certain) {
    const Set& set = sets_[static_cast<size_t>(x)];
    if (set.nodes.empty() || set.certain != certain) return false;
    if (q == 0) return x == root;
    int64_t key = static_cast<int64_t>(x) * VocabularyTrie::kUtf8States + q;
    auto it = utf8_memo_.find(key);
    if (it != utf8_memo_.end()) return it->second;
    bool ok = true;
    for (unsigned b = 0x80; b <= 0xBF && ok; ++b) {
      int next = VocabularyTrie::utf8_step(q, static_cast<uint8_t>(b));
      if (next >= 0) ok = code_point_returns(root, step(x, static_cast<uint8_t>(b)), next, certain);
    }
    utf8_memo_[key] = ok;
    return ok;
  }

  const std::array<uint64_t, 2>& loops_of(int32_t id) {
    Set& set = sets_[static_cast<size_t>(id)];
    if (!set.loops_known) {
      set.loops_known = true;
      for (unsigned b = 1; b < 0x80; ++b) {
        int32_t known = set.next[b];
        bool loops = known == id;
        if (known < 0) {
          stepper_.advance(set.nodes, static_cast<uint8_t>(b), loop_scratch_);
          std::sort(loop_scratch_.begin(), loop_scratch_.end());
          loops = loop_scratch_ == set.nodes;
        }
        if (loops) set.loops[b / 64] |= uint64_t{1} << (b % 64);
      }
    }
    return set.loops;
  }

  int32_t intern_set(std::vector<int32_t>& nodes) {
    std::sort(nodes.begin(), nodes.end());
    auto it = ids_.find(nodes);
    if (it != ids_.end()) return it->second;
    auto id = static_cast<int32_t>(sets_.size());
    ids_.emplace(nodes, id);
    Set set;
    set.nodes = nodes;
    for (int32_t n : nodes) set.certain = set.certain || pool_.node(n).bottom == kBottom;
    set.next.fill(-1);
    sets_.push_back(std::move(set));
    return id;
  }

  const VocabularyTrie& trie_;
  StackPool pool_;
  StackStepper stepper_;
  std::map<std::vector<int32_t>, int32_t> ids_;
  std::vector<Set> sets_;
  std::vector<int32_t> scratch_, loop_scratch_, step_scratch_;
  std::map<int64_t, bool> utf8_memo_;  // (set, decoder state) -> code_point_returns
  std::vector<int32_t> at_depth_;      // the set after the current path's first d bytes
};

}  // namespace

TokenMaskCache TokenMaskCache::build(const GrammarAutomaton& a, const Vocabulary& vocab,
                                     unsigned threads) {
  TokenMaskCache cache;
  cache.vocab_ = &vocab;
  size_t n = a.num_states();
  cache.entries_.resize(n);
  // Where each rule returns to, over all its calls.
  std::vector<std::vector<int32_t>> returns;
  for (size_t s = 0; s < n; ++s) {
    for (const CallEdge& c : a.call_edges(static_cast<int32_t>(s))) {
      auto r = static_cast<size_t>(c.rule);
      if (returns.size() <= r) returns.resize(r + 1);
      if (std::find(returns[r].begin(), returns[r].end(), c.target) == returns[r].end()) {
        returns[r].push_back(c.target);
      }
    }
  }
  int32_t max_rule = -1;
  for (size_t s = 0; s < n; ++s)
    max_rule = std::max(max_rule, a.state(static_cast<int32_t>(s)).rule);
  if (returns.size() < static_cast<size_t>(max_rule + 1))
    returns.resize(static_cast<size_t>(max_rule + 1));
  // Positions that can read a byte; the others never are a stack top.
  std::vector<int32_t> positions;
  for (size_t s = 0; s < n; ++s) {
    if (!a.byte_edges(static_cast<int32_t>(s)).empty())
      positions.push_back(static_cast<int32_t>(s));
  }
  std::vector<Compact> results(positions.size());
  if (threads == 0) threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  threads =
      static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(1, positions.size() / 4)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    PositionWalker walker(a, vocab, returns);
    Classified classified;
    std::vector<uint32_t> bits;
    for (size_t i; (i = next.fetch_add(1)) < positions.size();) {
      walker.classify(positions[i], classified);
      compact(classified, vocab, bits, results[i]);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  for (size_t i = 0; i < positions.size(); ++i) {
    Compact& c = results[i];
    Entry& e = cache.entries_[static_cast<size_t>(positions[i])];
    e.kind = static_cast<Kind>(c.kind);
    if (e.kind == Kind::kBitset) {
      e.begin = static_cast<uint32_t>(cache.words_.size());
      e.count = static_cast<uint32_t>(c.words.size());
      cache.words_.insert(cache.words_.end(), c.words.begin(), c.words.end());
    } else {
      e.begin = static_cast<uint32_t>(cache.ids_.size());
      e.count = static_cast<uint32_t>(c.ids.size());
      cache.ids_.insert(cache.ids_.end(), c.ids.begin(), c.ids.end());
    }
    e.uncertain_begin = static_cast<uint32_t>(cache.uncertain_.size());
    e.uncertain_count = static_cast<uint32_t>(c.uncertain.size());
    cache.uncertain_.insert(cache.uncertain_.end(), c.uncertain.begin(), c.uncertain.end());
    cache.uncertain_rank_.insert(cache.uncertain_rank_.end(), c.rank.begin(), c.rank.end());
    cache.uncertain_prefix_.insert(cache.uncertain_prefix_.end(), c.prefix.begin(), c.prefix.end());
    c = Compact{};
  }
  return cache;
}

void TokenMaskCache::or_accepted(int32_t state, std::span<uint32_t> bitmask,
                                 std::span<uint32_t> scratch) const {
  const Entry& e = entries_[static_cast<size_t>(state)];
  switch (e.kind) {
    case Kind::kNone:
      return;
    case Kind::kList:
      for (uint32_t i = 0; i < e.count; ++i) {
        int32_t id = ids_[e.begin + i];
        bitmask[static_cast<size_t>(id) / 32] |= 1u << (id % 32);
      }
      return;
    case Kind::kComplement: {
      // normal & ~listed, built in `scratch` (two vectorised passes and a sparse one).
      const uint32_t* normal = vocab_->normal_bits().data();
      std::copy(normal, normal + bitmask.size(), scratch.data());
      const int32_t* listed = ids_.data() + e.begin;
      for (uint32_t k = 0; k < e.count; ++k) {
        scratch[static_cast<size_t>(listed[k]) / 32] &= ~(1u << (listed[k] % 32));
      }
      for (size_t w = 0; w < bitmask.size(); ++w) bitmask[w] |= scratch[w];
      return;
    }
    case Kind::kBitset: {
      const uint32_t* src = words_.data() + e.begin;
      for (size_t w = 0; w < bitmask.size(); ++w) bitmask[w] |= src[w];
      return;
    }
  }
}

std::span<const int32_t> TokenMaskCache::uncertain(int32_t state) const {
  const Entry& e = entries_[static_cast<size_t>(state)];
  return {uncertain_.data() + e.uncertain_begin, e.uncertain_count};
}

std::span<const uint32_t> TokenMaskCache::uncertain_rank(int32_t state) const {
  const Entry& e = entries_[static_cast<size_t>(state)];
  return {uncertain_rank_.data() + e.uncertain_begin, e.uncertain_count};
}

std::span<const uint16_t> TokenMaskCache::uncertain_prefix(int32_t state) const {
  const Entry& e = entries_[static_cast<size_t>(state)];
  return {uncertain_prefix_.data() + e.uncertain_begin, e.uncertain_count};
}

size_t TokenMaskCache::memory_bytes() const {
  return entries_.size() * sizeof(Entry) + ids_.size() * 4 + words_.size() * 4 +
         uncertain_.size() * 10;
}

}  // namespace sglang::grammar
