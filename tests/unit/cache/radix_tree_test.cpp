#include "cache/radix_tree.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

namespace sglang {
namespace {

std::vector<int32_t> seq(int32_t from, int32_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}

// Inserts `tokens` with freshly allocated pages, as a request that computed them would.
int64_t insert_fresh(RadixTree& tree, PagePool& pool, const std::vector<int32_t>& tokens) {
  auto pages = pool.allocate(static_cast<int64_t>(tokens.size()) / pool.page_size());
  EXPECT_TRUE(pages);
  const int64_t existing = tree.insert(tokens, *pages);
  // The caller frees its duplicates of what was already cached.
  pool.free(
      std::span<const int32_t>(*pages).first(static_cast<size_t>(existing / pool.page_size())));
  return existing;
}

TEST(RadixTree, MatchesLongestPrefixAndSplitsNodes) {
  PagePool pool(100, 1);
  RadixTree tree(pool);
  EXPECT_EQ(insert_fresh(tree, pool, seq(0, 10)), 0);
  EXPECT_EQ(tree.total_pages(), 10);
  // A request sharing 6 tokens: the node splits at 6.
  std::vector<int32_t> other = seq(0, 6);
  other.push_back(100);
  other.push_back(101);
  EXPECT_EQ(insert_fresh(tree, pool, other), 6);
  EXPECT_EQ(tree.total_pages(), 12);
  EXPECT_EQ(tree.num_nodes(), 3);  // [0..6), [6..10), [100, 101]

  auto m = tree.match_prefix(seq(0, 8));
  EXPECT_EQ(m.num_tokens(), 8);
  auto m2 = tree.match_prefix(other);
  EXPECT_EQ(m2.num_tokens(), 8);
  // The shared part maps to the same pages.
  EXPECT_TRUE(std::equal(m.pages.begin(), m.pages.begin() + 6, m2.pages.begin()));
  auto none = tree.match_prefix(seq(50, 5));
  EXPECT_EQ(none.num_tokens(), 0);
  EXPECT_EQ(none.last_node, tree.root());
  // A match ending inside a node splits it, so the returned node ends exactly there.
  auto mid = tree.match_prefix(seq(0, 3));
  EXPECT_EQ(mid.num_tokens(), 3);
  EXPECT_EQ(mid.last_node->key.size(), 3u);
  EXPECT_EQ(pool.num_free() + tree.total_pages(), 100);
}

TEST(RadixTree, PageSizeMatchesOnlyWholePages) {
  PagePool pool(20, 4);
  RadixTree tree(pool);
  insert_fresh(tree, pool, seq(0, 12));  // 3 pages
  std::vector<int32_t> q = seq(0, 10);   // 2 whole pages + 2 tokens
  EXPECT_EQ(tree.match_prefix(q).num_tokens(), 8);
  std::vector<int32_t> diverge = seq(0, 6);  // differs inside the second page
  diverge.push_back(99);
  diverge.push_back(98);
  EXPECT_EQ(tree.match_prefix(diverge).num_tokens(), 4);
  EXPECT_EQ(insert_fresh(tree, pool, diverge), 4);
  EXPECT_EQ(tree.total_pages(), 4);
  EXPECT_EQ(pool.num_free() + tree.total_pages(), 20);
}

TEST(RadixTree, LockedNodesSurviveEvictionLruGoesFirst) {
  PagePool pool(100, 1);
  RadixTree tree(pool);
  std::vector<int32_t> a = seq(0, 10), b = seq(100, 10), c = seq(200, 10);
  insert_fresh(tree, pool, a);
  insert_fresh(tree, pool, b);
  insert_fresh(tree, pool, c);
  tree.match_prefix(a);  // a becomes the most recently used
  auto mb = tree.match_prefix(b);
  tree.lock(mb.last_node);
  EXPECT_EQ(tree.protected_pages(), 10);
  EXPECT_EQ(tree.evictable_pages(), 20);
  // Evicting 5 pages takes a whole leaf: c, the least recently used unlocked one.
  EXPECT_EQ(tree.evict(5), 10);
  EXPECT_EQ(tree.match_prefix(c).num_tokens(), 0);
  EXPECT_EQ(tree.match_prefix(a).num_tokens(), 10);
  // Everything evictable goes; the locked leaf stays.
  EXPECT_EQ(tree.evict(1000), 10);
  EXPECT_EQ(tree.match_prefix(b).num_tokens(), 10);
  EXPECT_FALSE(tree.reset()) << "reset must be refused while a node is locked";
  tree.unlock(mb.last_node);
  EXPECT_EQ(tree.evictable_pages(), 10);
  EXPECT_TRUE(tree.reset());
  EXPECT_EQ(pool.num_free(), 100);
  EXPECT_EQ(tree.num_nodes(), 0);
}

TEST(RadixTree, LockOnASplitNodeProtectsBothHalves) {
  PagePool pool(50, 1);
  RadixTree tree(pool);
  insert_fresh(tree, pool, seq(0, 10));
  auto full = tree.match_prefix(seq(0, 10));
  tree.lock(full.last_node);
  tree.match_prefix(seq(0, 4));  // splits the locked node
  EXPECT_EQ(tree.protected_pages(), 10);
  EXPECT_EQ(tree.evict(100), 0);
  tree.unlock(full.last_node);
  EXPECT_EQ(tree.evictable_pages(), 10);
  EXPECT_EQ(tree.evict(100), 10);
  EXPECT_EQ(pool.num_free(), 50);
}

TEST(RadixTree, RandomWorkloadKeepsPageAccounting) {
  // Random inserts, matches, locks and evictions over a small alphabet (many shared prefixes):
  // pages are never lost or double-freed (the pool throws on a double free), every match is a
  // real prefix, and after unlocking everything the whole pool comes back.
  for (int64_t page_size : {1, 2, 4}) {
    PagePool pool(400, page_size);
    RadixTree tree(pool);
    std::mt19937 rng(7);
    std::vector<RadixTree::Node*> locked;
    std::vector<std::vector<int32_t>> inserted;
    for (int iter = 0; iter < 400; ++iter) {
      std::vector<int32_t> toks(static_cast<size_t>(page_size * (1 + rng() % 8)));
      for (auto& t : toks) t = static_cast<int32_t>(rng() % 3);
      const int op = static_cast<int>(rng() % 4);
      if (op <= 1) {
        const int64_t n = static_cast<int64_t>(toks.size()) / page_size;
        if (pool.num_free() < n) tree.evict(n - pool.num_free());
        if (pool.num_free() < n) continue;
        insert_fresh(tree, pool, toks);
        inserted.push_back(toks);
      } else if (op == 2) {
        auto m = tree.match_prefix(toks);
        ASSERT_EQ(m.num_tokens() % page_size, 0);
        if (rng() % 2) {
          tree.lock(m.last_node);
          locked.push_back(m.last_node);
        }
      } else if (!locked.empty()) {
        tree.unlock(locked.back());
        locked.pop_back();
      }
      ASSERT_EQ(pool.num_free() + tree.total_pages(), pool.num_pages());
    }
    for (auto* n : locked) tree.unlock(n);
    EXPECT_EQ(tree.protected_pages(), 0);
    tree.evict(pool.num_pages());
    EXPECT_EQ(pool.num_free(), pool.num_pages());
  }
}

}  // namespace
}  // namespace sglang
