// linear(): out[T, N] = x[T, K] · W[N, K]^T against panel-packed weights (cpu_kernels.h), fp32
// accumulation. Written once with GCC vector extensions at the native width of the ISA this object
// is compiled for (4 lanes SSE2, 8 AVX2, 16 AVX-512); one 16-wide panel row is kVecs such vectors.
// Wider "emulated" vector types would be simpler but GCC spills them to the stack.
//
// Why this shape: a microkernel keeps a block of MR tokens x 16 outputs in registers and streams
// one panel of the weight (K x 16 values) once for those MR tokens, so a decode step of N sequences
// reads each weight once (T <= 6) or ceil(T/6) times from cache, never from memory more than once.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_isa.h"
#include "util/half.h"

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
constexpr int kVecs = kPanelRows / kLanes;

typedef float fvec __attribute__((vector_size(kLanes * 4)));
typedef uint16_t hvec __attribute__((vector_size(kLanes * 2)));
typedef uint32_t uvec __attribute__((vector_size(kLanes * 4)));

inline fvec load_vec(const float* p) {
  fvec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline fvec load_bf16(const uint16_t* p) {
  hvec h;
  std::memcpy(&h, p, sizeof(h));
  const uvec w = __builtin_convertvector(h, uvec) << 16;
  fvec f;
  std::memcpy(&f, &w, sizeof(f));
  return f;
}

inline fvec load_f16(const uint16_t* p) {
  fvec f;
#if defined(__AVX512F__)
  // GCC 12 warns about the intrinsic's own _mm512_undefined_ps() pass-through operand.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#pragma GCC diagnostic pop
  std::memcpy(&f, &v, sizeof(f));
#elif defined(__F16C__) && defined(__AVX2__)
  const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  std::memcpy(&f, &v, sizeof(f));
#else
  for (int i = 0; i < kLanes; ++i) f[i] = f16_to_f32(p[i]);
#endif
  return f;
}

// Storage type of a weight element of dtype D.
template <DType D>
using Elem = std::conditional_t<D == DType::kF32, float, uint16_t>;

// One panel row (16 values) of a weight stored as D at k, as kVecs float vectors. The dtype is a
// template parameter so the inner loops carry no branch.
template <DType D>
struct PanelReader {
  const Elem<D>* panel;
  inline void operator()(int64_t k, fvec* out) const {
    const Elem<D>* row = panel + k * kPanelRows;
    for (int v = 0; v < kVecs; ++v) {
      if constexpr (D == DType::kF32) {
        out[v] = load_vec(row + v * kLanes);
      } else if constexpr (D == DType::kBF16) {
        out[v] = load_bf16(row + v * kLanes);
      } else {
        out[v] = load_f16(row + v * kLanes);
      }
    }
  }
};

void store_block(const fvec (*acc)[kVecs], int mr, int64_t n0, int64_t n, const float* bias,
                 float* out, int64_t out_stride) {
  const int64_t valid = std::min<int64_t>(kPanelRows, n - n0);
  for (int r = 0; r < mr; ++r) {
    float* dst = out + r * out_stride + n0;
    for (int64_t j = 0; j < valid; ++j)
      dst[j] = acc[r][j / kLanes][j % kLanes] + (bias ? bias[n0 + j] : 0.0f);
  }
}

// MR tokens x 16 outputs over the full K.
template <int MR, DType D>
void micro_kernel(const float* x, int64_t x_stride, const PanelReader<D>& w, int64_t k,
                  fvec (*acc)[kVecs]) {
  if constexpr (MR == 1) {
    // One token: two interleaved accumulator sets hide the FMA latency.
    fvec a0[kVecs] = {}, a1[kVecs] = {}, wv0[kVecs], wv1[kVecs];
    int64_t kk = 0;
    for (; kk + 2 <= k; kk += 2) {
      w(kk, wv0);
      w(kk + 1, wv1);
      for (int v = 0; v < kVecs; ++v) {
        a0[v] += x[kk] * wv0[v];
        a1[v] += x[kk + 1] * wv1[v];
      }
    }
    if (kk < k) {
      w(kk, wv0);
      for (int v = 0; v < kVecs; ++v) a0[v] += x[kk] * wv0[v];
    }
    for (int v = 0; v < kVecs; ++v) acc[0][v] = a0[v] + a1[v];
  } else {
    fvec a[MR][kVecs] = {};
    fvec wv[kVecs];
    for (int64_t kk = 0; kk < k; ++kk) {
      w(kk, wv);
      for (int r = 0; r < MR; ++r) {
        const float xr = x[r * x_stride + kk];
        for (int v = 0; v < kVecs; ++v) a[r][v] += xr * wv[v];
      }
    }
    for (int r = 0; r < MR; ++r) {
      for (int v = 0; v < kVecs; ++v) acc[r][v] = a[r][v];
    }
  }
}

constexpr int kMaxRows = 6;

template <DType D>
void run_block(const float* x, int64_t x_stride, int mr, const PanelReader<D>& reader, int64_t k,
               fvec (*acc)[kVecs]) {
  switch (mr) {
    case 1:
      micro_kernel<1>(x, x_stride, reader, k, acc);
      break;
    case 2:
      micro_kernel<2>(x, x_stride, reader, k, acc);
      break;
    case 3:
      micro_kernel<3>(x, x_stride, reader, k, acc);
      break;
    case 4:
      micro_kernel<4>(x, x_stride, reader, k, acc);
      break;
    case 5:
      micro_kernel<5>(x, x_stride, reader, k, acc);
      break;
    default:
      micro_kernel<6>(x, x_stride, reader, k, acc);
      break;
  }
}

// Widens one panel (k x 16 values of bf16/f16) to float.
void widen_panel(const uint16_t* panel, DType dtype, int64_t k, float* out) {
  for (int64_t i = 0; i < k * kPanelRows; i += kLanes) {
    const fvec v = dtype == DType::kBF16 ? load_bf16(panel + i) : load_f16(panel + i);
    std::memcpy(out + i, &v, sizeof(v));
  }
}

template <DType D>
void linear_typed(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& pw,
                  const float* bias, float* out, int64_t out_stride) {
  const Elem<D>* base = static_cast<const Elem<D>*>(pw.data);
  const int64_t k = pw.k;
  const int64_t panels = (pw.n + kPanelRows - 1) / kPanelRows;
  const int64_t token_blocks = (tokens + kMaxRows - 1) / kMaxRows;
  const bool parallel = pw.n * k * std::max<int64_t>(tokens, 4) >= (1 << 16);
  auto block = [&](const auto& reader, int64_t p, int64_t t0) {
    const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, tokens - t0));
    fvec acc[kMaxRows][kVecs];
    run_block(x + t0 * x_stride, x_stride, mr, reader, k, acc);
    store_block(acc, mr, p * kPanelRows, pw.n, bias, out + t0 * out_stride, out_stride);
  };
  if (D == DType::kF32 || token_blocks < 4) {
    // Few tokens (decode): weights are read once, converted on the fly in registers. Work items are
    // (panel, token block), panel-major so a thread reuses a panel from cache across its blocks.
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < panels * token_blocks; ++item) {
      const int64_t p = item / token_blocks;
      block(PanelReader<D>{base + p * k * kPanelRows}, p, (item % token_blocks) * kMaxRows);
    }
    return;
  }
  // Many tokens (prefill): each panel is widened to float once into a per-thread buffer and reused
  // by all token blocks, so the inner loop does no conversion.
#pragma omp parallel if (parallel)
  {
    std::vector<float> wide(static_cast<size_t>(k * kPanelRows));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      if constexpr (D != DType::kF32) widen_panel(base + p * k * kPanelRows, D, k, wide.data());
      const PanelReader<DType::kF32> reader{wide.data()};
      for (int64_t tb = 0; tb < token_blocks; ++tb) block(reader, p, tb * kMaxRows);
    }
  }
}

}  // namespace

void linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
            const float* bias, float* out, int64_t out_stride) {
  if (tokens <= 0 || w.n <= 0) return;
  switch (w.dtype) {
    case DType::kF32:
      linear_typed<DType::kF32>(x, x_stride, tokens, w, bias, out, out_stride);
      break;
    case DType::kBF16:
      linear_typed<DType::kBF16>(x, x_stride, tokens, w, bias, out, out_stride);
      break;
    default:
      linear_typed<DType::kF16>(x, x_stride, tokens, w, bias, out, out_stride);
      break;
  }
}

void linear_f32_panel(const float* x, int64_t x_stride, int64_t tokens, const float* panel,
                      int64_t k, int64_t n0, int64_t n, const float* bias, float* out,
                      int64_t out_stride) {
  const PanelReader<DType::kF32> reader{panel};
  for (int64_t t0 = 0; t0 < tokens; t0 += kMaxRows) {
    const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, tokens - t0));
    fvec acc[kMaxRows][kVecs];
    run_block(x + t0 * x_stride, x_stride, mr, reader, k, acc);
    store_block(acc, mr, n0, n, bias, out + t0 * out_stride, out_stride);
  }
}

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
