#include "cache/page_pool.h"

#include <stdexcept>

namespace sglang {

PagePool::PagePool(int64_t num_pages, int64_t page_size)
    : num_pages_(num_pages), page_size_(page_size), in_use_(static_cast<size_t>(num_pages), 0) {
  if (num_pages <= 0 || page_size <= 0)
    throw std::invalid_argument("PagePool needs positive sizes");
  free_.reserve(static_cast<size_t>(num_pages));
  for (int64_t p = num_pages - 1; p >= 0; --p) free_.push_back(static_cast<int32_t>(p));
}

std::optional<std::vector<int32_t>> PagePool::allocate(int64_t n) {
  if (n < 0 || n > num_free()) return std::nullopt;
  std::vector<int32_t> pages(static_cast<size_t>(n));
  for (auto& p : pages) {
    p = free_.back();
    free_.pop_back();
    in_use_[static_cast<size_t>(p)] = 1;
  }
  return pages;
}

void PagePool::free(std::span<const int32_t> pages) {
  for (int32_t p : pages) {
    if (p < 0 || p >= num_pages_ || !in_use_[static_cast<size_t>(p)]) {
      throw std::logic_error("PagePool::free of a page that is not allocated: " +
                             std::to_string(p));
    }
    in_use_[static_cast<size_t>(p)] = 0;
    free_.push_back(p);
  }
}

}  // namespace sglang
