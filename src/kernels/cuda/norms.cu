// RMSNorm (plain, per-group, fused with the residual add) and LayerNorm: one block per row (or
// per row group), fp32 sums. Each thread reads and writes only its own elements, so x and out may
// be the same memory (backend.h allows it).
#include "kernels/cuda/cuda_common.cuh"

namespace sglang::cuda {
namespace {

constexpr int kThreads = 256;

// grid (rows, groups): block (r, g) normalises columns [g * width, (g + 1) * width) of row r.
__global__ void rms_norm_kernel(ConstView x, const float* __restrict__ weight, int64_t width,
                                float eps, View out) {
  __shared__ float shared[32];
  const int64_t r = blockIdx.x, c0 = static_cast<int64_t>(blockIdx.y) * width;
  const float* xr = x.p + r * x.stride + c0;
  float* yr = out.p + r * out.stride + c0;
  float sq = 0.0f;
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) sq += xr[c] * xr[c];
  const float total = block_sum(sq, shared);
  // As HF LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), then times the weight.
  const float inv = rsqrtf(total / static_cast<float>(width) + eps);
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) yr[c] = xr[c] * inv * weight[c];
}

__global__ void add_rms_norm_kernel(View residual, ConstView x, const float* __restrict__ weight,
                                    int64_t cols, float eps, View out) {
  __shared__ float shared[32];
  const int64_t r = blockIdx.x;
  float* res = residual.p + r * residual.stride;
  const float* xr = x.p + r * x.stride;
  float* yr = out.p + r * out.stride;
  float sq = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float v = res[c] + xr[c];
    res[c] = v;
    sq += v * v;
  }
  const float total = block_sum(sq, shared);
  const float inv = rsqrtf(total / static_cast<float>(cols) + eps);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = res[c] * inv * weight[c];
}

__global__ void layer_norm_kernel(ConstView x, const float* __restrict__ weight,
                                  const float* __restrict__ bias, int64_t cols, float eps,
                                  View out) {
  __shared__ float shared[32];
  const int64_t r = blockIdx.x;
  const float* xr = x.p + r * x.stride;
  float* yr = out.p + r * out.stride;
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
  const float mean = block_sum(s, shared) / static_cast<float>(cols);
  // Two passes (mean, then the biased variance about it), as torch.nn.LayerNorm: no cancellation.
  float v = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float d = xr[c] - mean;
    v += d * d;
  }
  const float inv = rsqrtf(block_sum(v, shared) / static_cast<float>(cols) + eps);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    yr[c] = (xr[c] - mean) * inv * weight[c] + bias[c];
  }
}

}  // namespace

void launch_rms_norm(ConstView x, const float* weight, int64_t rows, int64_t width, int64_t groups,
                     float eps, View out, cudaStream_t s) {
  if (rows == 0) return;
  require(groups <= 65535, "rms_norm: too many groups in a row");
  rms_norm_kernel<<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(groups)),
                    width <= 128 ? 128 : kThreads, 0, s>>>(x, weight, width, eps, out);
  check_launch("rms_norm_kernel");
}

void launch_add_rms_norm(View residual, ConstView x, const float* weight, int64_t rows,
                         int64_t cols, float eps, View out, cudaStream_t s) {
  if (rows == 0) return;
  add_rms_norm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(residual, x, weight, cols,
                                                                       eps, out);
  check_launch("add_rms_norm_kernel");
}

void launch_layer_norm(ConstView x, const float* weight, const float* bias, int64_t rows,
                       int64_t cols, float eps, View out, cudaStream_t s) {
  if (rows == 0) return;
  layer_norm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, weight, bias, cols, eps,
                                                                     out);
  check_launch("layer_norm_kernel");
}

}  // namespace sglang::cuda
