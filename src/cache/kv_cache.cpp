#include "cache/kv_cache.h"

namespace sglang {

KvCache::KvCache(Backend& backend, const KvCacheShape& shape, int64_t num_pages, int64_t page_size)
    : shape_(shape), num_pages_(num_pages), page_size_(page_size) {
  const int64_t slots = num_pages * page_size;
  const int64_t width = shape.num_kv_heads * shape.head_dim;
  for (int64_t l = 0; l < shape.num_layers; ++l) {
    // Zeroed so that no slot ever holds NaN garbage, even one never written.
    k_.push_back(backend.zeros(shape.dtype, {slots, width}));
    v_.push_back(backend.zeros(shape.dtype, {slots, width}));
  }
}

}  // namespace sglang
