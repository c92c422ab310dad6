#pragma once
// The paged KV cache memory: for each layer a K and a V tensor of num_pages * page_size slots, each
// slot one token's keys (values) for all KV heads. Allocated on the model's backend.
#include <cstdint>
#include <vector>

#include "kernels/backend.h"

namespace sglang {

struct KvCacheShape {
  int64_t num_layers = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  // Storage dtype of K and V (F32, BF16 or F16; --kv-cache-dtype). Attention computes in float32
  // whatever it is.
  DType dtype = DType::kF32;
  int64_t bytes_per_token() const {
    return 2 * num_layers * num_kv_heads * head_dim * static_cast<int64_t>(dtype_size(dtype));
  }
};

class KvCache {
 public:
  KvCache(Backend& backend, const KvCacheShape& shape, int64_t num_pages, int64_t page_size);

  int64_t num_pages() const { return num_pages_; }
  int64_t page_size() const { return page_size_; }
  const Tensor& k(int64_t layer) const { return k_[static_cast<size_t>(layer)]; }
  const Tensor& v(int64_t layer) const { return v_[static_cast<size_t>(layer)]; }
  const KvCacheShape& shape() const { return shape_; }

 private:
  KvCacheShape shape_;
  int64_t num_pages_;
  int64_t page_size_;
  std::vector<Tensor> k_, v_;
};

}  // namespace sglang
