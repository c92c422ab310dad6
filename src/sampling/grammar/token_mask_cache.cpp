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
  PositionWalker(const GrammarAutomaton& a, const Vocabulary& v)
      : a_(a), trie_(v.trie()), stepper_(a, pool_) {
    sets_.resize(static_cast<size_t>(trie_.max_depth) + 1);
    exit_before_.resize(static_cast<size_t>(trie_.max_depth) + 2);
  }

  // `exits_reject`: the position's rule is the root and never called, so running past its end is
  // running past the grammar's end: rejected, not uncertain.
  void classify(int32_t state, bool exits_reject, Classified& out) {
    out.accepted.clear();
    out.uncertain.clear();
    pool_.clear();
    sets_[0].clear();
    sets_[0].push_back(pool_.intern(state, -1));
    bool ended = stepper_.close(sets_[0]);
    exit_before_[1] = !exits_reject && ended;
    const auto& nodes = trie_.nodes;
    auto add_tokens = [&](std::vector<int32_t>& to, uint32_t begin, uint32_t end) {
      to.insert(to.end(), trie_.token_ids.begin() + begin, trie_.token_ids.begin() + end);
    };
    for (size_t i = 0; i < nodes.size();) {
      const VocabularyTrie::Node& n = nodes[i];
      size_t d = n.depth;
      bool end = stepper_.advance(sets_[d - 1], n.byte, sets_[d]);
      if (sets_[d].empty()) {
        if (exit_before_[d]) {
          // Every token below ran past the rule's end: the context decides.
          add_tokens(out.uncertain, n.tokens_begin,
                     n.subtree_end < nodes.size() ? first_token_at_or_after(n.subtree_end)
                                                  : static_cast<uint32_t>(trie_.token_ids.size()));
        }
        i = n.subtree_end;
        continue;
      }
      add_tokens(out.accepted, n.tokens_begin, n.tokens_end);
      exit_before_[d + 1] = exit_before_[d] || (!exits_reject && end);
      ++i;
    }
  }

 private:
  // Token ids are laid out in preorder, so a subtree's tokens are one contiguous run ending where
  // the next subtree's begin.
  uint32_t first_token_at_or_after(uint32_t node) const { return trie_.nodes[node].tokens_begin; }

  const GrammarAutomaton& a_;
  const VocabularyTrie& trie_;
  StackPool pool_;
  StackStepper stepper_;
  std::vector<std::vector<int32_t>> sets_;
  std::vector<uint8_t> exit_before_;
};

}  // namespace

TokenMaskCache TokenMaskCache::build(const GrammarAutomaton& a, const Vocabulary& vocab,
                                     unsigned threads) {
  TokenMaskCache cache;
  cache.vocab_ = &vocab;
  size_t n = a.num_states();
  cache.entries_.resize(n);
  bool root_called = false;
  for (size_t s = 0; s < n; ++s) {
    for (const CallEdge& c : a.call_edges(static_cast<int32_t>(s))) {
      root_called = root_called || c.rule == a.root_rule();
    }
  }
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
    PositionWalker walker(a, vocab);
    for (size_t i; (i = next.fetch_add(1)) < positions.size();) {
      int32_t s = positions[i];
      bool exits_reject = !root_called && a.state(s).rule == a.root_rule();
      walker.classify(s, exits_reject, results[i]);
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
    std::sort(c.uncertain.begin(), c.uncertain.end());
    size_t rejected = normal - c.accepted.size();
    if (c.accepted.size() * 32 <= size || (c.accepted.size() <= rejected && rejected * 32 > size)) {
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

size_t TokenMaskCache::memory_bytes() const {
  return entries_.size() * sizeof(Entry) + ids_.size() * 4 + words_.size() * 4 +
         uncertain_.size() * 4;
}

}  // namespace sglang::grammar
