// linear(): out[T, N] = x[T, K] · W[N, K]^T against panel-packed weights (cpu_kernels.h), fp32
// accumulation. Written once with GCC vector extensions on 16-lane vectors; compiled per ISA this
// is two ymm registers per vector on AVX2 and one zmm on AVX-512.
//
// Why this shape: a microkernel keeps a block of MR tokens x 16 outputs in registers and streams
// one panel of the weight (K x 16 values) once for those MR tokens, so a decode step of N sequences
// reads each weight once (T <= 6) or ceil(T/6) times from cache, never from memory more than once.
#include <omp.h>

#include <algorithm>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_isa.h"
#include "util/half.h"

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {
namespace {

typedef float f32x16 __attribute__((vector_size(64)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));

static_assert(kPanelRows == 16, "the microkernel holds one panel row in one f32x16");

inline f32x16 load_row(const float* p) {
  f32x16 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline f32x16 load_row(const uint16_t* p, DType dtype) {
  if (dtype == DType::kBF16) {
    u16x16 h;
    std::memcpy(&h, p, sizeof(h));
    u32x16 w = __builtin_convertvector(h, u32x16) << 16;
    f32x16 f;
    std::memcpy(&f, &w, sizeof(f));
    return f;
  }
#if defined(__F16C__)
  __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  __m256 hi = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)));
  f32x16 f;
  std::memcpy(&f, &lo, 32);
  std::memcpy(reinterpret_cast<char*>(&f) + 32, &hi, 32);
  return f;
#else
  f32x16 f;
  for (int i = 0; i < 16; ++i) f[i] = f16_to_f32(p[i]);
  return f;
#endif
}

// Weight element type: float, or uint16_t holding bf16/f16 bits.
template <typename W>
struct PanelReader {
  const W* panel;
  DType dtype;
  f32x16 operator()(int64_t k) const {
    if constexpr (std::is_same_v<W, float>) {
      return load_row(panel + k * kPanelRows);
    } else {
      return load_row(panel + k * kPanelRows, dtype);
    }
  }
};

template <typename W>
void store_block(const f32x16* acc, int mr, int64_t n0, int64_t n, const float* bias, float* out,
                 int64_t out_stride) {
  const int64_t valid = std::min<int64_t>(kPanelRows, n - n0);
  for (int r = 0; r < mr; ++r) {
    float* dst = out + r * out_stride + n0;
    for (int64_t j = 0; j < valid; ++j) dst[j] = acc[r][j] + (bias ? bias[n0 + j] : 0.0f);
  }
}

// MR tokens x 16 outputs over the full K.
template <int MR, typename W>
void micro_kernel(const float* x, int64_t x_stride, const PanelReader<W>& w, int64_t k,
                  f32x16* acc) {
  for (int r = 0; r < MR; ++r) acc[r] = f32x16{};
  if constexpr (MR == 1) {
    // One token: four independent accumulators hide the FMA latency.
    f32x16 a0{}, a1{}, a2{}, a3{};
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
      a0 += x[kk] * w(kk);
      a1 += x[kk + 1] * w(kk + 1);
      a2 += x[kk + 2] * w(kk + 2);
      a3 += x[kk + 3] * w(kk + 3);
    }
    for (; kk < k; ++kk) a0 += x[kk] * w(kk);
    acc[0] = (a0 + a1) + (a2 + a3);
  } else {
    for (int64_t kk = 0; kk < k; ++kk) {
      const f32x16 wv = w(kk);
      for (int r = 0; r < MR; ++r) acc[r] += x[r * x_stride + kk] * wv;
    }
  }
}

template <typename W>
void linear_typed(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& pw,
                  const float* bias, float* out, int64_t out_stride) {
  constexpr int kMaxRows = 6;
  const W* base = static_cast<const W*>(pw.data);
  const int64_t k = pw.k;
  const int64_t panels = (pw.n + kPanelRows - 1) / kPanelRows;
  const int64_t token_blocks = (tokens + kMaxRows - 1) / kMaxRows;
  // Work items are (panel, token block), panel-major so a thread reuses a panel from cache across
  // its token blocks. Small problems stay on one thread.
  const int64_t work = panels * token_blocks;
  const bool parallel = pw.n * k * std::max<int64_t>(tokens, 4) >= (1 << 16);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t item = 0; item < work; ++item) {
    const int64_t p = item / token_blocks;
    const int64_t t0 = (item % token_blocks) * kMaxRows;
    const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, tokens - t0));
    PanelReader<W> reader{base + p * k * kPanelRows, pw.dtype};
    const float* xb = x + t0 * x_stride;
    f32x16 acc[kMaxRows];
    switch (mr) {
      case 1:
        micro_kernel<1>(xb, x_stride, reader, k, acc);
        break;
      case 2:
        micro_kernel<2>(xb, x_stride, reader, k, acc);
        break;
      case 3:
        micro_kernel<3>(xb, x_stride, reader, k, acc);
        break;
      case 4:
        micro_kernel<4>(xb, x_stride, reader, k, acc);
        break;
      case 5:
        micro_kernel<5>(xb, x_stride, reader, k, acc);
        break;
      default:
        micro_kernel<6>(xb, x_stride, reader, k, acc);
        break;
    }
    store_block<W>(acc, mr, p * kPanelRows, pw.n, bias, out + t0 * out_stride, out_stride);
  }
}

}  // namespace

void linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
            const float* bias, float* out, int64_t out_stride) {
  if (tokens <= 0 || w.n <= 0) return;
  if (w.dtype == DType::kF32) {
    linear_typed<float>(x, x_stride, tokens, w, bias, out, out_stride);
  } else {
    linear_typed<uint16_t>(x, x_stride, tokens, w, bias, out, out_stride);
  }
}

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
