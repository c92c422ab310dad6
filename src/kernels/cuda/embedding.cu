// Row gathers: the embedding lookup (a 16- or 32-bit table, as load_matmul_weight stores it) and
// gather_rows. An index out of range writes zeros and raises the backend's error flag, which
// synchronize() / copy_to_host() turn into an exception (the CPU backend throws at once; a device
// cannot without a sync per op).
#include "kernels/cuda/cuda_common.cuh"

namespace sglang::cuda {
namespace {

template <typename T>
__global__ void embedding_kernel(const int32_t* __restrict__ ids, const T* __restrict__ table,
                                 int64_t vocab, int64_t cols, View out, int* bad_id) {
  const int64_t t = blockIdx.x;
  const int32_t id = ids[t];
  float* o = out.p + t * out.stride;
  const bool ok = id >= 0 && id < vocab;
  if (!ok && threadIdx.x == 0) atomicExch(bad_id, 1);
  const T* row = table + (ok ? static_cast<int64_t>(id) : 0) * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = ok ? load_f32(row + c) : 0.0f;
}

// Rows of `esize`-byte elements, copied in units of U (esize is a multiple of sizeof(U)).
template <typename U>
__global__ void gather_kernel(const U* __restrict__ x, int64_t x_stride, int64_t x_rows,
                              const int32_t* __restrict__ rows, int64_t units, U* __restrict__ out,
                              int64_t out_stride, int* bad_id) {
  const int64_t i = blockIdx.x;
  const int32_t r = rows[i];
  const bool ok = r >= 0 && r < x_rows;
  if (!ok && threadIdx.x == 0) atomicExch(bad_id, 1);
  for (int64_t c = threadIdx.x; c < units; c += blockDim.x) {
    out[i * out_stride + c] = ok ? x[r * x_stride + c] : U{};
  }
}

}  // namespace

void launch_embedding(const int32_t* ids, int64_t tokens, const void* table, DType dtype,
                      int64_t vocab, int64_t cols, View out, int* bad_id, cudaStream_t s) {
  if (tokens == 0) return;
  const auto grid = static_cast<unsigned>(tokens);
  if (dtype == DType::kF32) {
    embedding_kernel<<<grid, 256, 0, s>>>(ids, static_cast<const float*>(table), vocab, cols, out,
                                          bad_id);
  } else if (dtype == DType::kBF16) {
    embedding_kernel<<<grid, 256, 0, s>>>(ids, static_cast<const __nv_bfloat16*>(table), vocab,
                                          cols, out, bad_id);
  } else {
    require(dtype == DType::kF16, "embedding table must be F32, F16 or BF16");
    embedding_kernel<<<grid, 256, 0, s>>>(ids, static_cast<const __half*>(table), vocab, cols, out,
                                          bad_id);
  }
  check_launch("embedding_kernel");
}

void launch_gather_rows(const void* x, int64_t x_stride, int64_t x_rows, const int32_t* rows,
                        int64_t n, int64_t cols, size_t esize, void* out, int64_t out_stride,
                        int* bad_id, cudaStream_t s) {
  if (n == 0) return;
  const auto grid = static_cast<unsigned>(n);
  const auto e = static_cast<int64_t>(esize);
  if (esize % 4 == 0) {
    const int64_t k = e / 4;
    gather_kernel<<<grid, 256, 0, s>>>(static_cast<const uint32_t*>(x), x_stride * k, x_rows, rows,
                                       cols * k, static_cast<uint32_t*>(out), out_stride * k,
                                       bad_id);
  } else {
    require(esize == 2, "gather_rows: element size");
    gather_kernel<<<grid, 256, 0, s>>>(static_cast<const uint16_t*>(x), x_stride, x_rows, rows,
                                       cols, static_cast<uint16_t*>(out), out_stride, bad_id);
  }
  check_launch("gather_kernel");
}

}  // namespace sglang::cuda
