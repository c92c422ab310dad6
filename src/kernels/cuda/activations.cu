// Element-wise ops on float32 rows: activations (as transformers' ACT2FN), gated MLP halves,
// scale, soft-cap, add, bias, the shared expert's sigmoid gate, and the 16-bit rounding of a
// GEMM's input. grid (rows, column blocks): views with any row stride, in place where allowed.
#include <cmath>

#include "kernels/cuda/cuda_common.cuh"

namespace sglang::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float apply(int f, float x) {
  switch (f) {
    case 0:  // gelu: x * Phi(x), the erf form
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case 1: {  // gelu_new / gelu_pytorch_tanh
      const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + tanhf(inner));
    }
    case 2:
      return fmaxf(x, 0.0f);
    case 3:
      return tanhf(x);
    case 4:
      return 1.0f / (1.0f + expf(-x));
    default:  // -1: SiLU, x * sigmoid(x)
      return x / (1.0f + expf(-x));
  }
}

dim3 grid_of(int64_t rows, int64_t cols) {
  return dim3(static_cast<unsigned>(rows), ceil_div(cols, kThreads));
}

__global__ void activation_kernel(int f, ConstView x, int64_t cols, View out) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  if (c < cols) out.p[r * out.stride + c] = apply(f, x.p[r * x.stride + c]);
}

__global__ void gated_kernel(int f, ConstView gate_up, int64_t cols, View out) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  if (c >= cols) return;
  const float* row = gate_up.p + r * gate_up.stride;
  out.p[r * out.stride + c] = apply(f, row[c]) * row[cols + c];
}

__global__ void scale_kernel(ConstView x, int64_t cols, float factor, View out) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  if (c < cols) out.p[r * out.stride + c] = x.p[r * x.stride + c] * factor;
}

__global__ void soft_cap_kernel(ConstView x, int64_t cols, float cap, View out) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  // tanh(x / cap) * cap, in that order (transformers' Gemma 2 final_logit_softcapping).
  if (c < cols) out.p[r * out.stride + c] = tanhf(x.p[r * x.stride + c] / cap) * cap;
}

__global__ void add_kernel(ConstView a, ConstView b, int64_t cols, View out) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  if (c < cols) out.p[r * out.stride + c] = a.p[r * a.stride + c] + b.p[r * b.stride + c];
}

__global__ void add_bias_kernel(View out, const float* __restrict__ bias, int64_t cols) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  if (c < cols) out.p[r * out.stride + c] += bias[c];
}

__global__ void sigmoid_scale_kernel(ConstView x, ConstView gate, int64_t cols, View out) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  if (c >= cols) return;
  const float g = 1.0f / (1.0f + expf(-gate.p[r * gate.stride]));
  out.p[r * out.stride + c] = g * x.p[r * x.stride + c];
}

template <typename T>
__global__ void round_rows_kernel(ConstView x, int64_t cols, T* __restrict__ out) {
  const int64_t c = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x, r = blockIdx.x;
  if (c < cols) out[r * cols + c] = from_f32<T>(x.p[r * x.stride + c]);
}

// grid.y counts column blocks: 65535 of them is 16 M columns.
void check_cols(int64_t cols) {
  require(ceil_div(cols, kThreads) <= 65535, "element-wise op over more than 16 M columns");
}

}  // namespace

void launch_activation(int f, ConstView x, int64_t rows, int64_t cols, View out, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  activation_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(f, x, cols, out);
  check_launch("activation_kernel");
}

void launch_gated(int f, ConstView gate_up, int64_t rows, int64_t cols, View out, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  gated_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(f, gate_up, cols, out);
  check_launch("gated_kernel");
}

void launch_scale(ConstView x, int64_t rows, int64_t cols, float factor, View out, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  scale_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(x, cols, factor, out);
  check_launch("scale_kernel");
}

void launch_soft_cap(ConstView x, int64_t rows, int64_t cols, float cap, View out, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  soft_cap_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(x, cols, cap, out);
  check_launch("soft_cap_kernel");
}

void launch_add(ConstView a, ConstView b, int64_t rows, int64_t cols, View out, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  add_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(a, b, cols, out);
  check_launch("add_kernel");
}

void launch_add_bias(View out, const float* bias, int64_t rows, int64_t cols, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  add_bias_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(out, bias, cols);
  check_launch("add_bias_kernel");
}

void launch_sigmoid_scale_rows(ConstView x, ConstView gate, int64_t rows, int64_t cols, View out,
                               cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  sigmoid_scale_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(x, gate, cols, out);
  check_launch("sigmoid_scale_kernel");
}

void launch_round_rows(ConstView x, int64_t rows, int64_t cols, DType dtype, void* out,
                       cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  check_cols(cols);
  if (dtype == DType::kBF16) {
    round_rows_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(x, cols,
                                                               static_cast<__nv_bfloat16*>(out));
  } else {
    round_rows_kernel<<<grid_of(rows, cols), kThreads, 0, s>>>(x, cols, static_cast<__half*>(out));
  }
  check_launch("round_rows_kernel");
}

}  // namespace sglang::cuda
