#pragma once
// The prefix cache, as SGLang's RadixCache (srt/mem_cache/radix_cache.py): a radix tree whose
// edges are runs of token ids and whose nodes own the KV pages holding those tokens. A new request
// reuses the pages of its longest cached prefix; a finished (or partly prefilled) request inserts
// its tokens so later requests can reuse them.
//
// Protocol (the same as SGLang's):
//  - match_prefix() returns the pages of the longest cached prefix and the node where it ends,
//    splitting a node when the match ends inside it;
//  - lock(node) protects that node and its ancestors from eviction while a request uses their
//    pages (lock_ref counts users); unlock() when the request no longer needs them;
//  - insert() adds a token run and its pages; it returns how many leading tokens were already
//    cached, whose pages the caller still owns and must free (the tree keeps its own copy);
//  - evict() frees pages of unlocked leaves, least recently used first, back to the PagePool.
// Keys are whole pages: with page_size > 1 only full pages are cached, and nodes split on page
// boundaries. Children are keyed by their first page of tokens.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "cache/page_pool.h"

namespace sglang {

class RadixTree {
 public:
  struct Node {
    std::vector<int32_t> key;    // token ids, a multiple of page_size
    std::vector<int32_t> pages;  // key.size() / page_size KV pages
    Node* parent = nullptr;
    std::map<std::vector<int32_t>, std::unique_ptr<Node>> children;
    int64_t lock_ref = 0;
    uint64_t last_access = 0;  // logical clock for LRU
  };

  struct Match {
    std::vector<int32_t> pages;  // pages of the matched prefix, in order
    Node* last_node = nullptr;   // node where the match ends (the root when nothing matched)
    int64_t num_tokens() const { return static_cast<int64_t>(pages.size()) * page_size; }
    int64_t page_size = 1;
  };

  explicit RadixTree(PagePool& pool);
  ~RadixTree();
  RadixTree(const RadixTree&) = delete;
  RadixTree& operator=(const RadixTree&) = delete;

  Match match_prefix(std::span<const int32_t> tokens);
  // `tokens.size()` must be pages.size() * page_size.
  int64_t insert(std::span<const int32_t> tokens, std::span<const int32_t> pages);
  void lock(Node* node);
  void unlock(Node* node);
  // Frees at least `num_pages` pages if that many are evictable; returns how many it freed.
  int64_t evict(int64_t num_pages);
  // Drops the whole tree (SGLang's reset / flush_cache). Refused (false) while any node is locked.
  bool reset();

  Node* root() { return root_.get(); }
  int64_t page_size() const { return page_size_; }
  int64_t evictable_pages() const { return evictable_pages_; }
  int64_t protected_pages() const { return protected_pages_; }
  int64_t total_pages() const { return evictable_pages_ + protected_pages_; }
  int64_t num_nodes() const;

 private:
  std::vector<int32_t> first_page(std::span<const int32_t> tokens) const;
  // Number of tokens (whole pages) where `key` and `tokens` agree.
  int64_t matched_len(const std::vector<int32_t>& key, std::span<const int32_t> tokens) const;
  // Splits `child` after `len` tokens; returns the new upper node.
  Node* split(Node* child, int64_t len);
  void free_subtree(Node* node);

  PagePool& pool_;
  int64_t page_size_;
  std::unique_ptr<Node> root_;
  uint64_t clock_ = 0;
  int64_t evictable_pages_ = 0;
  int64_t protected_pages_ = 0;
};

}  // namespace sglang
