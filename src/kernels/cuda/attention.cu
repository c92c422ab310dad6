// Paged attention for any mix of prefill and decode sequences (backend.h's `attention`): ragged
// batches, causal or bidirectional, GQA, prefix keys from the cache (radix-cache hits), sliding
// window, Gemma 2's logit soft-cap, and split-K over long contexts.
//
// One block of kWarps warps per (query token, head, key split). Each warp walks every kWarps-th
// key of the split with an online softmax (fp32), its 32 lanes holding the head's dimensions
// lane, lane + 32, ...; the warps then merge in shared memory. With one split the block writes
// the output; with several, each writes (max, sum, unnormalised row) to scratch and
// combine_kernel merges the splits. This is the correctness kernel: prefill reads each key once
// per query token (from L2 for a chunk), where a tiled tensor-core kernel would share it.
#include <algorithm>

#include "kernels/cuda/cuda_common.cuh"

namespace sglang::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxDimsPerLane = 8;  // head_dim <= 256
constexpr int64_t kKeysPerSplit = 256;

struct Partials {
  float* m;    // [tokens * heads * splits]
  float* l;    // same
  float* acc;  // [tokens * heads * splits, head_dim]
};

// The sequence whose new rows hold row t: the last one starting at or before t (sequences with no
// new rows start where the next one does, so the last wins).
__device__ int64_t find_seq(const int32_t* info, int64_t num_seqs, int64_t t) {
  int64_t lo = 0, hi = num_seqs - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (info[mid * 4] <= t) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    attention_kernel(AttentionLaunch a, int64_t keys_per_split, Partials part) {
  extern __shared__ float smem[];  // q[head_dim], then per warp: acc[head_dim]; then m, l
  float* q_s = smem;
  float* acc_s = smem + a.head_dim;
  float* m_s = acc_s + kWarps * a.head_dim;
  float* l_s = m_s + kWarps;

  const int64_t t = blockIdx.x, h = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t d = a.head_dim;
  const int64_t kvh = h / (a.num_heads / a.num_kv_heads);

  const int64_t seq = find_seq(a.seq_info, a.num_seqs, t);
  const int32_t* info = a.seq_info + seq * 4;
  const int64_t q_start = info[0], q_len = info[1], kv_len = info[2], pt0 = info[3];
  const bool row_ok = t >= q_start && t < q_start + q_len;
  // The token's position, and the keys it sees: [first, last] (as the CPU backend's first_key /
  // last_key: a window of w keeps the w positions up to and including its own).
  const int64_t pos = kv_len - q_len + (t - q_start);
  const int64_t first = a.sliding_window > 0 ? max(int64_t{0}, pos - a.sliding_window + 1) : 0;
  const int64_t last = a.causal ? pos : kv_len - 1;
  const int64_t lo = first + split * keys_per_split;
  const int64_t hi = row_ok ? min(last + 1, lo + keys_per_split) : lo;  // keys [lo, hi)

  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) q_s[i] = a.q[t * a.q_stride + h * d + i];
  __syncthreads();
  float q_r[kMaxDimsPerLane], acc[kMaxDimsPerLane];
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) {
    const int64_t dim = lane + 32 * i;
    q_r[i] = dim < d ? q_s[dim] : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  const T* kc = static_cast<const T*>(a.k_cache);
  const T* vc = static_cast<const T*>(a.v_cache);
  for (int64_t key = lo + warp; key < hi; key += kWarps) {
    const int64_t page = a.page_table[pt0 + key / a.page_size];
    const int64_t slot = page * a.page_size + key % a.page_size;
    const T* kr = kc + slot * a.kv_stride + kvh * d;
    const T* vr = vc + slot * a.kv_stride + kvh * d;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
      const int64_t dim = lane + 32 * i;
      if (dim < d) dot += q_r[i] * load_f32(kr + dim);
    }
    float s = warp_sum(dot) * a.scale;
    if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // 0 on the first key (m = -inf)
    const float p = expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
      const int64_t dim = lane + 32 * i;
      if (dim < d) acc[i] = acc[i] * corr + p * load_f32(vr + dim);
    }
    m = m_new;
  }
  // Merge the warps.
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) {
    const int64_t dim = lane + 32 * i;
    if (dim < d) acc_s[warp * d + dim] = acc[i];
  }
  if (lane == 0) {
    m_s[warp] = m;
    l_s[warp] = l;
  }
  __syncthreads();
  float big = -INFINITY;
  for (int w = 0; w < kWarps; ++w) big = fmaxf(big, m_s[w]);
  float total = 0.0f;
  float factor[kWarps];
  for (int w = 0; w < kWarps; ++w) {
    factor[w] = m_s[w] == -INFINITY ? 0.0f : expf(m_s[w] - big);
    total += l_s[w] * factor[w];
  }
  const int64_t row = (t * a.num_heads + h) * splits + split;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kWarps; ++w) v += acc_s[w * d + i] * factor[w];
    if (splits == 1) {
      a.out[t * a.out_stride + h * d + i] = total > 0.0f ? v / total : 0.0f;
    } else {
      part.acc[row * d + i] = v;
    }
  }
  if (splits > 1 && threadIdx.x == 0) {
    part.m[row] = big;
    part.l[row] = total;
  }
}

// grid (tokens, heads): the splits' partial softmaxes merged into the output row.
__global__ void combine_kernel(AttentionLaunch a, int64_t splits, Partials part) {
  const int64_t t = blockIdx.x, h = blockIdx.y, d = a.head_dim;
  const int64_t row0 = (t * a.num_heads + h) * splits;
  float big = -INFINITY;
  for (int64_t z = 0; z < splits; ++z) big = fmaxf(big, part.m[row0 + z]);
  float total = 0.0f;
  for (int64_t z = 0; z < splits; ++z) {
    const float mz = part.m[row0 + z];
    if (mz != -INFINITY) total += part.l[row0 + z] * expf(mz - big);
  }
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float v = 0.0f;
    for (int64_t z = 0; z < splits; ++z) {
      const float mz = part.m[row0 + z];
      if (mz != -INFINITY) v += part.acc[(row0 + z) * d + i] * expf(mz - big);
    }
    a.out[t * a.out_stride + h * d + i] = total > 0.0f ? v / total : 0.0f;
  }
}

// Splits per (token, head): enough blocks to fill the GPU about four times over when the batch
// alone does not, each split at least kKeysPerSplit keys (a decode step of a few long sequences).
int64_t choose_splits(const AttentionLaunch& a) {
  const int64_t blocks = a.num_tokens * a.num_heads;
  const int64_t target = static_cast<int64_t>(std::max(a.num_sms, 1)) * 4;
  if (blocks >= target || a.max_kv_len <= kKeysPerSplit) return 1;
  const int64_t by_keys = (a.max_kv_len + kKeysPerSplit - 1) / kKeysPerSplit;
  return std::clamp<int64_t>((target + blocks - 1) / blocks, 1, std::min<int64_t>(by_keys, 64));
}

size_t shared_bytes(const AttentionLaunch& a) {
  return static_cast<size_t>((kWarps + 1) * a.head_dim + 2 * kWarps) * sizeof(float);
}

}  // namespace

size_t attention_scratch_bytes(const AttentionLaunch& a) {
  const int64_t splits = choose_splits(a);
  if (splits == 1) return 0;
  return static_cast<size_t>(a.num_tokens * a.num_heads * splits * (2 + a.head_dim)) *
         sizeof(float);
}

void launch_attention(const AttentionLaunch& a, void* scratch, cudaStream_t s) {
  if (a.num_tokens == 0) return;
  require(a.head_dim >= 1 && a.head_dim <= 32 * kMaxDimsPerLane,
          "attention: head_dim must be 1..256");
  require(a.num_kv_heads > 0 && a.num_heads % a.num_kv_heads == 0, "attention head counts");
  require(a.num_heads <= 65535, "attention: more than 65535 heads");
  const int64_t splits = choose_splits(a);
  // Keys per split: `splits` of them cover the longest sequence; one split takes every key.
  const int64_t keys_per_split =
      splits == 1 ? (int64_t{1} << 40) : (a.max_kv_len + splits - 1) / splits;
  Partials part{nullptr, nullptr, nullptr};
  if (splits > 1) {
    require(scratch != nullptr, "attention: split-K needs scratch");
    const int64_t rows = a.num_tokens * a.num_heads * splits;
    part.m = static_cast<float*>(scratch);
    part.l = part.m + rows;
    part.acc = part.l + rows;
  }
  const dim3 grid(static_cast<unsigned>(a.num_tokens), static_cast<unsigned>(a.num_heads),
                  static_cast<unsigned>(splits));
  const size_t smem = shared_bytes(a);
  switch (a.kv_dtype) {
    case DType::kF32:
      attention_kernel<float><<<grid, kWarps * 32, smem, s>>>(a, keys_per_split, part);
      break;
    case DType::kBF16:
      attention_kernel<__nv_bfloat16><<<grid, kWarps * 32, smem, s>>>(a, keys_per_split, part);
      break;
    case DType::kF16:
      attention_kernel<__half><<<grid, kWarps * 32, smem, s>>>(a, keys_per_split, part);
      break;
    default:
      require(false, "the KV cache must be F32, BF16 or F16");
  }
  check_launch("attention_kernel");
  if (splits > 1) {
    combine_kernel<<<dim3(static_cast<unsigned>(a.num_tokens), static_cast<unsigned>(a.num_heads)),
                     128, 0, s>>>(a, splits, part);
    check_launch("attention combine_kernel");
  }
}

}  // namespace sglang::cuda
