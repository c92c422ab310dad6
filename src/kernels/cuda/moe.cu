// Mixture-of-experts routing (softmax + top-k, as SGLang's fused topk_softmax) and the weighted
// combination of the experts' rows back in token order.
#include "kernels/cuda/cuda_common.cuh"

namespace sglang::cuda {
namespace {

// torch.topk(largest=True)'s order: NaN above numbers, then descending values. Among equal values
// torch's CPU order is its selection algorithm's; here the lower expert id wins (a tie has no
// meaningful order; the golden MoE test compares only choices with a margin).
__device__ __forceinline__ bool ranks_before(float a, int ai, float b, int bi) {
  const bool an = isnan(a), bn = isnan(b);
  if (an != bn) return an;
  if (!an && a != b) return a > b;
  return ai < bi;
}

// One thread per row: experts are few (8..256) and k small, so k passes over the row, each taking
// the best expert ranked after the previous pick, need no per-row storage.
__global__ void topk_softmax_kernel(ConstView logits, int64_t rows, int64_t experts, int64_t k,
                                    bool renormalize, float* __restrict__ weights,
                                    int32_t* __restrict__ ids) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows) return;
  const float* x = logits.p + t * logits.stride;
  // As torch's softmax: exp(x - max), times the reciprocal of the sum.
  float mx = x[0];
  for (int64_t e = 1; e < experts; ++e) mx = fmaxf(mx, x[e]);
  float sum = 0.0f;
  for (int64_t e = 0; e < experts; ++e) sum += expf(x[e] - mx);
  const float inv = 1.0f / sum;
  float* w = weights + t * k;
  int32_t* out_ids = ids + t * k;
  float prev = 0.0f, top_sum = 0.0f;
  int prev_id = -1;
  for (int64_t j = 0; j < k; ++j) {
    float best = 0.0f;
    int best_id = -1;
    for (int e = 0; e < static_cast<int>(experts); ++e) {
      const float p = expf(x[e] - mx) * inv;
      if (prev_id >= 0 && !ranks_before(prev, prev_id, p, e)) continue;
      if (best_id < 0 || ranks_before(p, e, best, best_id)) {
        best = p;
        best_id = e;
      }
    }
    out_ids[j] = best_id;
    w[j] = best;
    top_sum += best;
    prev = best;
    prev_id = best_id;
  }
  if (renormalize) {
    for (int64_t j = 0; j < k; ++j) w[j] /= top_sum;
  }
}

constexpr int kMaxTopK = 64;

// One block per token: thread 0 orders the token's k slots ascending (transformers' order of the
// terms), then the threads sum the columns.
__global__ void combine_kernel(ConstView rows_in, int64_t expert_count,
                               const int32_t* __restrict__ slots, const float* __restrict__ weights,
                               int64_t k, int64_t cols, bool accumulate, View out, int* bad_slot) {
  __shared__ int order[kMaxTopK];
  __shared__ int valid;
  const int64_t t = blockIdx.x;
  const int32_t* s = slots + t * k;
  const float* w = weights + t * k;
  if (threadIdx.x == 0) {
    valid = 1;
    for (int j = 0; j < k; ++j) {
      if (s[j] < 0 || s[j] >= expert_count) valid = 0;
      int i = j;  // insertion sort by slot
      while (i > 0 && s[order[i - 1]] > s[j]) {
        order[i] = order[i - 1];
        --i;
      }
      order[i] = j;
    }
    if (!valid) atomicExch(bad_slot, 1);
  }
  __syncthreads();
  if (!valid) return;
  float* o = out.p + t * out.stride;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < k; ++j) {
      const int idx = order[j];
      acc += w[idx] * rows_in.p[static_cast<int64_t>(s[idx]) * rows_in.stride + c];
    }
    o[c] = accumulate ? o[c] + acc : acc;
  }
}

}  // namespace

void launch_moe_topk_softmax(ConstView logits, int64_t rows, int64_t experts, int64_t k,
                             bool renormalize, float* weights, int32_t* expert_ids,
                             cudaStream_t s) {
  if (rows == 0) return;
  topk_softmax_kernel<<<ceil_div(rows, 128), 128, 0, s>>>(logits, rows, experts, k, renormalize,
                                                          weights, expert_ids);
  check_launch("topk_softmax_kernel");
}

void launch_moe_combine(ConstView expert_rows, int64_t expert_count, const int32_t* slots,
                        const float* weights, int64_t rows, int64_t k, int64_t cols,
                        bool accumulate, View out, int* bad_slot, cudaStream_t s) {
  if (rows == 0) return;
  require(k >= 1 && k <= kMaxTopK, "moe_combine: top-k must be 1..64");
  combine_kernel<<<static_cast<unsigned>(rows), 256, 0, s>>>(
      expert_rows, expert_count, slots, weights, k, cols, accumulate, out, bad_slot);
  check_launch("combine_kernel");
}

}  // namespace sglang::cuda
