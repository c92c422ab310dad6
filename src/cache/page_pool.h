#pragma once
// The KV page allocator: which of the pool's fixed-size pages are free. The KV memory itself is the
// KvCache; the radix tree (a later issue) holds pages through this pool.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace sglang {

class PagePool {
 public:
  PagePool(int64_t num_pages, int64_t page_size);

  int64_t num_pages() const { return num_pages_; }
  int64_t page_size() const { return page_size_; }
  int64_t num_free() const { return static_cast<int64_t>(free_.size()); }
  // Pages needed to hold `tokens` tokens.
  int64_t pages_for(int64_t tokens) const { return (tokens + page_size_ - 1) / page_size_; }

  // `n` pages, or nothing (and no change) when fewer are free.
  std::optional<std::vector<int32_t>> allocate(int64_t n);
  // Returns pages to the pool. Freeing a page twice or one not from this pool is a bug: it throws.
  void free(std::span<const int32_t> pages);

 private:
  int64_t num_pages_;
  int64_t page_size_;
  std::vector<int32_t> free_;  // stack; lowest ids handed out first
  std::vector<uint8_t> in_use_;
};

}  // namespace sglang
