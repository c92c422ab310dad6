// Rotary embedding: the cos/sin table of each position and the rotate-half (GPT-NeoX) rotation of
// HF Llama/Qwen2, with partial rotary (the first `rotary` dimensions of each head).
#include "kernels/cuda/cuda_common.cuh"

namespace sglang::cuda {
namespace {

// One thread per (token, angle). As the CPU backend (and HF): the angle is a float32 product,
// its cos and sin computed in double and rounded once to float32.
__global__ void rope_cos_sin_kernel(const int32_t* __restrict__ positions, int64_t tokens,
                                    const float* __restrict__ inv_freq, int64_t half,
                                    View cos_sin) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= tokens * half) return;
  const int64_t t = i / half, j = i % half;
  const float angle = inv_freq[j] * static_cast<float>(positions[t]);
  float* cs = cos_sin.p + t * cos_sin.stride;
  cs[j] = static_cast<float>(cos(static_cast<double>(angle)));
  cs[half + j] = static_cast<float>(sin(static_cast<double>(angle)));
}

// One thread per (token, head, pair): HF's q * cos + rotate_half(q) * sin, rotate_half(q) =
// cat(-q2, q1), on the head's first `rotary` dimensions.
__global__ void apply_rope_kernel(View x, int64_t rows, int64_t heads, int64_t head_dim,
                                  const float* __restrict__ cos_sin, int64_t rotary) {
  const int64_t half = rotary / 2;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * heads * half) return;
  const int64_t t = i / (heads * half), h = (i / half) % heads, j = i % half;
  float* v = x.p + t * x.stride + h * head_dim;
  const float* cs = cos_sin + t * rotary;
  const float a = v[j], b = v[j + half], c = cs[j], s = cs[half + j];
  v[j] = a * c - b * s;
  v[j + half] = b * c + a * s;
}

}  // namespace

void launch_rope_cos_sin(const int32_t* positions, int64_t tokens, const float* inv_freq,
                         int64_t half, View cos_sin, cudaStream_t s) {
  const int64_t n = tokens * half;
  if (n == 0) return;
  rope_cos_sin_kernel<<<ceil_div(n, 256), 256, 0, s>>>(positions, tokens, inv_freq, half, cos_sin);
  check_launch("rope_cos_sin_kernel");
}

void launch_apply_rope(View x, int64_t rows, int64_t heads, int64_t head_dim, const float* cos_sin,
                       int64_t rotary, cudaStream_t s) {
  const int64_t n = rows * heads * (rotary / 2);
  if (n == 0) return;
  apply_rope_kernel<<<ceil_div(n, 256), 256, 0, s>>>(x, rows, heads, head_dim, cos_sin, rotary);
  check_launch("apply_rope_kernel");
}

}  // namespace sglang::cuda
