// linear(): out[T, N] = x[T, K] · W[N, K]^T against panel-packed weights (cpu_kernels.h), fp32
// accumulation. Written once with GCC vector extensions at the native width of the ISA this object
// is compiled for (4 lanes SSE2, 8 AVX2, 16 AVX-512); one 16-wide panel row is kVecs such vectors.
// Wider "emulated" vector types would be simpler but GCC spills them to the stack.
//
// Why this shape: a microkernel keeps a block of MR tokens x 16 outputs in registers and streams
// one panel of the weight (K x 16 values) once for those MR tokens, so a decode step of N sequences
// reads each weight once (T <= 6) or ceil(T/6) times from cache, never from memory more than once.
#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_isa.h"
#include "kernels/cpu/thread_pool.h"
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

// The blocked GEMM (prefill): what one call of gemm_blocked computes, in the order BLIS/GotoBLAS
// use. The activations are packed once per call into token blocks of kGemmMr rows ([K][kGemmMr]
// each, so a microkernel's broadcasts read consecutive floats) and shared by all threads; the
// threads split the weight's row groups (kGemmNr rows: two 16-row panels under AVX-512, one
// otherwise). For each group and K block of kGemmKc, the weight slice is widened to float once
// ([kc][kGemmNr], ~32 KB: it stays in L1) and every token block streams its packed slice past it,
// so the weight is read from memory once per call and converted once, whatever the token count.
// The microkernel keeps kGemmMr x kGemmNr accumulators in registers (AVX-512: 12 x 2 vectors, 24
// of the 32 registers; AVX2: 6 x 2 of 16; SSE2: 3 x 4). Each output is summed over k in order
// with one accumulator (through the per-group C tile between K blocks), as micro_kernel<MR >= 2>
// does, so the blocked path and the register path give the same bits.
#if defined(__AVX512F__)
constexpr int kGemmMr = 12;
constexpr int64_t kGemmNr = 32;
#elif defined(__AVX2__)
constexpr int kGemmMr = 6;
constexpr int64_t kGemmNr = 16;
#else
constexpr int kGemmMr = 3;
constexpr int64_t kGemmNr = 16;
#endif
constexpr int kGemmNv = static_cast<int>(kGemmNr / kLanes);
constexpr int64_t kGemmKc = 256;
static_assert(kGemmKc % kGemmKAlign == 0);

// MR tokens x kGemmNr outputs over one K block: a is the token block's packed slice
// ([kc][kGemmMr]), b the widened weight slice (sub-panels [kc][16], sub_stride apart), c the
// block's C tile
// ([kGemmMr][kGemmNr]), zeroed first when `first`, else accumulated into.
template <int MR>
void gemm_micro(const float* a, const float* b, int64_t sub_stride, int64_t kc, float* c,
                bool first) {
  fvec acc[MR][kGemmNv];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < kGemmNv; ++v)
      acc[r][v] = first ? fvec{} : load_vec(c + r * kGemmNr + v * kLanes);
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    fvec wv[kGemmNv];
    for (int v = 0; v < kGemmNv; ++v) {
      wv[v] = load_vec(b + ((v * kLanes) / kPanelRows) * sub_stride + kk * kPanelRows +
                       (v * kLanes) % kPanelRows);
    }
    const float* ak = a + kk * kGemmMr;
    for (int r = 0; r < MR; ++r) {
      const float xr = ak[r];
      for (int v = 0; v < kGemmNv; ++v) acc[r][v] += xr * wv[v];
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < kGemmNv; ++v)
      std::memcpy(c + r * kGemmNr + v * kLanes, &acc[r][v], sizeof(fvec));
  }
}

using GemmMicroFn = void (*)(const float*, const float*, int64_t, int64_t, float*, bool);

template <size_t... I>
constexpr std::array<GemmMicroFn, sizeof...(I)> gemm_micro_table(std::index_sequence<I...>) {
  return {&gemm_micro<static_cast<int>(I) + 1>...};
}
// kGemmMicro[mr - 1]: the microkernel for a (last) token block of mr tokens.
constexpr auto kGemmMicro = gemm_micro_table(std::make_index_sequence<kGemmMr>{});

// The widen callback of a panel-packed float/bf16/f16 weight (ctx: the PackedWeight).
template <DType D>
void widen_packed(const void* ctx, int64_t n0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  const PackedWeight& pw = *static_cast<const PackedWeight*>(ctx);
  const Elem<D>* base = static_cast<const Elem<D>*>(pw.data);
  for (int64_t s = 0; s * kPanelRows < rows; ++s) {
    const Elem<D>* src = base + ((n0 / kPanelRows + s) * pw.k + k0) * kPanelRows;
    float* d = dst + s * kc * kPanelRows;
    for (int64_t i = 0; i < kc * kPanelRows; i += kLanes) {
      fvec v;
      if constexpr (D == DType::kF32) {
        v = load_vec(src + i);
      } else if constexpr (D == DType::kBF16) {
        v = load_bf16(src + i);
      } else {
        v = load_f16(src + i);
      }
      std::memcpy(d + i, &v, sizeof(v));
    }
  }
}

// Above this many tokens linear() of a float weight takes the blocked GEMM; at or below it, the
// register path (each weight element converted in registers once per token block, read once
// from memory) is as fast and needs no buffers.
constexpr int64_t kBlockedMinTokens = 17;

template <DType D>
void linear_typed(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& pw,
                  const float* bias, float* out, int64_t out_stride) {
  if (tokens >= kBlockedMinTokens) {
    gemm_blocked(x, x_stride, tokens, pw.n, pw.k, &widen_packed<D>, &pw, bias, out, out_stride);
    return;
  }
  const Elem<D>* base = static_cast<const Elem<D>*>(pw.data);
  const int64_t k = pw.k;
  const int64_t panels = (pw.n + kPanelRows - 1) / kPanelRows;
  const int64_t token_blocks = (tokens + kMaxRows - 1) / kMaxRows;
  const bool parallel = pw.n * k * std::max<int64_t>(tokens, 4) >= (1 << 16);
  // Few tokens (decode): weights are read once, converted on the fly in registers. Work items are
  // (panel, token block), panel-major so a thread reuses a panel from cache across its blocks.
  parallel_static(panels * token_blocks, parallel, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t p = item / token_blocks;
      const int64_t t0 = (item % token_blocks) * kMaxRows;
      const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, tokens - t0));
      fvec acc[kMaxRows][kVecs];
      run_block(x + t0 * x_stride, x_stride, mr, PanelReader<D>{base + p * k * kPanelRows}, k, acc);
      store_block(acc, mr, p * kPanelRows, pw.n, bias, out + t0 * out_stride, out_stride);
    }
  });
}

}  // namespace

int64_t gemm_group_rows() {
  return kGemmNr;
}

void gemm_blocked(const float* x, int64_t x_stride, int64_t tokens, int64_t n, int64_t k,
                  WidenFn widen, const void* ctx, const float* bias, float* out,
                  int64_t out_stride) {
  if (tokens <= 0 || n <= 0) return;
  const int64_t tblocks = (tokens + kGemmMr - 1) / kGemmMr;
  const int64_t groups = (n + kGemmNr - 1) / kGemmNr;
  const int64_t kblocks = (k + kGemmKc - 1) / kGemmKc;
  // The calling thread's buffer, shared with the team through the pointer (naming the
  // thread_local inside the region would give each thread its own).
  thread_local std::vector<float> packed_a;
  packed_a.resize(static_cast<size_t>(tblocks * kGemmMr * k));
  float* const pa = packed_a.data();
  const bool parallel = n * k * tokens >= (1 << 16);
  parallel_static(tblocks, parallel, [&](int64_t b0, int64_t b1) {
    for (int64_t tb = b0; tb < b1; ++tb) {
      float* dst = pa + tb * kGemmMr * k;
      for (int r = 0; r < kGemmMr; ++r) {
        const int64_t t = tb * kGemmMr + r;
        if (t < tokens) {
          const float* src = x + t * x_stride;
          for (int64_t kk = 0; kk < k; ++kk) dst[kk * kGemmMr + r] = src[kk];
        } else {
          for (int64_t kk = 0; kk < k; ++kk) dst[kk * kGemmMr + r] = 0.0f;
        }
      }
    }
  });  // every thread reads all of pa below
  parallel_static(groups, parallel, [&](int64_t g0, int64_t g1) {
    // Each thread's own buffers, kept across calls (a fresh allocation per linear costs page
    // faults): the widened weight slice and the group's C tiles for all tokens.
    thread_local std::vector<float> wide, ctile;
    wide.resize(static_cast<size_t>(kGemmKc * kGemmNr));
    ctile.resize(static_cast<size_t>(tblocks * kGemmMr * kGemmNr));
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t n0 = g * kGemmNr, rows = std::min(kGemmNr, n - n0);
      for (int64_t kb = 0; kb < kblocks; ++kb) {
        const int64_t k0 = kb * kGemmKc, kc = std::min(kGemmKc, k - k0);
        if (rows < kGemmNr) std::fill(wide.begin(), wide.end(), 0.0f);
        widen(ctx, n0, rows, k0, kc, wide.data());
        for (int64_t tb = 0; tb < tblocks; ++tb) {
          const int mr = static_cast<int>(std::min<int64_t>(kGemmMr, tokens - tb * kGemmMr));
          kGemmMicro[mr - 1](pa + tb * kGemmMr * k + k0 * kGemmMr, wide.data(), kc * kPanelRows, kc,
                             ctile.data() + tb * kGemmMr * kGemmNr, kb == 0);
        }
      }
      for (int64_t t = 0; t < tokens; ++t) {
        const float* c = ctile.data() + t * kGemmNr;  // [tblocks][kGemmMr][kGemmNr] = [t][kGemmNr]
        float* dst = out + t * out_stride + n0;
        for (int64_t j = 0; j < rows; ++j) dst[j] = c[j] + (bias ? bias[n0 + j] : 0.0f);
      }
    }
  });
}

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

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
