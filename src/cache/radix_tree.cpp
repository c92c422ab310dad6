#include "cache/radix_tree.h"

#include <algorithm>
#include <queue>
#include <stdexcept>

namespace sglang {

RadixTree::RadixTree(PagePool& pool)
    : pool_(pool), page_size_(pool.page_size()), root_(std::make_unique<Node>()) {
  root_->lock_ref = 1;  // the root is never evicted
}

RadixTree::~RadixTree() {
  free_subtree(root_.get());
}

std::vector<int32_t> RadixTree::first_page(std::span<const int32_t> tokens) const {
  return std::vector<int32_t>(tokens.begin(), tokens.begin() + page_size_);
}

int64_t RadixTree::matched_len(const std::vector<int32_t>& key,
                               std::span<const int32_t> tokens) const {
  const size_t n = std::min(key.size(), tokens.size());
  size_t i = 0;
  while (i < n && key[i] == tokens[i]) ++i;
  return static_cast<int64_t>(i) / page_size_ * page_size_;
}

RadixTree::Node* RadixTree::split(Node* child, int64_t len) {
  Node* parent = child->parent;
  auto upper = std::make_unique<Node>();
  const auto pages_len = static_cast<std::ptrdiff_t>(len / page_size_);
  upper->key.assign(child->key.begin(), child->key.begin() + len);
  upper->pages.assign(child->pages.begin(), child->pages.begin() + pages_len);
  upper->parent = parent;
  upper->lock_ref = child->lock_ref;  // every user of the child uses the upper part too
  upper->last_access = child->last_access;
  child->key.erase(child->key.begin(), child->key.begin() + len);
  child->pages.erase(child->pages.begin(), child->pages.begin() + pages_len);

  // The upper part starts with the same page, so it takes the child's place under the parent.
  auto& slot = parent->children[first_page(upper->key)];
  std::unique_ptr<Node> lower = std::move(slot);
  lower->parent = upper.get();
  Node* upper_raw = upper.get();
  upper->children[first_page(lower->key)] = std::move(lower);
  slot = std::move(upper);
  return upper_raw;
}

RadixTree::Match RadixTree::match_prefix(std::span<const int32_t> tokens) {
  Match m;
  m.page_size = page_size_;
  const size_t usable = tokens.size() / static_cast<size_t>(page_size_) * page_size_;
  tokens = tokens.first(usable);
  Node* node = root_.get();
  const uint64_t now = ++clock_;
  node->last_access = now;
  while (!tokens.empty()) {
    auto it = node->children.find(first_page(tokens));
    if (it == node->children.end()) break;
    Node* child = it->second.get();
    const int64_t len = matched_len(child->key, tokens);
    if (len < static_cast<int64_t>(child->key.size())) child = split(child, len);
    child->last_access = now;
    m.pages.insert(m.pages.end(), child->pages.begin(), child->pages.end());
    node = child;
    tokens = tokens.subspan(static_cast<size_t>(len));
  }
  m.last_node = node;
  return m;
}

int64_t RadixTree::insert(std::span<const int32_t> tokens, std::span<const int32_t> pages) {
  if (tokens.size() != pages.size() * static_cast<size_t>(page_size_)) {
    throw std::logic_error("RadixTree::insert: tokens are not whole pages");
  }
  Node* node = root_.get();
  const uint64_t now = ++clock_;
  int64_t existing = 0;
  while (!tokens.empty()) {
    auto it = node->children.find(first_page(tokens));
    if (it == node->children.end()) {
      auto leaf = std::make_unique<Node>();
      leaf->key.assign(tokens.begin(), tokens.end());
      leaf->pages.assign(pages.begin(), pages.end());
      leaf->parent = node;
      leaf->last_access = now;
      evictable_pages_ += static_cast<int64_t>(leaf->pages.size());
      node->children[first_page(tokens)] = std::move(leaf);
      break;
    }
    Node* child = it->second.get();
    const int64_t len = matched_len(child->key, tokens);
    if (len < static_cast<int64_t>(child->key.size())) child = split(child, len);
    child->last_access = now;
    existing += len;
    node = child;
    tokens = tokens.subspan(static_cast<size_t>(len));
    pages = pages.subspan(static_cast<size_t>(len / page_size_));
  }
  return existing;
}

void RadixTree::lock(Node* node) {
  for (; node != root_.get(); node = node->parent) {
    if (node->lock_ref == 0) {
      evictable_pages_ -= static_cast<int64_t>(node->pages.size());
      protected_pages_ += static_cast<int64_t>(node->pages.size());
    }
    ++node->lock_ref;
  }
}

void RadixTree::unlock(Node* node) {
  for (; node != root_.get(); node = node->parent) {
    if (node->lock_ref <= 0) throw std::logic_error("RadixTree::unlock of an unlocked node");
    if (node->lock_ref == 1) {
      evictable_pages_ += static_cast<int64_t>(node->pages.size());
      protected_pages_ -= static_cast<int64_t>(node->pages.size());
    }
    --node->lock_ref;
  }
}

int64_t RadixTree::evict(int64_t num_pages) {
  using Entry = std::pair<uint64_t, Node*>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> leaves;
  std::vector<Node*> stack = {root_.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (n->children.empty() && n != root_.get() && n->lock_ref == 0) {
      leaves.push({n->last_access, n});
    }
    for (auto& [k, c] : n->children) stack.push_back(c.get());
  }
  int64_t freed = 0;
  while (freed < num_pages && !leaves.empty()) {
    Node* leaf = leaves.top().second;
    leaves.pop();
    pool_.free(leaf->pages);
    freed += static_cast<int64_t>(leaf->pages.size());
    evictable_pages_ -= static_cast<int64_t>(leaf->pages.size());
    Node* parent = leaf->parent;
    parent->children.erase(first_page(leaf->key));
    if (parent != root_.get() && parent->children.empty() && parent->lock_ref == 0) {
      leaves.push({parent->last_access, parent});
    }
  }
  return freed;
}

void RadixTree::free_subtree(Node* node) {
  for (auto& [k, c] : node->children) free_subtree(c.get());
  if (node != root_.get()) pool_.free(node->pages);
  node->children.clear();
}

bool RadixTree::reset() {
  if (protected_pages_ > 0) return false;
  for (auto& [k, c] : root_->children) {
    if (c->lock_ref > 0) return false;
  }
  free_subtree(root_.get());
  evictable_pages_ = 0;
  return true;
}

int64_t RadixTree::num_nodes() const {
  int64_t n = 0;
  std::vector<const Node*> stack = {root_.get()};
  while (!stack.empty()) {
    const Node* x = stack.back();
    stack.pop_back();
    ++n;
    for (const auto& [k, c] : x->children) stack.push_back(c.get());
  }
  return n - 1;
}

}  // namespace sglang
