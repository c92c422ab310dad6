// The mixture-of-experts ops of the CPU backend: top-k routing, the shared expert's sigmoid gate
// and the weighted combination of the experts' outputs. Cheap next to the experts' GEMMs; plain
// loops, parallel over tokens.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/thread_pool.h"

namespace sglang {
namespace {

constexpr int64_t kParallelRows = 64;

void check(bool ok, const char* what) {
  if (!ok) throw std::logic_error(std::string("CpuBackend: ") + what);
}

using Ranked = std::pair<float, int64_t>;  // (probability, expert), as ATen's topk queue

// torch.topk(largest=True) on the CPU (ATen's topk_impl_loop): NaN ranks above numbers, then
// descending values. Equal values have no defined order there; what decides it is the standard
// library's selection algorithm run over (value, index) pairs in index order, so the same calls
// on the same sequence reproduce torch's choice among ties.
bool ranks_before(const Ranked& x, const Ranked& y) {
  return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
}

void select_top_k(std::vector<Ranked>& queue, int64_t k) {
  const auto n = static_cast<int64_t>(queue.size());
  if (k * 64 <= n) {
    std::partial_sort(queue.begin(), queue.begin() + k, queue.end(), ranks_before);
  } else {
    std::nth_element(queue.begin(), queue.begin() + k - 1, queue.end(), ranks_before);
    // As ATen: only the first k - 1 are sorted; the k-th is already in place.
    std::sort(queue.begin(), queue.begin() + k - 1, ranks_before);
  }
}

}  // namespace

void CpuBackend::moe_topk_softmax(const Tensor& router_logits, bool renormalize,
                                  const Tensor& weights, const Tensor& expert_ids) {
  const int64_t tokens = router_logits.rows(), experts = router_logits.cols();
  const int64_t k = weights.cols();
  check(weights.rows() == tokens && expert_ids.rows() == tokens && expert_ids.cols() == k &&
            k >= 1 && k <= experts,
        "moe_topk_softmax shapes");
  check(weights.dtype() == DType::kF32 && expert_ids.dtype() == DType::kI32,
        "moe_topk_softmax dtypes");
  cpu::parallel_static(tokens, tokens >= kParallelRows, [&](int64_t t0, int64_t t1) {
    std::vector<float> prob(static_cast<size_t>(experts));
    std::vector<Ranked> queue(static_cast<size_t>(experts));
    for (int64_t t = t0; t < t1; ++t) {
      const float* x = router_logits.data<float>() + t * router_logits.row_stride();
      // As torch's softmax on the last dim: exp(x - max), scaled by the reciprocal of the sum.
      float mx = x[0];
      for (int64_t e = 1; e < experts; ++e) mx = std::max(mx, x[e]);
      float sum = 0.0f;
      for (int64_t e = 0; e < experts; ++e) {
        prob[e] = std::exp(x[e] - mx);
        sum += prob[e];
      }
      const float inv = 1.0f / sum;
      for (int64_t e = 0; e < experts; ++e) prob[e] *= inv;
      for (int64_t e = 0; e < experts; ++e) queue[e] = {prob[e], e};
      select_top_k(queue, k);
      float* w = weights.data<float>() + t * weights.row_stride();
      int32_t* ids = expert_ids.data<int32_t>() + t * expert_ids.row_stride();
      float top_sum = 0.0f;
      for (int64_t j = 0; j < k; ++j) {
        ids[j] = static_cast<int32_t>(queue[j].second);
        w[j] = queue[j].first;
        top_sum += w[j];
      }
      if (renormalize) {
        for (int64_t j = 0; j < k; ++j) w[j] /= top_sum;
      }
    }
  });
}

void CpuBackend::sigmoid_scale_rows(const Tensor& x, const Tensor& gate, const Tensor& out) {
  check(gate.rows() == x.rows() && gate.cols() >= 1 && out.rows() == x.rows() &&
            out.cols() == x.cols(),
        "sigmoid_scale_rows shapes");
  const int64_t tokens = x.rows(), cols = x.cols();
  cpu::parallel_static(tokens, tokens >= kParallelRows, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float g = gate.data<float>()[t * gate.row_stride()];
      const float s = 1.0f / (1.0f + std::exp(-g));
      const float* xr = x.data<float>() + t * x.row_stride();
      float* o = out.data<float>() + t * out.row_stride();
      for (int64_t i = 0; i < cols; ++i) o[i] = s * xr[i];
    }
  });
}

void CpuBackend::moe_combine(const Tensor& expert_rows, const Tensor& slots, const Tensor& weights,
                             bool accumulate, const Tensor& out) {
  const int64_t tokens = out.rows(), cols = out.cols(), k = slots.cols();
  check(slots.rows() == tokens && weights.rows() == tokens && weights.cols() == k &&
            expert_rows.cols() == cols,
        "moe_combine shapes");
  check(slots.dtype() == DType::kI32 && weights.dtype() == DType::kF32, "moe_combine dtypes");
  // Checked before the parallel loop: an exception must not escape a chunk on a worker thread.
  for (int64_t t = 0; t < tokens; ++t) {
    const int32_t* s = slots.data<int32_t>() + t * slots.row_stride();
    for (int64_t j = 0; j < k; ++j) {
      check(s[j] >= 0 && s[j] < expert_rows.rows(), "moe_combine slot out of range");
    }
  }
  cpu::parallel_static(tokens, tokens >= kParallelRows, [&](int64_t t0, int64_t t1) {
    std::vector<int64_t> order(static_cast<size_t>(k));
    std::vector<float> acc(static_cast<size_t>(cols));
    for (int64_t t = t0; t < t1; ++t) {
      const int32_t* s = slots.data<int32_t>() + t * slots.row_stride();
      const float* w = weights.data<float>() + t * weights.row_stride();
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] < s[b]; });
      // As transformers: the experts' terms summed from zero, then added to the rest.
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j : order) {
        const float* y = expert_rows.data<float>() + s[j] * expert_rows.row_stride();
        for (int64_t i = 0; i < cols; ++i) acc[i] += w[j] * y[i];
      }
      float* o = out.data<float>() + t * out.row_stride();
      if (accumulate) {
        for (int64_t i = 0; i < cols; ++i) o[i] += acc[i];
      } else {
        std::copy(acc.begin(), acc.end(), o);
      }
    }
  });
}

}  // namespace sglang
