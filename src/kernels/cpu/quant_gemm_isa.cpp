// linear() for weights kept in GGUF blocks (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K; the layouts are
// model/gguf_dequant.cpp's). Compiled once per ISA like gemm_isa.cpp.
//
// Layout: the file's own blocks, row after row (one output row = K / block elements blocks), copied
// once at load (load_matmul_weight) so stacked q|k|v and gate|up rows simply concatenate. No
// interleaving of rows: a decode step streams each row once from memory either way, and the
// per-row layout lets a row's blocks be read sequentially.
//
// Two paths, chosen by the number of tokens:
// - Few tokens (decode): as llama.cpp's vec_dot_q4_1_q8_1 idea, each token's activations are
//   quantized per 32 elements to int8 with one float scale (and the block sums, for the weights'
//   offsets and minimums), and every 32-element sub-block of a weight row is unpacked once into 32
//   bytes in a register and multiplied with each token's int8 block as integer dot products
//   (AVX2 maddubs/madd, or AVX-512 VNNI dpbusd where the CPU has it), then scaled in float. The
//   weight bytes are read once per step, whatever the batch.
// - Many tokens (prefill) under AVX-512 VNNI: an integer GEMM (linear_igemm), since prefill is
//   compute bound and vpdpbusd does 64 byte products per instruction where a float FMA does 16.
//   Measured on this Xeon (back-to-back independent instructions, one thread): vpdpbusd zmm and
//   vfmadd231ps zmm both issue ~0.15 ns apart, so 4x the multiply-adds per second; vdpbf16ps zmm
//   0.6 ns (32 products), 1/8 of vpdpbusd's rate, so bf16 is no alternative here. The
//   activations are the same int8 blocks as the decode path's (quantize_rows), so a token's
//   result is the decode path's up to float summation order. Each (32-row group, K block) of the
//   weight is unpacked once per call into unsigned bytes in vpdpbusd's layout plus a float scale
//   and offset per (sub-block, row), weight = scale * q + offset for every format; a 6-token x
//   32-row tile of int32 accumulators sums each sub-block exactly, and its end adds
//   (dot * d_act) * scale + offset * d_act * sum(q_act) to float accumulators.
//   bench/quant_linear.cpp (one thread, 2026-12-02, against the float panels in the same run):
//   2.1x (Q6_K) to 2.8x (Q4_1 gate_up) at 512 tokens, ~2x at 16-32.
// - Many tokens elsewhere (AVX2, AVX-512 without VNNI, generic): gemm_isa.cpp's blocked GEMM, which
//   asks for each (row group, K block) of the weight once per call; it is dequantized to float
//   then (widen_quant) and reused by all token blocks, against the int8-rounded activations.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__)
// GCC 12 warns about the AVX-512 intrinsics' own _mm512_undefined_*() pass-through operands.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_isa.h"
#include "kernels/cpu/quant_gemm_isa.h"
#include "kernels/cpu/thread_pool.h"
#include "util/half.h"

#if defined(__AVX512F__) && !defined(SGLANG_QUANT_VNNI)
namespace sglang::cpu::isa_avx512vnni {
// This file again, built with AVX-512 VNNI (src/CMakeLists.txt): the AVX-512 table's quantized
// linear() runs it where the CPU has vpdpbusd.
void quant_linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
                  const float* bias, float* out, int64_t out_stride);
}  // namespace sglang::cpu::isa_avx512vnni
#endif
#if defined(SGLANG_QUANT_VNNI)
// Only this file is built for VNNI: the float panel microkernel is the AVX-512 table's.
namespace sglang::cpu::isa_avx512 {
int64_t gemm_group_rows();
void gemm_blocked(const float* x, int64_t x_stride, int64_t tokens, int64_t n, int64_t k,
                  WidenFn widen, const void* ctx, const float* bias, float* out,
                  int64_t out_stride);
}  // namespace sglang::cpu::isa_avx512
#define SGLANG_BLOCKED_GEMM ::sglang::cpu::isa_avx512::gemm_blocked
#else
#define SGLANG_BLOCKED_GEMM gemm_blocked
#endif

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {
namespace {

constexpr int64_t kQK = 32;

// A call's activations as int8 per 32 elements, llama.cpp's block_q8_1 idea in separate arrays so
// that consecutive blocks' quants are adjacent (one 64-byte load covers two under AVX-512):
// x[l] ~ d * q[l] with d = amax / 127, so |x[l] - d * q[l]| <= d / 2 = amax / 254.
struct Acts {
  int64_t k = 0, nsub = 0;
  std::vector<int8_t> q;    // [tokens][k]
  std::vector<float> dexp;  // [tokens][nsub * 8]: each block's d, once per int32 lane of its dot
  std::vector<float> d;     // [tokens][nsub]: each block's d, once (rows_dot32 scales 16 at a time)
  std::vector<float> ds;    // [tokens][nsub]: d * sum(q), what a block's offset/minimum multiplies
  std::vector<float> ds16;  // [tokens][nsub * 2]: d * sum(q) over elements 0..15 and 16..31 (Q6_K)
};

// One block of 32 in vector registers: the same arithmetic as the scalar loop of quantize_row (the
// max of |x| is exact in any order, x * id is one float product, the conversion rounds to nearest
// even as std::nearbyint does in the default rounding mode), so the bytes are identical; returns
// false where a value is not finite or 1 / d overflows (quantize_block_scalar then does the block).
inline bool quantize_block_simd(const float* xb, int8_t* qb, float* d_out, int s[2]) {
#if defined(__AVX512F__)
  const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
  // x * 0 is NaN exactly for Inf and NaN inputs: one test for both.
  const __m512 z =
      _mm512_add_ps(_mm512_mul_ps(x0, _mm512_setzero_ps()), _mm512_mul_ps(x1, _mm512_setzero_ps()));
  if (_mm512_cmp_ps_mask(z, z, _CMP_UNORD_Q) != 0) return false;
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
  const float d = amax / 127.0f, inv = d > 0.0f ? 1.0f / d : 0.0f;
  if (!std::isfinite(inv)) return false;
  const __m512 id = _mm512_set1_ps(inv);
  const __m512i lim = _mm512_set1_epi32(127);
  const __m512i q0 =
      _mm512_max_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), lim),
                       _mm512_min_epi32(lim, _mm512_cvtps_epi32(_mm512_mul_ps(x0, id))));
  const __m512i q1 =
      _mm512_max_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), lim),
                       _mm512_min_epi32(lim, _mm512_cvtps_epi32(_mm512_mul_ps(x1, id))));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qb), _mm512_cvtsepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + 16), _mm512_cvtsepi32_epi8(q1));
  s[0] = _mm512_reduce_add_epi32(q0);
  s[1] = _mm512_reduce_add_epi32(q1);
  *d_out = d;
  return true;
#elif defined(__AVX2__)
  __m256 xv[4];
  __m256 z = _mm256_setzero_ps(), amax8 = _mm256_setzero_ps();
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (int i = 0; i < 4; ++i) {
    xv[i] = _mm256_loadu_ps(xb + 8 * i);
    z = _mm256_add_ps(z, _mm256_mul_ps(xv[i], _mm256_setzero_ps()));
    amax8 = _mm256_max_ps(amax8, _mm256_and_ps(xv[i], abs_mask));
  }
  if (_mm256_movemask_ps(_mm256_cmp_ps(z, z, _CMP_UNORD_Q)) != 0) return false;
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float d = _mm_cvtss_f32(m4) / 127.0f, inv = d > 0.0f ? 1.0f / d : 0.0f;
  if (!std::isfinite(inv)) return false;
  const __m256 id = _mm256_set1_ps(inv);
  const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) {
    q[i] =
        _mm256_max_epi32(nlim, _mm256_min_epi32(lim, _mm256_cvtps_epi32(_mm256_mul_ps(xv[i], id))));
  }
  // Narrow to bytes (packs work per 128-bit lane; the permute puts the dwords back in order).
  const __m256i p =
      _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qb),
                      _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  for (int h = 0; h < 2; ++h) {
    const __m256i v = _mm256_add_epi32(q[2 * h], q[2 * h + 1]);
    __m128i v4 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    v4 = _mm_add_epi32(v4, _mm_shuffle_epi32(v4, 0x4E));
    v4 = _mm_add_epi32(v4, _mm_shuffle_epi32(v4, 0xB1));
    s[h] = _mm_cvtsi128_si32(v4);
  }
  *d_out = d;
  return true;
#else
  (void)xb;
  (void)qb;
  (void)d_out;
  (void)s;
  return false;
#endif
}

// The reference rounding of one block (and the only one for non-finite values, or a scale so small
// that 1 / d overflows): x[l] ~ d * q[l].
void quantize_block_scalar(const float* xb, int8_t* qb, float* d_out, int s[2]) {
  float amax = 0.0f, all = 0.0f;
  for (int l = 0; l < kQK; ++l) {
    amax = std::max(amax, std::fabs(xb[l]));
    all += xb[l] * 0.0f;  // NaN if any value is Inf or NaN (std::max drops NaNs)
  }
  float d = amax / 127.0f;
  s[0] = s[1] = 0;
  if (all != 0.0f || !std::isfinite(amax)) {
    // A NaN scale makes the outputs NaN, as a float product would be (and no out-of-range
    // float-to-int conversion happens).
    std::memset(qb, 0, kQK);
    d = std::nanf("");
  } else {
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int l = 0; l < kQK; ++l) {
      const float v = std::min(127.0f, std::max(-127.0f, std::nearbyint(xb[l] * id)));
      qb[l] = static_cast<int8_t>(v);
      s[l / 16] += qb[l];
    }
  }
  *d_out = d;
}

void quantize_row(const float* x, int64_t k, int8_t* q, float* dexp, float* d1, float* ds,
                  float* ds16) {
  for (int64_t b = 0; b < k / kQK; ++b) {
    const float* xb = x + b * kQK;
    int8_t* qb = q + b * kQK;
    int s[2] = {0, 0};
    float d = 0.0f;
    if (!quantize_block_simd(xb, qb, &d, s)) quantize_block_scalar(xb, qb, &d, s);
    for (int l = 0; l < 8; ++l) dexp[b * 8 + l] = d;
    d1[b] = d;
    ds[b] = d * static_cast<float>(s[0] + s[1]);
    ds16[2 * b] = d * static_cast<float>(s[0]);
    ds16[2 * b + 1] = d * static_cast<float>(s[1]);
  }
}

void quantize_rows(const float* x, int64_t x_stride, int64_t tokens, int64_t k, Acts* a) {
  a->k = k;
  a->nsub = k / kQK;
  a->q.resize(static_cast<size_t>(tokens * k));
  a->dexp.resize(static_cast<size_t>(tokens * a->nsub * 8));
  a->d.resize(static_cast<size_t>(tokens * a->nsub));
  a->ds.resize(static_cast<size_t>(tokens * a->nsub));
  a->ds16.resize(static_cast<size_t>(tokens * a->nsub * 2));
  const auto rows = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      quantize_row(x + t * x_stride, k, a->q.data() + t * k, a->dexp.data() + t * a->nsub * 8,
                   a->d.data() + t * a->nsub, a->ds.data() + t * a->nsub,
                   a->ds16.data() + t * a->nsub * 2);
    }
  };
  // A prompt's rows in parallel (each row's bytes are the same on any thread); a decode step's
  // few on the calling thread.
  constexpr int64_t kRowsPerChunk = 16;
  if (tokens >= 2 * kRowsPerChunk) {
    parallel_for(tokens, kRowsPerChunk, rows);
  } else {
    rows(0, tokens);
  }
}

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return f16_to_f32(h);
#endif
}

// As gguf_dequant.cpp's k_scale_min: the 6-bit scale and minimum of sub-block j of a Q4_K/Q5_K
// super-block (unused in the VNNI object, whose prefill decodes whole super-blocks with k_scales).
[[maybe_unused]] inline void k_scale_min(int j, const uint8_t* s, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Sub-block sb (32 elements) of a row: weight[l] = scale[l / 16] * q[l] + offset[l / 16] with q
// unsigned bytes (signed for Q8_0, whose offset is 0).
struct SubParams {
  float scale[2];
  float offset[2];
};

constexpr bool is_k_quant(DType d) {
  return d == DType::kQ4_K || d == DType::kQ5_K || d == DType::kQ6_K;
}

// The block holding sub-block sb, and sb's index inside it.
template <DType D>
inline const uint8_t* block_of(const uint8_t* row, int64_t sb, int* j) {
  if constexpr (is_k_quant(D)) {
    *j = static_cast<int>(sb % 8);
    return row + (sb / 8) * dtype_block_bytes(D);
  } else {
    *j = 0;
    return row + sb * dtype_block_bytes(D);
  }
}

template <DType D>
inline SubParams sub_params(const uint8_t* b, int j) {
  SubParams p;
  if constexpr (D == DType::kQ8_0) {
    p.scale[0] = p.scale[1] = half_at(b);
    p.offset[0] = p.offset[1] = 0.0f;
  } else if constexpr (D == DType::kQ4_0) {
    p.scale[0] = p.scale[1] = half_at(b);
    p.offset[0] = p.offset[1] = -8.0f * p.scale[0];
  } else if constexpr (D == DType::kQ4_1) {
    p.scale[0] = p.scale[1] = half_at(b);
    p.offset[0] = p.offset[1] = half_at(b + 2);
  } else if constexpr (D == DType::kQ4_K || D == DType::kQ5_K) {
    int sc, mn;
    k_scale_min(j, b + 4, &sc, &mn);
    p.scale[0] = p.scale[1] = half_at(b) * static_cast<float>(sc);
    p.offset[0] = p.offset[1] = -(half_at(b + 2) * static_cast<float>(mn));
  } else {
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = half_at(b + 208);
    for (int h = 0; h < 2; ++h) {
      p.scale[h] = d * static_cast<float>(sc[2 * j + h]);
      p.offset[h] = -32.0f * p.scale[h];
    }
  }
  return p;
}

// The 32 quants of sub-block j of block b, as bytes in element order.
template <DType D>
inline void unpack_scalar(const uint8_t* b, int j, uint8_t* q) {
  if constexpr (D == DType::kQ8_0) {
    std::memcpy(q, b + 2, kQK);
  } else if constexpr (D == DType::kQ4_0 || D == DType::kQ4_1) {
    const uint8_t* qs = b + (D == DType::kQ4_0 ? 2 : 4);
    for (int l = 0; l < 16; ++l) {
      q[l] = qs[l] & 0x0F;
      q[l + 16] = qs[l] >> 4;
    }
  } else if constexpr (D == DType::kQ4_K) {
    const uint8_t* qs = b + 16 + (j / 2) * 32;
    for (int l = 0; l < kQK; ++l) q[l] = (qs[l] >> (4 * (j % 2))) & 0x0F;
  } else if constexpr (D == DType::kQ5_K) {
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + 48 + (j / 2) * 32;
    for (int l = 0; l < kQK; ++l) {
      q[l] = static_cast<uint8_t>(((qs[l] >> (4 * (j % 2))) & 0x0F) | (((qh[l] >> j) & 1) << 4));
    }
  } else {
    const int half = j / 4, kk = j % 4;
    const uint8_t* l4 = b + half * 64 + 32 * (kk % 2);
    const uint8_t* h2 = b + 128 + half * 32;
    for (int l = 0; l < kQK; ++l) {
      q[l] = static_cast<uint8_t>(((l4[l] >> (4 * (kk / 2))) & 0x0F) |
                                  (((h2[l] >> (2 * kk)) & 0x03) << 4));
    }
  }
}

#if defined(__AVX2__)

inline __m256i load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

template <DType D>
inline __m256i unpack_avx2(const uint8_t* b, int j) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  if constexpr (D == DType::kQ8_0) {
    return load32(b + 2);
  } else if constexpr (D == DType::kQ4_0 || D == DType::kQ4_1) {
    const __m128i qs =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + (D == DType::kQ4_0 ? 2 : 4)));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), low4);
  } else if constexpr (D == DType::kQ4_K) {
    const __m256i qs = load32(b + 16 + (j / 2) * 32);
    return _mm256_and_si256(j % 2 ? _mm256_srli_epi16(qs, 4) : qs, low4);
  } else if constexpr (D == DType::kQ5_K) {
    const __m256i qs = load32(b + 48 + (j / 2) * 32);
    const __m256i lo = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(qs, 4) : qs, low4);
    const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(load32(b + 16), _mm_cvtsi32_si128(j)),
                                        _mm256_set1_epi8(1));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
  } else {
    const int half = j / 4, kk = j % 4;
    const __m256i l4 = load32(b + half * 64 + 32 * (kk % 2));
    const __m256i lo = _mm256_and_si256(kk / 2 ? _mm256_srli_epi16(l4, 4) : l4, low4);
    const __m256i hi =
        _mm256_and_si256(_mm256_srl_epi16(load32(b + 128 + half * 32), _mm_cvtsi32_si128(2 * kk)),
                         _mm256_set1_epi8(3));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
  }
}

// Eight int32 sums of four byte products each (lanes 0..3: elements 0..15, 4..7: 16..31): w
// unsigned (<= 63, so maddubs cannot saturate), a signed.
[[maybe_unused]] inline __m256i dot_u8s8(__m256i w, __m256i a) {
#if defined(SGLANG_QUANT_VNNI)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
#endif
}

template <DType D>
inline __m256i dot_block(__m256i w, const int8_t* aq) {  // one sub-block
  const __m256i a = load32(reinterpret_cast<const uint8_t*>(aq));
  if constexpr (D == DType::kQ8_0) {
    // Signed x signed: |w| times a with w's sign (|w| <= 128, |a| <= 127: no saturation).
    return dot_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
  } else {
    return dot_u8s8(w, a);
  }
}

[[maybe_unused]] inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#endif  // __AVX2__

#if defined(__AVX512F__)

inline __m512i load64(const int8_t* p) {
  return _mm512_loadu_si512(p);
}

// 16 int32 sums of four byte products each, for two sub-blocks side by side.
inline __m512i dot_u8s8_512(__m512i w, __m512i a) {
#if defined(SGLANG_QUANT_VNNI)
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, a);
#else
  return _mm512_madd_epi16(_mm512_maddubs_epi16(w, a), _mm512_set1_epi16(1));
#endif
}

template <DType D>
inline __m512i dot_block_512(__m512i w, __m512i a) {
  if constexpr (D == DType::kQ8_0) {
    // |w| times a negated where w < 0 (AVX-512 has no sign_epi8).
    const __mmask64 neg = _mm512_movepi8_mask(w);
    return dot_u8s8_512(_mm512_abs_epi8(w),
                        _mm512_mask_sub_epi8(a, neg, _mm512_setzero_si512(), a));
  } else {
    return dot_u8s8_512(w, a);
  }
}

// Two consecutive blocks' 64 quants (block a in the low half). For the 4-bit types each block's
// 16 bytes are broadcast into both 128-bit lanes of its half and the upper lanes shifted by 4:
// five instructions where two separate unpacks and an insert take nine.
template <DType D>
inline __m512i unpack_pair_512(const uint8_t* a, const uint8_t* b) {
  if constexpr (D == DType::kQ4_0 || D == DType::kQ4_1) {
    constexpr int kQs = D == DType::kQ4_0 ? 2 : 4;
    const __m256i ha =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + kQs)));
    const __m256i hb =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kQs)));
    const __m512i y = _mm512_inserti64x4(_mm512_castsi256_si512(ha), hb, 1);
    const __m512i shifted = _mm512_srlv_epi64(y, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0F));
  } else {
    return _mm512_inserti64x4(_mm512_castsi256_si512(unpack_avx2<D>(a, 0)), unpack_avx2<D>(b, 0),
                              1);
  }
}

inline float hsum512(__m512 v) {
  return _mm512_reduce_add_ps(v);
}

#endif  // __AVX512F__

[[maybe_unused]] inline void record_offsets(const SubParams& p, int64_t sb, float* woff) {
  woff[2 * sb] = p.offset[0];
  woff[2 * sb + 1] = p.offset[1];
}

#if defined(__AVX2__)
// The sub-block's scale for each int32 lane of its dot (lanes 0..3: elements 0..15).
[[maybe_unused]] inline __m256 scale_vec(const SubParams& p) {
  return _mm256_setr_m128(_mm_set1_ps(p.scale[0]), _mm_set1_ps(p.scale[1]));
}
#endif

// out[t, n] for rows [n0, n1) and NT tokens (act's rows t0 ..). woff: scratch of nsub * 2 floats
// where a row's offsets/minimums are collected for a dot with each token's block sums at the end.
template <DType D, int NT>
void rows_dot(const uint8_t* w, size_t row_bytes, const Acts& act, int64_t t0, int64_t n0,
              int64_t n1, const float* bias, float* out, int64_t out_stride, float* woff) {
  const int64_t nsub = act.nsub, k = act.k;
  const int8_t* aq = act.q.data() + t0 * k;
  const float* dexp = act.dexp.data() + t0 * nsub * 8;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + static_cast<size_t>(n) * row_bytes;
    int64_t sb = 0;
#if defined(__AVX512F__)
    __m512 acc16[NT];
    for (int t = 0; t < NT; ++t) acc16[t] = _mm512_setzero_ps();
    for (; sb + 2 <= nsub; sb += 2) {
      int j0 = 0, j1 = 0;
      const uint8_t* b0 = block_of<D>(row, sb, &j0);
      const uint8_t* b1 = block_of<D>(row, sb + 1, &j1);
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(unpack_avx2<D>(b0, j0)),
                                           unpack_avx2<D>(b1, j1), 1);
      const SubParams p0 = sub_params<D>(b0, j0), p1 = sub_params<D>(b1, j1);
      record_offsets(p0, sb, woff);
      record_offsets(p1, sb + 1, woff);
      const __m512 ws = _mm512_insertf32x8(_mm512_castps256_ps512(scale_vec(p0)), scale_vec(p1), 1);
      for (int t = 0; t < NT; ++t) {
        const __m512i dot = dot_block_512<D>(q, load64(aq + t * k + sb * kQK));
        acc16[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                                   _mm512_mul_ps(ws, _mm512_loadu_ps(dexp + t * nsub * 8 + sb * 8)),
                                   acc16[t]);
      }
    }
#endif
#if defined(__AVX2__)
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (; sb < nsub; ++sb) {
      int j = 0;
      const uint8_t* b = block_of<D>(row, sb, &j);
      const __m256i q = unpack_avx2<D>(b, j);
      const SubParams p = sub_params<D>(b, j);
      record_offsets(p, sb, woff);
      const __m256 ws = scale_vec(p);
      for (int t = 0; t < NT; ++t) {
        const __m256i dot = dot_block<D>(q, aq + t * k + sb * kQK);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                 _mm256_mul_ps(ws, _mm256_loadu_ps(dexp + t * nsub * 8 + sb * 8)),
                                 acc[t]);
      }
    }
#else
    float acc[NT] = {};
    for (; sb < nsub; ++sb) {
      int j = 0;
      uint8_t q[kQK];
      const uint8_t* b = block_of<D>(row, sb, &j);
      unpack_scalar<D>(b, j, q);
      const SubParams p = sub_params<D>(b, j);
      record_offsets(p, sb, woff);
      for (int t = 0; t < NT; ++t) {
        const int8_t* a = aq + t * k + sb * kQK;
        int32_t dot[2] = {0, 0};
        for (int l = 0; l < kQK; ++l) {
          const int wq = D == DType::kQ8_0 ? static_cast<int8_t>(q[l]) : q[l];
          dot[l / 16] += wq * a[l];
        }
        acc[t] += dexp[t * nsub * 8 + sb * 8] * (p.scale[0] * static_cast<float>(dot[0]) +
                                                 p.scale[1] * static_cast<float>(dot[1]));
      }
    }
#endif
    for (int t = 0; t < NT; ++t) {
      // The offsets and minimums: one small dot product per token with the block sums.
      float off = 0.0f;
      if constexpr (D == DType::kQ6_K) {
        const float* s16 = act.ds16.data() + (t0 + t) * nsub * 2;
        for (int64_t i = 0; i < 2 * nsub; ++i) off += woff[i] * s16[i];
      } else if constexpr (D != DType::kQ8_0) {
        const float* s = act.ds.data() + (t0 + t) * nsub;
        for (int64_t i = 0; i < nsub; ++i) off += woff[2 * i] * s[i];
      }
#if defined(__AVX2__)
      float sum = hsum(acc[t]);
#else
      float sum = acc[t];
#endif
#if defined(__AVX512F__)
      sum += hsum512(acc16[t]);
#endif
      out[t * out_stride + n] = sum + off + (bias ? bias[n] : 0.0f);
    }
  }
}

#if defined(__AVX2__)
// rows_dot for the one-scale 32-element blocks (Q8_0, Q4_0, Q4_1), the decode step's hot loop:
// the scales and minimums of a group of blocks (16 under AVX-512, 8 under AVX2) come in with one
// gather and one conversion, times the activations' scales in one product; each block then costs
// its unpack, one integer dot per token and one multiply-add whose per-lane scale is a permute of
// that product. The minimums (Q4_1) and the -8 offsets (Q4_0) meet the activations' block sums in
// one multiply-add per group, as vectors. Per token the arithmetic is the same whatever NT, so a
// token's result does not depend on the batch it is in.
template <DType D>
constexpr bool is_q32() {
  return D == DType::kQ8_0 || D == DType::kQ4_0 || D == DType::kQ4_1;
}

template <DType D, int NT>
void rows_dot32(const uint8_t* w, size_t row_bytes, const Acts& act, int64_t t0, int64_t n0,
                int64_t n1, const float* bias, float* out, int64_t out_stride) {
  const int64_t nsub = act.nsub, k = act.k;
  const int bb = static_cast<int>(dtype_block_bytes(D));
  const int8_t* aq = act.q.data() + t0 * k;
  const float* ad = act.d.data() + t0 * nsub;
  const float* ads = act.ds.data() + t0 * nsub;
#if defined(__AVX512F__)
  // With VNNI, Q8_0 is multiplied as (w + 128) * a, which vpdpbusd takes without the sign
  // juggling of dot_block_512 (no saturation: 4 * 255 * 127 fits an int32 lane), and the extra
  // 128 * sum(a) of each block leaves through the offset sum, as Q4_0's 8 does. maddubs would
  // saturate its int16 pairs at 255 * 127 * 2, so without VNNI the signed form stays.
#if defined(SGLANG_QUANT_VNNI)
  constexpr bool kQ8Biased = D == DType::kQ8_0;
#else
  constexpr bool kQ8Biased = false;
#endif
  constexpr int64_t kG = 16;
  const __m512i gidx =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(bb));
  // Lanes 0..7 take block 2p's scale, lanes 8..15 block 2p + 1's.
  const __m512i pair_sel = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + static_cast<size_t>(n) * row_bytes;
    __m512 acc[NT], off[NT];
    for (int t = 0; t < NT; ++t) acc[t] = off[t] = _mm512_setzero_ps();
    for (int64_t g0 = 0; g0 < nsub; g0 += kG) {
      const int64_t nb = std::min(kG, nsub - g0);
      const auto m = static_cast<__mmask16>(nb == kG ? 0xFFFF : (1u << nb) - 1);
      const uint8_t* gb = row + g0 * bb;
      // Each block's first 4 bytes: d (and m for Q4_1) as two halves.
      const __m512i raw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, gidx, gb, 1);
      const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(raw));
      __m512 sc[NT];
      for (int t = 0; t < NT; ++t) {
        sc[t] = _mm512_mul_ps(dw, _mm512_maskz_loadu_ps(m, ad + t * nsub + g0));
        const __m512 sums = _mm512_maskz_loadu_ps(m, ads + t * nsub + g0);
        if constexpr (D == DType::kQ4_1) {
          const __m512 mw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(raw, 16)));
          off[t] = _mm512_fmadd_ps(mw, sums, off[t]);
        } else if constexpr (D == DType::kQ4_0 || (D == DType::kQ8_0 && kQ8Biased)) {
          const float bias_q = D == DType::kQ4_0 ? -8.0f : -128.0f;
          off[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(bias_q)), sums, off[t]);
        }
      }
      for (int64_t p = 0; 2 * p < nb; ++p) {
        const uint8_t* b0 = gb + 2 * p * bb;
        const bool two = 2 * p + 1 < nb;
        const __m512i q =
            two ? unpack_pair_512<D>(b0, b0 + bb) : _mm512_zextsi256_si512(unpack_avx2<D>(b0, 0));
        // kQ8Biased: the Q8_0 quants as unsigned w + 128 (one xor), for vpdpbusd as they are.
        const __m512i qb = kQ8Biased ? _mm512_xor_si512(q, _mm512_set1_epi8(-128)) : q;
        const __mmask64 am = two ? ~__mmask64{0} : __mmask64{0xFFFFFFFF};
        const __m512i sel = _mm512_add_epi32(pair_sel, _mm512_set1_epi32(static_cast<int>(2 * p)));
        for (int t = 0; t < NT; ++t) {
          const __m512i a = _mm512_maskz_loadu_epi8(am, aq + t * k + (g0 + 2 * p) * kQK);
          const __m512i dot = kQ8Biased ? dot_u8s8_512(qb, a) : dot_block_512<D>(q, a);
          acc[t] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(sel, sc[t]), acc[t]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      out[t * out_stride + n] = hsum512(acc[t]) + hsum512(off[t]) + (bias ? bias[n] : 0.0f);
    }
  }
#else
  constexpr int64_t kG = 8;
  const __m256i gidx =
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(bb));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // Bytes 0-1 (d) or 2-3 (m) of each dword to the low 8 bytes of its 128-bit lane.
  const __m256i lo_half =
      _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9,
                       12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i hi_half =
      _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, 2, 3, 6, 7, 10,
                       11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1);
  const auto halves = [](__m256i raw, __m256i shuf) {
    const __m256i h = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(raw, shuf), 0x08);
    return _mm256_cvtph_ps(_mm256_castsi256_si128(h));
  };
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + static_cast<size_t>(n) * row_bytes;
    __m256 acc[NT], off[NT];
    for (int t = 0; t < NT; ++t) acc[t] = off[t] = _mm256_setzero_ps();
    for (int64_t g0 = 0; g0 < nsub; g0 += kG) {
      const int64_t nb = std::min(kG, nsub - g0);
      const __m256i mv = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nb)), lane);
      const uint8_t* gb = row + g0 * bb;
      const __m256i raw = _mm256_mask_i32gather_epi32(
          _mm256_setzero_si256(), reinterpret_cast<const int*>(gb), gidx, mv, 1);
      const __m256 dw = halves(raw, lo_half);
      __m256 sc[NT];
      for (int t = 0; t < NT; ++t) {
        sc[t] = _mm256_mul_ps(dw, _mm256_maskload_ps(ad + t * nsub + g0, mv));
        const __m256 sums = _mm256_maskload_ps(ads + t * nsub + g0, mv);
        if constexpr (D == DType::kQ4_1) {
          off[t] = _mm256_fmadd_ps(halves(raw, hi_half), sums, off[t]);
        } else if constexpr (D == DType::kQ4_0) {
          off[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(-8.0f)), sums, off[t]);
        }
      }
      for (int64_t b = 0; b < nb; ++b) {
        const __m256i q = unpack_avx2<D>(gb + b * bb, 0);
        const __m256i sel = _mm256_set1_epi32(static_cast<int>(b));
        for (int t = 0; t < NT; ++t) {
          const __m256i dot = dot_block<D>(q, aq + t * k + (g0 + b) * kQK);
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_permutevar8x32_ps(sc[t], sel),
                                   acc[t]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      out[t * out_stride + n] = hsum(acc[t]) + hsum(off[t]) + (bias ? bias[n] : 0.0f);
    }
  }
#endif
}
#endif  // __AVX2__

#if defined(__AVX2__)
// The super-block's scales, per 32-element sub-block for Q4_K/Q5_K (8 floats: d * scale, and the
// minimums as -dmin * min; the products as sub_params forms them), per 16 elements for Q6_K
// (16 floats: d * scale, two vectors of 8; its offsets are -32 times these).
template <DType D>
struct KScales {
  alignas(64) float sc[16];
  alignas(32) float mn[8];
};

template <DType D>
inline void k_scales(const uint8_t* b, KScales<D>* ks) {
  if constexpr (D == DType::kQ6_K) {
    const float d = half_at(b + 208);
    const __m256 dv = _mm256_set1_ps(d);
    const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192));
    _mm256_store_ps(ks->sc, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(s8))));
    _mm256_store_ps(
        ks->sc + 8,
        _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(s8, 8)))));
  } else {
    // k_scale_min for all 8 sub-blocks at once, four bytes per 32-bit word: bytes 0..3 of the
    // 12 hold the low scales (and their top 2 bits the high scales' bits 4..5), 4..7 the low
    // minimums (likewise), 8..11 the high scales' and minimums' low nibbles.
    uint32_t a[3];
    std::memcpy(a, b + 4, 12);
    const uint64_t sc =
        (a[0] & 0x3F3F3F3Fu) |
        static_cast<uint64_t>((a[2] & 0x0F0F0F0Fu) | (((a[0] >> 6) & 0x03030303u) << 4)) << 32;
    const uint64_t mn =
        (a[1] & 0x3F3F3F3Fu) |
        static_cast<uint64_t>(((a[2] >> 4) & 0x0F0F0F0Fu) | (((a[1] >> 6) & 0x03030303u) << 4))
            << 32;
    const auto widen = [](uint64_t v) {
      return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(v))));
    };
    _mm256_store_ps(ks->sc, _mm256_mul_ps(_mm256_set1_ps(half_at(b)), widen(sc)));
    // -(dmin * mn) as sub_params forms it (the product, then its sign).
    _mm256_store_ps(ks->mn, _mm256_xor_ps(_mm256_mul_ps(_mm256_set1_ps(half_at(b + 2)), widen(mn)),
                                          _mm256_set1_ps(-0.0f)));
  }
}

#if defined(__AVX512F__)
// rows_dot for the K-quants (Q4_K, Q5_K, Q6_K), the same idea as rows_dot32 per super-block: its
// scales decoded once into vectors (k_scales) and multiplied by the activations' 8 block scales in
// one product; each sub-block unpacked in registers (under AVX-512 two at a time: for Q4_K/Q5_K
// the low and high nibbles of the same 32 bytes, for Q6_K 64 contiguous low-nibble bytes) and
// multiplied with one integer dot per token; the minimums (Q4_K/Q5_K) and Q6_K's -32 offsets meet
// the activations' block sums in one multiply-add per super-block. Q6_K's 16-element scales are
// per pair of int32 lanes' groups: lanes 0..3 of a sub-block's dot hold elements 0..15.
template <DType D, int NT>
void rows_dot_kq(const uint8_t* w, size_t row_bytes, const Acts& act, int64_t t0, int64_t n0,
                 int64_t n1, const float* bias, float* out, int64_t out_stride) {
  constexpr bool kQ6 = D == DType::kQ6_K;
  const int64_t nsub = act.nsub, k = act.k, nsuper = nsub / 8;
  const size_t bb = dtype_block_bytes(D);
  const int8_t* aq = act.q.data() + t0 * k;
  const float* ad = act.d.data() + t0 * nsub;
  const float* ads = act.ds.data() + t0 * nsub;
  const float* ads16 = act.ds16.data() + t0 * nsub * 2;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // Lane l of a pair's dot takes scale sel + 2p (Q4_K/Q5_K: per sub-block) or + 4p (Q6_K).
  const __m512i sel0 = kQ6 ? _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)
                           : _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  // The activations' 8 block scales, each twice (Q6_K's 16-element halves).
  const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + static_cast<size_t>(n) * row_bytes;
    __m512 acc[NT], off[NT];
    for (int t = 0; t < NT; ++t) acc[t] = off[t] = _mm512_setzero_ps();
    for (int64_t sk = 0; sk < nsuper; ++sk) {
      const uint8_t* b = row + static_cast<size_t>(sk) * bb;
      KScales<D> ks;
      k_scales<D>(b, &ks);
      __m512 s[NT];
      if constexpr (kQ6) {
        const __m512 sc16 = _mm512_load_ps(ks.sc);
        const __m512 o16 = _mm512_mul_ps(sc16, _mm512_set1_ps(-32.0f));
        for (int t = 0; t < NT; ++t) {
          const __m512 a16 = _mm512_permutexvar_ps(
              dup, _mm512_castps256_ps512(_mm256_loadu_ps(ad + t * nsub + sk * 8)));
          s[t] = _mm512_mul_ps(sc16, a16);
          off[t] = _mm512_fmadd_ps(o16, _mm512_loadu_ps(ads16 + t * nsub * 2 + sk * 16), off[t]);
        }
      } else {
        const __m256 sc8 = _mm256_load_ps(ks.sc), mn8 = _mm256_load_ps(ks.mn);
        for (int t = 0; t < NT; ++t) {
          s[t] =
              _mm512_zextps256_ps512(_mm256_mul_ps(sc8, _mm256_loadu_ps(ad + t * nsub + sk * 8)));
          off[t] = _mm512_castps256_ps512(_mm256_fmadd_ps(
              mn8, _mm256_loadu_ps(ads + t * nsub + sk * 8), _mm512_castps512_ps256(off[t])));
        }
      }
      __m512i qh = _mm512_setzero_si512();
      if constexpr (D == DType::kQ5_K) qh = _mm512_broadcast_i64x4(load32(b + 16));
      for (int p = 0; p < 4; ++p) {
        __m512i q;
        if constexpr (kQ6) {
          // Sub-blocks 2p, 2p + 1: ql bytes [64 * (p / 2), + 64), nibble p % 2; qh bytes
          // [32 * (p / 2), + 32) (both halves), bit pairs 2 * (2p % 4) and 2 * (2p % 4) + 2.
          const __m512i ql = _mm512_loadu_si512(b + (p / 2) * 64);
          const __m512i lo = _mm512_and_si512(p % 2 ? _mm512_srli_epi16(ql, 4) : ql, low4);
          const __m512i h = _mm512_broadcast_i64x4(load32(b + 128 + (p / 2) * 32));
          const int sh = 4 * (p % 2);
          const __m512i hb = _mm512_and_si512(
              _mm512_srlv_epi64(h,
                                _mm512_setr_epi64(sh, sh, sh, sh, sh + 2, sh + 2, sh + 2, sh + 2)),
              _mm512_set1_epi8(3));
          q = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
        } else {
          const __m512i y =
              _mm512_broadcast_i64x4(load32(b + (D == DType::kQ5_K ? 48 : 16) + p * 32));
          q = _mm512_and_si512(_mm512_srlv_epi64(y, _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4)),
                               low4);
          if constexpr (D == DType::kQ5_K) {
            const __m512i hb = _mm512_and_si512(
                _mm512_srlv_epi64(qh, _mm512_setr_epi64(2 * p, 2 * p, 2 * p, 2 * p, 2 * p + 1,
                                                        2 * p + 1, 2 * p + 1, 2 * p + 1)),
                _mm512_set1_epi8(1));
            q = _mm512_or_si512(q, _mm512_slli_epi16(hb, 4));
          }
        }
        const __m512i sel = _mm512_add_epi32(sel0, _mm512_set1_epi32(kQ6 ? 4 * p : 2 * p));
        for (int t = 0; t < NT; ++t) {
          const __m512i dot = dot_u8s8_512(q, load64(aq + t * k + (sk * 8 + 2 * p) * kQK));
          acc[t] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(sel, s[t]), acc[t]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      out[t * out_stride + n] = hsum512(acc[t]) + hsum512(off[t]) + (bias ? bias[n] : 0.0f);
    }
  }
}
#else
template <DType D, int NT>
void rows_dot_kq(const uint8_t* w, size_t row_bytes, const Acts& act, int64_t t0, int64_t n0,
                 int64_t n1, const float* bias, float* out, int64_t out_stride) {
  constexpr bool kQ6 = D == DType::kQ6_K;
  const int64_t nsub = act.nsub, k = act.k, nsuper = nsub / 8;
  const size_t bb = dtype_block_bytes(D);
  const int8_t* aq = act.q.data() + t0 * k;
  const float* ad = act.d.data() + t0 * nsub;
  const float* ads = act.ds.data() + t0 * nsub;
  const float* ads16 = act.ds16.data() + t0 * nsub * 2;
  // The activations' block scales 0..3 (4..7) each twice, for Q6_K's 16-element halves.
  const __m256i dup_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i dup_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + static_cast<size_t>(n) * row_bytes;
    __m256 acc[NT], off[NT];
    for (int t = 0; t < NT; ++t) acc[t] = off[t] = _mm256_setzero_ps();
    for (int64_t sk = 0; sk < nsuper; ++sk) {
      const uint8_t* b = row + static_cast<size_t>(sk) * bb;
      KScales<D> ks;
      k_scales<D>(b, &ks);
      __m256 s[NT], s_hi[NT];
      if constexpr (kQ6) {
        const __m256 lo = _mm256_load_ps(ks.sc), hi = _mm256_load_ps(ks.sc + 8);
        const __m256 m32 = _mm256_set1_ps(-32.0f);
        for (int t = 0; t < NT; ++t) {
          const __m256 a8 = _mm256_loadu_ps(ad + t * nsub + sk * 8);
          s[t] = _mm256_mul_ps(lo, _mm256_permutevar8x32_ps(a8, dup_lo));
          s_hi[t] = _mm256_mul_ps(hi, _mm256_permutevar8x32_ps(a8, dup_hi));
          const float* s16 = ads16 + t * nsub * 2 + sk * 16;
          off[t] = _mm256_fmadd_ps(_mm256_mul_ps(lo, m32), _mm256_loadu_ps(s16), off[t]);
          off[t] = _mm256_fmadd_ps(_mm256_mul_ps(hi, m32), _mm256_loadu_ps(s16 + 8), off[t]);
        }
      } else {
        const __m256 sc8 = _mm256_load_ps(ks.sc), mn8 = _mm256_load_ps(ks.mn);
        for (int t = 0; t < NT; ++t) {
          s[t] = _mm256_mul_ps(sc8, _mm256_loadu_ps(ad + t * nsub + sk * 8));
          off[t] = _mm256_fmadd_ps(mn8, _mm256_loadu_ps(ads + t * nsub + sk * 8), off[t]);
          s_hi[t] = s[t];
        }
      }
      for (int j = 0; j < 8; ++j) {
        const __m256i q = unpack_avx2<D>(b, j);
        // Q4_K/Q5_K: every lane takes sub-block j's scale; Q6_K: lanes 0..3 its first half's.
        const __m256i sel = kQ6 ? _mm256_setr_epi32(2 * (j % 4), 2 * (j % 4), 2 * (j % 4),
                                                    2 * (j % 4), 2 * (j % 4) + 1, 2 * (j % 4) + 1,
                                                    2 * (j % 4) + 1, 2 * (j % 4) + 1)
                                : _mm256_set1_epi32(j);
        for (int t = 0; t < NT; ++t) {
          const __m256i dot = dot_u8s8(
              q, load32(reinterpret_cast<const uint8_t*>(aq + t * k + (sk * 8 + j) * kQK)));
          const __m256 sv = kQ6 && j >= 4 ? s_hi[t] : s[t];
          acc[t] =
              _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_permutevar8x32_ps(sv, sel), acc[t]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      out[t * out_stride + n] = hsum(acc[t]) + hsum(off[t]) + (bias ? bias[n] : 0.0f);
    }
  }
}
#endif  // __AVX512F__
#endif  // __AVX2__

// Whether D's rows go through rows_dot (which needs the offsets scratch) on this ISA.
template <DType D>
constexpr bool uses_rows_dot() {
#if defined(__AVX2__)
  return !is_q32<D>() && !is_k_quant(D);
#else
  return true;
#endif
}

// The row kernel for D and NT tokens: rows_dot32 / rows_dot_kq where they exist, else rows_dot.
template <DType D, int NT>
inline void rows_any(const uint8_t* w, size_t row_bytes, const Acts& act, int64_t t0, int64_t n0,
                     int64_t n1, const float* bias, float* out, int64_t out_stride, float* woff) {
  if constexpr (uses_rows_dot<D>()) {
    rows_dot<D, NT>(w, row_bytes, act, t0, n0, n1, bias, out, out_stride, woff);
  } else {
    (void)woff;
#if defined(__AVX2__)
    if constexpr (is_k_quant(D)) {
      rows_dot_kq<D, NT>(w, row_bytes, act, t0, n0, n1, bias, out, out_stride);
    } else {
      rows_dot32<D, NT>(w, row_bytes, act, t0, n0, n1, bias, out, out_stride);
    }
#endif
  }
}

constexpr int kMaxGroup = 8;  // tokens whose accumulators stay in registers together

template <DType D>
void rows_dot_group(int nt, const uint8_t* w, size_t row_bytes, const Acts& act, int64_t t0,
                    int64_t n0, int64_t n1, const float* bias, float* out, int64_t out_stride,
                    float* woff) {
  switch (nt) {
#define SGLANG_QUANT_CASE(NT) \
  case NT:                    \
    return rows_any<D, NT>(w, row_bytes, act, t0, n0, n1, bias, out, out_stride, woff);
    SGLANG_QUANT_CASE(1)
    SGLANG_QUANT_CASE(2)
    SGLANG_QUANT_CASE(3)
    SGLANG_QUANT_CASE(4)
    SGLANG_QUANT_CASE(5)
    SGLANG_QUANT_CASE(6)
    SGLANG_QUANT_CASE(7)
#undef SGLANG_QUANT_CASE
    default:
      return rows_any<D, 8>(w, row_bytes, act, t0, n0, n1, bias, out, out_stride, woff);
  }
}

constexpr int64_t kRowChunk = 16;  // output rows per register pass of the integer path
// Multiply-adds per chunk of the worker pool (thread_pool.h): a few microseconds of work, so that
// claiming a chunk (one compare-and-swap on a shared line) costs little beside it while a 2-thread
// step still splits into enough chunks to balance.
constexpr int64_t kChunkMacs = 1 << 16;

template <DType D>
void linear_int8(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& pw,
                 const float* bias, float* out, int64_t out_stride) {
  const int64_t k = pw.k;
  const size_t row_bytes = dtype_row_bytes(D, k);
  const auto* w = static_cast<const uint8_t*>(pw.data);
  // Reused across calls: a decode step quantizes a few rows per linear. The workers read the
  // calling thread's instance through this reference (naming the thread_local inside the chunk
  // would give each thread its own, empty one).
  thread_local Acts acts;
  const Acts& act = acts;
  quantize_rows(x, x_stride, tokens, k, &acts);
  const int64_t chunks = (pw.n + kRowChunk - 1) / kRowChunk;
  // Whole kRowChunk groups per pool chunk, about kChunkMacs each; one chunk (the calling thread
  // alone) for a matrix too small to share.
  const int64_t grain =
      pw.n * k >= (1 << 15) ? std::max<int64_t>(1, kChunkMacs / (kRowChunk * k * tokens)) : chunks;
  parallel_for(chunks, grain, [&](int64_t c0, int64_t c1) {
    // rows_dot's offsets scratch; rows_dot32 (the one-scale blocks) needs none, so a decode step
    // of the default model allocates nothing here.
    thread_local std::vector<float> woff;
    if (uses_rows_dot<D>()) woff.resize(static_cast<size_t>(act.nsub * 2));
    const int64_t n0 = c0 * kRowChunk, n1 = std::min(pw.n, c1 * kRowChunk);
    for (int64_t t0 = 0; t0 < tokens; t0 += kMaxGroup) {
      const int nt = static_cast<int>(std::min<int64_t>(kMaxGroup, tokens - t0));
      rows_dot_group<D>(nt, w, row_bytes, act, t0, n0, n1, bias, out + t0 * out_stride, out_stride,
                        woff.data());
    }
  });
}

// Sub-blocks [sb0, sb0 + count) of a row to float: weight = scale * q + offset per sub-block (the
// dequantization's values up to one rounding: a fused multiply-add where gguf_dequant.cpp rounds
// the product first).
template <DType D>
void dequant_row(const uint8_t* row, int64_t sb0, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t sb = sb0 + i;
    int j = 0;
    const uint8_t* b = block_of<D>(row, sb, &j);
    const SubParams p = sub_params<D>(b, j);
    float* o = out + i * kQK;
#if defined(__AVX2__)
    const __m256i q = unpack_avx2<D>(b, j);
    alignas(32) uint8_t bytes[kQK];
    _mm256_store_si256(reinterpret_cast<__m256i*>(bytes), q);
    for (int g = 0; g < 4; ++g) {
      const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + 8 * g));
      const __m256i q32 = D == DType::kQ8_0 ? _mm256_cvtepi8_epi32(q8) : _mm256_cvtepu8_epi32(q8);
      _mm256_storeu_ps(o + 8 * g,
                       _mm256_fmadd_ps(_mm256_set1_ps(p.scale[g / 2]), _mm256_cvtepi32_ps(q32),
                                       _mm256_set1_ps(p.offset[g / 2])));
    }
#else
    uint8_t q[kQK];
    unpack_scalar<D>(b, j, q);
    for (int l = 0; l < kQK; ++l) {
      const float v = D == DType::kQ8_0 ? static_cast<float>(static_cast<int8_t>(q[l]))
                                        : static_cast<float>(q[l]);
      o[l] = p.scale[l / 16] * v + p.offset[l / 16];
    }
#endif
  }
}

struct QuantRows {
  const uint8_t* w;
  size_t row_bytes;
};

// gemm_blocked's widen callback: rows [n0, n0 + rows), columns [k0, k0 + kc) dequantized into
// 16-row sub-panels ([kc][16]). Called once per (row group, K block) of a call, so each weight
// block is unpacked once per call whatever the token count.
template <DType D>
void widen_quant(const void* ctx, int64_t n0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  const QuantRows& qr = *static_cast<const QuantRows*>(ctx);
  thread_local std::vector<float> tmp;
  tmp.resize(static_cast<size_t>(kPanelRows * kc));
  for (int64_t s = 0; s * kPanelRows < rows; ++s) {
    const int64_t r_end = std::min<int64_t>(kPanelRows, rows - s * kPanelRows);
    for (int64_t r = 0; r < r_end; ++r) {
      dequant_row<D>(qr.w + static_cast<size_t>(n0 + s * kPanelRows + r) * qr.row_bytes, k0 / kQK,
                     kc / kQK, tmp.data() + r * kc);
    }
    // Rows to the sub-panel layout [kc][16].
    float* d = dst + s * kc * kPanelRows;
    for (int64_t kk = 0; kk < kc; ++kk) {
      for (int64_t r = 0; r < r_end; ++r) d[kk * kPanelRows + r] = tmp[r * kc + kk];
    }
  }
}

template <DType D>
void linear_dequant(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& pw,
                    const float* bias, float* out, int64_t out_stride) {
  const int64_t k = pw.k;
  // The activations rounded exactly as the integer path rounds them (quantize_row), so that a
  // product does not depend on how many tokens share the call: a prompt computed whole and the
  // same prompt's last few tokens after a radix-cache hit see the same numbers, and a repeated
  // greedy request repeats its output and logprobs (llama.cpp also rounds every quantized
  // matmul's activations to 8 bits).
  thread_local Acts acts;
  thread_local std::vector<float> rounded_rows;
  quantize_rows(x, x_stride, tokens, k, &acts);
  rounded_rows.resize(static_cast<size_t>(tokens * k));
  for (int64_t t = 0; t < tokens; ++t) {
    const int8_t* q = acts.q.data() + t * k;
    const float* dexp = acts.dexp.data() + t * acts.nsub * 8;
    float* r = rounded_rows.data() + t * k;
    for (int64_t i = 0; i < k; ++i) r[i] = dexp[(i / kQK) * 8] * static_cast<float>(q[i]);
  }
  const QuantRows qr{static_cast<const uint8_t*>(pw.data), dtype_row_bytes(pw.dtype, k)};
  SGLANG_BLOCKED_GEMM(rounded_rows.data(), k, tokens, pw.n, k, &widen_quant<D>, &qr, bias, out,
                      out_stride);
}

#if defined(SGLANG_QUANT_VNNI)
// The prefill path under AVX-512 VNNI: an integer GEMM of the int8 activations (quantize_rows)
// with the weights' quants, vpdpbusd doing 64 byte products per instruction where the float
// microkernel's FMA does 16 (see the top of the file).
//
// A group of kIgRows weight rows and a K block of columns is unpacked once per call (as
// widen_quant is) into unsigned bytes in vpdpbusd's layout, [kc / 4][kIgRows][4]: the 4 bytes of
// lane r are 4 consecutive columns of row r, so one 64-byte load holds 16 rows' next 4 columns and
// a token's 4 activation bytes are one 32-bit broadcast. Per (sub-block, row) it keeps the float
// scale and offset with weight = scale * q + offset: q is made unsigned for every format (Q8_0 as
// q + 128 with offset -128 d, Q4_0's offset -8 d, Q4_1's minimum m, the K-quants' -dmin * min,
// Q6_K's -32 d * scale), so one multiply-add form covers them all.
constexpr int64_t kIgRows = 32;  // two vectors of 16 int32 lanes
// Tokens per register tile: 6 x 2 int32 accumulators of the current sub-block, 6 x 2 float ones
// of the whole K block, 2 weight vectors and the sub-block's scales: ~30 of the 32 registers.
constexpr int kIgMr = 6;
// Columns per K block: the panel (32 rows x kc bytes, 24 KB at most) stays in L1 while every
// token block streams its activations past it.
constexpr int64_t kIgMaxKc = 768;

// Elements per scale: 32, Q6_K 16 (its scales are per 16 elements).
template <DType D>
constexpr int sub_len() {
  return D == DType::kQ6_K ? 16 : 32;
}

struct IgPanel {
  std::vector<uint8_t> q;     // [kc / 4][kIgRows][4]
  std::vector<float> scale;   // [kc / L][kIgRows]
  std::vector<float> offset;  // [kc / L][kIgRows]
  std::vector<uint8_t> rows;  // scratch: [kIgRows][kc], each row's quants in element order
};

// 16 rows' 32 bytes (row i at src[i], 8 dwords each) to vpdpbusd's layout: dst + c * stride holds
// dword c of rows 0..15. Rows i and i + 8 share a vector; two rounds of interleaves transpose each
// 4 x 4 block of dwords in a 128-bit lane, and one two-source permute per output puts the lanes
// in row order.
inline void transpose16x8(const uint8_t* const* src, uint8_t* dst, int64_t stride) {
  __m512i z[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) {
    z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(load32(src[i])), load32(src[i + 8]), 1);
  }
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
  }
  // u[4 * g + c]: lane 0 rows 4g..4g+3 of dword c, lane 1 of dword c + 4, lanes 2, 3 rows + 8.
  for (int g = 0; g < 2; ++g) {
    u[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int c = 0; c < 4; ++c) {
    _mm512_storeu_si512(dst + c * stride, _mm512_permutex2var_epi64(u[c], lo, u[4 + c]));
    _mm512_storeu_si512(dst + (c + 4) * stride, _mm512_permutex2var_epi64(u[c], hi, u[4 + c]));
  }
}

// Rows [n0, n0 + rows) (rows <= kIgRows; the rest of the group is zero weights), columns
// [k0, k0 + kc) into p. The bits of each format are the decode path's: unpack_avx2, and
// sub_params (k_scales for the K-quants' super-blocks).
template <DType D>
void unpack_panel(const uint8_t* w, size_t row_bytes, int64_t n0, int64_t rows, int64_t k0,
                  int64_t kc, IgPanel* p) {
  constexpr int L = sub_len<D>();
  constexpr int kPer = kQK / L;  // scales per 32-element sub-block
  const int64_t nsb = kc / kQK;
  const size_t bb = dtype_block_bytes(D);
  p->q.resize(static_cast<size_t>(kc * kIgRows));
  p->scale.resize(static_cast<size_t>(nsb * kPer * kIgRows));
  p->offset.resize(p->scale.size());
  p->rows.resize(static_cast<size_t>(kc * kIgRows));
  for (int64_t r = 0; r < kIgRows; ++r) {
    uint8_t* qr = p->rows.data() + r * kc;
    float* sc = p->scale.data() + r;  // [sub][kIgRows]
    float* of = p->offset.data() + r;
    if (r >= rows) {
      std::memset(qr, 0, static_cast<size_t>(kc));
      for (int64_t i = 0; i < nsb * kPer; ++i) sc[i * kIgRows] = of[i * kIgRows] = 0.0f;
      continue;
    }
    const uint8_t* row = w + static_cast<size_t>(n0 + r) * row_bytes;
    if constexpr (is_k_quant(D)) {
      for (int64_t sk = 0; sk < nsb / 8; ++sk) {
        const uint8_t* b = row + static_cast<size_t>(k0 / 256 + sk) * bb;
        KScales<D> ks;
        k_scales<D>(b, &ks);
        for (int j = 0; j < 8; ++j) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + (sk * 8 + j) * kQK),
                              unpack_avx2<D>(b, j));
        }
        for (int i = 0; i < 8 * kPer; ++i) {
          const int64_t at = (sk * 8 * kPer + i) * kIgRows;
          sc[at] = ks.sc[i];
          of[at] = D == DType::kQ6_K ? -32.0f * ks.sc[i] : ks.mn[i];
        }
      }
    } else {
      for (int64_t s = 0; s < nsb; ++s) {
        const uint8_t* b = row + static_cast<size_t>(k0 / kQK + s) * bb;
        __m256i q = unpack_avx2<D>(b, 0);
        SubParams sp = sub_params<D>(b, 0);
        if constexpr (D == DType::kQ8_0) {
          // q + 128 as unsigned bytes (one xor), its 128 * scale leaving through the offset.
          q = _mm256_xor_si256(q, _mm256_set1_epi8(-128));
          sp.offset[0] = -128.0f * sp.scale[0];
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + s * kQK), q);
        sc[s * kIgRows] = sp.scale[0];
        of[s * kIgRows] = sp.offset[0];
      }
    }
  }
  // Rows to vpdpbusd's layout: panel dword (s * 8 + c) * kIgRows + r = row r's dword s * 8 + c.
  for (int64_t s = 0; s < nsb; ++s) {
    for (int h = 0; h < 2; ++h) {
      const uint8_t* src[16];
      for (int i = 0; i < 16; ++i) src[i] = p->rows.data() + (h * 16 + i) * kc + s * kQK;
      transpose16x8(src, p->q.data() + (s * 8 * kIgRows + h * 16) * 4, kIgRows * 4);
    }
  }
}

// The activations of a call packed per token block of kIgMr tokens, so that a microkernel reads
// one sequential stream: q [tblocks][k / 4][kIgMr][4] (a token's 4 bytes for one vpdpbusd step
// side by side with the block's other tokens'), d [tblocks][k / 32][kIgMr] (the per-32 scales),
// ds [tblocks][k / L][kIgMr] (d * sum(q) per L elements, what the offsets multiply). Tokens past
// the last are zeros.
struct IgActs {
  std::vector<uint8_t> q;
  std::vector<float> d, ds;
};

template <int L>
void pack_acts(const Acts& act, int64_t tokens, IgActs* p) {
  const int64_t k = act.k, nsub = act.nsub, nsl = k / L;
  const int64_t tblocks = (tokens + kIgMr - 1) / kIgMr;
  p->q.resize(static_cast<size_t>(tblocks * kIgMr * k));
  p->d.resize(static_cast<size_t>(tblocks * kIgMr * nsub));
  p->ds.resize(static_cast<size_t>(tblocks * kIgMr * nsl));
  const float* sums = L == kQK ? act.ds.data() : act.ds16.data();
  parallel_for(tblocks, 8, [&](int64_t b0, int64_t b1) {
    for (int64_t tb = b0; tb < b1; ++tb) {
      uint8_t* q = p->q.data() + tb * kIgMr * k;
      float* d = p->d.data() + tb * kIgMr * nsub;
      float* ds = p->ds.data() + tb * kIgMr * nsl;
      for (int t = 0; t < kIgMr; ++t) {
        const int64_t tok = tb * kIgMr + t;
        if (tok >= tokens) {
          for (int64_t c = 0; c < k / 4; ++c) std::memset(q + (c * kIgMr + t) * 4, 0, 4);
          for (int64_t i = 0; i < nsub; ++i) d[i * kIgMr + t] = 0.0f;
          for (int64_t i = 0; i < nsl; ++i) ds[i * kIgMr + t] = 0.0f;
          continue;
        }
        const int8_t* src = act.q.data() + tok * k;
        for (int64_t c = 0; c < k / 4; ++c) std::memcpy(q + (c * kIgMr + t) * 4, src + c * 4, 4);
        for (int64_t i = 0; i < nsub; ++i) d[i * kIgMr + t] = act.d[tok * nsub + i];
        for (int64_t i = 0; i < nsl; ++i) ds[i * kIgMr + t] = sums[tok * nsl + i];
      }
    }
  });
}

// Where the last K block's sums go: out[t, 0 .. rows) (+ bias[0 .. rows)) for the block's tokens,
// the group's first column.
struct IgOut {
  float* out;
  int64_t out_stride;
  const float* bias;
  int64_t rows;
};

// MR tokens x kIgRows rows over one K block of nsl sub-blocks of L: q, d, ds the token block's
// packed activations at the K block's first column (IgActs), c the block's C tile
// ([MR][kIgRows]) between K blocks: read unless `first`, written unless `last` (the last K block
// writes the outputs, plus bias, in place of a separate pass over them). Per sub-block the exact
// int32 dots of the unsigned weight quants with the int8 activations, then in float:
// c += (dot * d_act) * scale_w + offset_w * ds_act, sub-block after sub-block, so each output's
// sum has the same order whatever the token block, K block or thread.
template <int MR, int L>
void igemm_micro(const uint8_t* q, const float* d, const float* ds, const IgPanel& p, int64_t nsl,
                 float* c, bool first, const IgOut* last) {
  __m512 f[MR][2];
  for (int t = 0; t < MR; ++t) {
    for (int v = 0; v < 2; ++v) {
      f[t][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + t * kIgRows + v * 16);
    }
  }
  const uint8_t* pq = p.q.data();
  for (int64_t s = 0; s < nsl; ++s) {
    __m512i acc[MR][2];
    for (int t = 0; t < MR; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_si512();
      // Unrolled whole, so the accumulators stay put in registers (GCC otherwise keeps the loop
      // and copies all 12 between the iterations).
#pragma GCC unroll 8
    for (int st = 0; st < L / 4; ++st) {
      const uint8_t* wp = pq + (s * (L / 4) + st) * kIgRows * 4;
      const __m512i w0 = _mm512_loadu_si512(wp), w1 = _mm512_loadu_si512(wp + 64);
      for (int t = 0; t < MR; ++t) {
        int32_t a4;
        std::memcpy(&a4, q + ((s * (L / 4) + st) * kIgMr + t) * 4, 4);
        const __m512i b = _mm512_set1_epi32(a4);
        acc[t][0] = _mm512_dpbusd_epi32(acc[t][0], w0, b);
        acc[t][1] = _mm512_dpbusd_epi32(acc[t][1], w1, b);
      }
    }
    const __m512 sc0 = _mm512_loadu_ps(p.scale.data() + s * kIgRows);
    const __m512 sc1 = _mm512_loadu_ps(p.scale.data() + s * kIgRows + 16);
    const __m512 of0 = _mm512_loadu_ps(p.offset.data() + s * kIgRows);
    const __m512 of1 = _mm512_loadu_ps(p.offset.data() + s * kIgRows + 16);
    for (int t = 0; t < MR; ++t) {
      const __m512 dv = _mm512_set1_ps(d[((s * L) / kQK) * kIgMr + t]);
      const __m512 sv = _mm512_set1_ps(ds[s * kIgMr + t]);
      f[t][0] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[t][0]), dv), sc0, f[t][0]);
      f[t][1] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[t][1]), dv), sc1, f[t][1]);
      f[t][0] = _mm512_fmadd_ps(of0, sv, f[t][0]);
      f[t][1] = _mm512_fmadd_ps(of1, sv, f[t][1]);
    }
  }
  if (last == nullptr) {
    for (int t = 0; t < MR; ++t) {
      for (int v = 0; v < 2; ++v) _mm512_storeu_ps(c + t * kIgRows + v * 16, f[t][v]);
    }
    return;
  }
  for (int v = 0; v < 2; ++v) {
    const int64_t valid = std::clamp<int64_t>(last->rows - 16 * v, 0, 16);
    const auto m = static_cast<__mmask16>((1u << valid) - 1);
    const __m512 b =
        last->bias ? _mm512_maskz_loadu_ps(m, last->bias + 16 * v) : _mm512_setzero_ps();
    for (int t = 0; t < MR; ++t) {
      _mm512_mask_storeu_ps(last->out + t * last->out_stride + 16 * v, m,
                            _mm512_add_ps(f[t][v], b));
    }
  }
}

using IgMicroFn = void (*)(const uint8_t*, const float*, const float*, const IgPanel&, int64_t,
                           float*, bool, const IgOut*);

template <int L, size_t... I>
constexpr std::array<IgMicroFn, sizeof...(I)> igemm_table(std::index_sequence<I...>) {
  return {&igemm_micro<static_cast<int>(I) + 1, L>...};
}
// kIgMicro<L>[mr - 1]: the microkernel for a (last) token block of mr tokens.
template <int L>
constexpr auto kIgMicro = igemm_table<L>(std::make_index_sequence<kIgMr>{});

template <DType D>
void linear_igemm(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& pw,
                  const float* bias, float* out, int64_t out_stride) {
  constexpr int L = sub_len<D>();
  const int64_t k = pw.k, n = pw.n;
  // The calling thread's instances, read by the workers through the reference (as linear_int8).
  thread_local Acts acts;
  thread_local IgActs packed;
  quantize_rows(x, x_stride, tokens, k, &acts);
  pack_acts<L>(acts, tokens, &packed);
  const IgActs& pa = packed;
  const size_t row_bytes = dtype_row_bytes(D, k);
  const auto* w = static_cast<const uint8_t*>(pw.data);
  // About equal K blocks of whole blocks (K-quants: super-blocks), kIgMaxKc at most where K allows.
  const int64_t align = is_k_quant(D) ? 256 : kQK;
  const int64_t kblocks = (k + kIgMaxKc - 1) / kIgMaxKc;
  const int64_t kc_max = ((k + kblocks - 1) / kblocks + align - 1) / align * align;
  const int64_t groups = (n + kIgRows - 1) / kIgRows;
  const int64_t tblocks = (tokens + kIgMr - 1) / kIgMr;
  // One group per pool chunk (a group is kIgRows * K * tokens multiply-adds: ~100 us at 512
  // tokens), claimed one at a time so a late thread costs no more than a chunk; one chunk for a
  // matrix too small to share.
  const int64_t grain = n * k * tokens >= (1 << 16) ? 1 : groups;
  parallel_for(groups, grain, [&](int64_t g0, int64_t g1) {
    thread_local IgPanel panel;
    thread_local std::vector<float> ctile;  // [tblocks * kIgMr][kIgRows], between K blocks
    ctile.resize(static_cast<size_t>(tblocks * kIgMr * kIgRows));
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t n0 = g * kIgRows, rows = std::min(kIgRows, n - n0);
      for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
        const int64_t kc = std::min(kc_max, k - k0);
        unpack_panel<D>(w, row_bytes, n0, rows, k0, kc, &panel);
        for (int64_t tb = 0; tb < tblocks; ++tb) {
          const int64_t t0 = tb * kIgMr;
          const int mr = static_cast<int>(std::min<int64_t>(kIgMr, tokens - t0));
          const IgOut dst{out + t0 * out_stride + n0, out_stride, bias ? bias + n0 : nullptr, rows};
          kIgMicro<L>[mr - 1](pa.q.data() + t0 * k + k0 * kIgMr,
                              pa.d.data() + (t0 * (k / kQK) + (k0 / kQK) * kIgMr),
                              pa.ds.data() + (t0 * (k / L) + (k0 / L) * kIgMr), panel, kc / L,
                              ctile.data() + t0 * kIgRows, k0 == 0, k0 + kc < k ? nullptr : &dst);
        }
      }
    }
  });
}
#endif  // SGLANG_QUANT_VNNI

// Up to this many tokens the decode path is faster (it reads the weights once and unpacks them
// in registers); beyond, unpacking each panel once per call and reusing it for all tokens is.
// Measured (bench/quant_linear.cpp, one thread, CPU time, this 2-core Xeon, 2026-12-02):
// - Dequantized float panels (no VNNI): for SmolLM2's gate_up [3072, 576] Q4_1 the decode path
//   costs ~76 us per token, the panel path ~480 us of dequantization plus ~47 us per token, so
//   they cross near 16 tokens; the Q8_0 head [49152, 576] favours the decode path up to ~32.
// - The VNNI integer GEMM (two runs, both paths forced at 2..12 tokens): the decode path is ahead
//   at 4 tokens for down [576, 1536] Q4_1 (75 vs 100 us) and the Q8_0 head, level at 5-6, behind
//   from 6 for gate_up Q4_1, Q4_K and Q5_K (at 8 tokens gate_up Q4_1 230 vs 315 us); Q6_K, whose
//   16-element scales double the GEMM's per-sub-block work, stays ahead up to 6 and level at 8.
template <DType D>
constexpr int64_t int8_max_tokens() {
#if defined(SGLANG_QUANT_VNNI)
  return D == DType::kQ6_K ? 8 : 4;
#else
  return 16;
#endif
}

template <DType D>
void linear_q(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& pw,
              const float* bias, float* out, int64_t out_stride) {
  if (tokens <= int8_max_tokens<D>()) {
    linear_int8<D>(x, x_stride, tokens, pw, bias, out, out_stride);
  } else {
#if defined(SGLANG_QUANT_VNNI)
    linear_igemm<D>(x, x_stride, tokens, pw, bias, out, out_stride);
#else
    linear_dequant<D>(x, x_stride, tokens, pw, bias, out, out_stride);
#endif
  }
}

}  // namespace

void quant_linear(const float* x, int64_t x_stride, int64_t tokens, const PackedWeight& w,
                  const float* bias, float* out, int64_t out_stride) {
  if (tokens <= 0 || w.n <= 0) return;
#if defined(__AVX512F__) && !defined(SGLANG_QUANT_VNNI)
  // SGLANG_CPU_VNNI=0 keeps maddubs (for comparisons).
  static const bool vnni =
      __builtin_cpu_supports("avx512vnni") &&
      !(std::getenv("SGLANG_CPU_VNNI") && std::getenv("SGLANG_CPU_VNNI")[0] == '0');
  if (vnni) return isa_avx512vnni::quant_linear(x, x_stride, tokens, w, bias, out, out_stride);
#endif
  switch (w.dtype) {
    case DType::kQ8_0:
      return linear_q<DType::kQ8_0>(x, x_stride, tokens, w, bias, out, out_stride);
    case DType::kQ4_0:
      return linear_q<DType::kQ4_0>(x, x_stride, tokens, w, bias, out, out_stride);
    case DType::kQ4_1:
      return linear_q<DType::kQ4_1>(x, x_stride, tokens, w, bias, out, out_stride);
    case DType::kQ4_K:
      return linear_q<DType::kQ4_K>(x, x_stride, tokens, w, bias, out, out_stride);
    case DType::kQ5_K:
      return linear_q<DType::kQ5_K>(x, x_stride, tokens, w, bias, out, out_stride);
    default:
      return linear_q<DType::kQ6_K>(x, x_stride, tokens, w, bias, out, out_stride);
  }
}

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
