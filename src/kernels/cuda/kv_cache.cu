// store_kv: the new tokens' K and V rows into their cache slots, rounded to the cache's dtype
// (bf16 / f16 round to nearest even, as the CPU backend's f32_to_bf16 / f32_to_f16).
#include "kernels/cuda/cuda_common.cuh"

namespace sglang::cuda {
namespace {

template <typename T>
__global__ void store_kv_kernel(ConstView k, ConstView v, int64_t cols,
                                const int32_t* __restrict__ slots, int64_t cache_rows,
                                T* __restrict__ k_cache, T* __restrict__ v_cache,
                                int64_t cache_stride, int* bad_slot) {
  const int64_t t = blockIdx.x;
  const int32_t slot = slots[t];
  if (slot < 0 || slot >= cache_rows) {
    if (threadIdx.x == 0) atomicExch(bad_slot, 1);
    return;
  }
  T* kd = k_cache + static_cast<int64_t>(slot) * cache_stride;
  T* vd = v_cache + static_cast<int64_t>(slot) * cache_stride;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    kd[c] = from_f32<T>(k.p[t * k.stride + c]);
    vd[c] = from_f32<T>(v.p[t * v.stride + c]);
  }
}

}  // namespace

void launch_store_kv(ConstView k, ConstView v, int64_t tokens, int64_t cols, const int32_t* slots,
                     int64_t cache_rows, DType dtype, void* k_cache, void* v_cache,
                     int64_t cache_stride, int* bad_slot, cudaStream_t s) {
  if (tokens == 0) return;
  const auto grid = static_cast<unsigned>(tokens);
  switch (dtype) {
    case DType::kF32:
      store_kv_kernel<<<grid, 256, 0, s>>>(k, v, cols, slots, cache_rows,
                                           static_cast<float*>(k_cache),
                                           static_cast<float*>(v_cache), cache_stride, bad_slot);
      break;
    case DType::kBF16:
      store_kv_kernel<<<grid, 256, 0, s>>>(
          k, v, cols, slots, cache_rows, static_cast<__nv_bfloat16*>(k_cache),
          static_cast<__nv_bfloat16*>(v_cache), cache_stride, bad_slot);
      break;
    case DType::kF16:
      store_kv_kernel<<<grid, 256, 0, s>>>(k, v, cols, slots, cache_rows,
                                           static_cast<__half*>(k_cache),
                                           static_cast<__half*>(v_cache), cache_stride, bad_slot);
      break;
    default:
      require(false, "the KV cache must be F32, BF16 or F16");
  }
  check_launch("store_kv_kernel");
}

}  // namespace sglang::cuda
