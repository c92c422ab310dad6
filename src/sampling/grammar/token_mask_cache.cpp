#include "sampling/grammar/token_mask_cache.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "sampling/grammar/grammar_stacks.h"

namespace sglang::grammar {

namespace {

struct Classified {
  std::vector<int32_t> accepted;
  std::vector<int32_t> uncertain;
};

// Walks the trie from one position; reuses its buffers across positions.
class PositionWalker {
 public:
  PositionWalker(const GrammarAutomaton& a, const Vocabulary& v,
                 const std::vector<std::vector<int32_t>>& returns)
      : trie_(v.trie()), stepper_(a, pool_) {
    stepper_.set_any_context(&returns);
    sets_.resize(static_cast<size_t>(trie_.max_depth) + 1);
  }

  // A token is accepted when a stack that never left the position's rule survives it, uncertain
  // when only stacks that left it (into any calling context) do, rejected when none does; a
  // prefix no stack survives rejects its whole subtree at once.
  void classify(int32_t state, Classified& out) {
    out.accepted.clear();
    out.uncertain.clear();
    pool_.clear();
    sets_[0].clear();
    sets_[0].push_back(pool_.intern(state, kBottom));
    stepper_.close(sets_[0]);
    const auto& nodes = trie_.nodes;
    for (size_t i = 0; i < nodes.size();) {
      const VocabularyTrie::Node& n = nodes[i];
      size_t d = n.depth;
      stepper_.advance(sets_[d - 1], n.byte, sets_[d]);
      if (sets_[d].empty()) {
        i = n.subtree_end;
        continue;
      }
      bool certain = false;
      for (int32_t id : sets_[d]) {
        if (pool_.node(id).bottom == kBottom) {
          certain = true;
          break;
        }
      }
      auto& to = certain ? out.accepted : out.uncertain;
      to.insert(to.end(), trie_.token_ids.begin() + n.tokens_begin,
                trie_.token_ids.begin() + n.tokens_end);
      ++i;
    }
  }

 private:
  const VocabularyTrie& trie_;
  StackPool pool_;
  StackStepper stepper_;
  std::vector<std::vector<int32_t>> sets_;
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
  std::vector<Classified> results(positions.size());
  if (threads == 0) threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  threads =
      static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(1, positions.size() / 4)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    PositionWalker walker(a, vocab, returns);
    for (size_t i; (i = next.fetch_add(1)) < positions.size();) {
      walker.classify(positions[i], results[i]);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  auto size = static_cast<size_t>(vocab.size());
  size_t words = static_cast<size_t>(vocab.bitmask_words());
  size_t normal = vocab.normal_token_ids().size();
  for (size_t i = 0; i < positions.size(); ++i) {
    Classified& c = results[i];
    Entry& e = cache.entries_[static_cast<size_t>(positions[i])];
    std::sort(c.accepted.begin(), c.accepted.end());
    std::sort(c.uncertain.begin(), c.uncertain.end(),
              [&](int32_t x, int32_t y) { return vocab.token_bytes(x) < vocab.token_bytes(y); });
    size_t rejected = normal - c.accepted.size();
    // A list costs 32 bits per id, a bitset one bit per vocabulary id: lists only while shorter.
    if (c.accepted.size() * 32 <= size && c.accepted.size() <= rejected) {
      e.kind = Kind::kList;
      e.begin = static_cast<uint32_t>(cache.ids_.size());
      e.count = static_cast<uint32_t>(c.accepted.size());
      cache.ids_.insert(cache.ids_.end(), c.accepted.begin(), c.accepted.end());
    } else if (rejected * 32 <= size) {
      // The normal tokens not accepted, as a sorted list.
      e.kind = Kind::kComplement;
      e.begin = static_cast<uint32_t>(cache.ids_.size());
      size_t k = 0;
      for (int32_t id : vocab.normal_token_ids()) {
        if (k < c.accepted.size() && c.accepted[k] == id) {
          ++k;
        } else {
          cache.ids_.push_back(id);
        }
      }
      e.count = static_cast<uint32_t>(cache.ids_.size() - e.begin);
    } else {
      e.kind = Kind::kBitset;
      e.begin = static_cast<uint32_t>(cache.words_.size());
      e.count = static_cast<uint32_t>(words);
      cache.words_.resize(cache.words_.size() + words, 0);
      uint32_t* w = cache.words_.data() + e.begin;
      for (int32_t id : c.accepted) w[id / 32] |= 1u << (id % 32);
    }
    e.uncertain_begin = static_cast<uint32_t>(cache.uncertain_.size());
    e.uncertain_count = static_cast<uint32_t>(c.uncertain.size());
    cache.uncertain_.insert(cache.uncertain_.end(), c.uncertain.begin(), c.uncertain.end());
    for (size_t k = 0; k < c.uncertain.size(); ++k) {
      size_t common = 0;
      if (k > 0) {
        const std::string& x = vocab.token_bytes(c.uncertain[k - 1]);
        const std::string& y = vocab.token_bytes(c.uncertain[k]);
        while (common < x.size() && common < y.size() && x[common] == y[common]) ++common;
      }
      cache.uncertain_prefix_.push_back(static_cast<uint16_t>(std::min<size_t>(common, 0xFFFF)));
    }
  }
  return cache;
}

void TokenMaskCache::or_accepted(int32_t state, std::span<uint32_t> bitmask) const {
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
      // normal & ~listed, word by word over the listed ids.
      const std::vector<uint32_t>& normal = vocab_->normal_bits();
      const int32_t* listed = ids_.data() + e.begin;
      uint32_t k = 0;
      for (size_t w = 0; w < bitmask.size(); ++w) {
        uint32_t word = normal[w];
        while (k < e.count && static_cast<size_t>(listed[k]) / 32 == w) {
          word &= ~(1u << (listed[k] % 32));
          ++k;
        }
        bitmask[w] |= word;
      }
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

std::span<const uint16_t> TokenMaskCache::uncertain_prefix(int32_t state) const {
  const Entry& e = entries_[static_cast<size_t>(state)];
  return {uncertain_prefix_.data() + e.uncertain_begin, e.uncertain_count};
}

size_t TokenMaskCache::memory_bytes() const {
  return entries_.size() * sizeof(Entry) + ids_.size() * 4 + words_.size() * 4 +
         uncertain_.size() * 6;
}

}  // namespace sglang::grammar
