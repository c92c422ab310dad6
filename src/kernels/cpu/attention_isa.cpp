// attention() and store_kv() of the CPU backend: flash-style paged attention over an f32, bf16 or
// fp16 KV cache. Compiled once per ISA like gemm_isa.cpp, with GCC vector extensions at the
// native width.
//
// Why this shape (the FlashAttention-2 algorithm, written for a CPU cache instead of GPU SRAM):
// - One work item is (sequence, KV head, block of query tokens, range of keys). Its rows are the
//   block's tokens times the query heads of that KV head's group, so each key block is read once
//   from the cache for all heads that share it (GQA) and all tokens of the block.
// - Keys are visited in blocks of kKeyBlock, widened to float32 once per block (K transposed, so
//   scores are a small register-blocked GEMM, SIMD over keys; V row-major, SIMD over head_dim) and
//   the softmax is online (running max and sum per row), so no T x T score buffer exists and the
//   working set (a few tens of KiB) stays in L1/L2 however long the context.
// - A decode step has few items (one token per sequence): its key range is split over the threads
//   and the partial results merged with their log-sum-exp weights (flash-decoding).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/cpu/attention_isa.h"
#include "kernels/cpu/cpu_kernels.h"
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
typedef float fvec __attribute__((vector_size(kLanes * 4)));
typedef int32_t ivec __attribute__((vector_size(kLanes * 4)));
typedef uint32_t uvec __attribute__((vector_size(kLanes * 4)));
typedef uint16_t hvec __attribute__((vector_size(kLanes * 2)));

constexpr int64_t kKeyBlock = 64;         // keys per block (a multiple of 2 * kLanes on every ISA)
constexpr int64_t kKeyTile = 2 * kLanes;  // keys one score microkernel call covers
constexpr int kTileRows = 6;              // query rows per microkernel: 12 accumulators
constexpr int64_t kRowTarget = 64;        // query rows per work item (tokens x group heads)
constexpr int64_t kMinSplitKeys = 512;    // shortest key range worth a thread of its own
constexpr int64_t kParallelFlops = 1 << 17;  // below this, one thread: waking the team costs more
constexpr int64_t kMaxPackFloats = int64_t{32} << 20;  // 128 MiB of packed K/V at most
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline fvec load(const float* p) {
  fvec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store(float* p, fvec v) {
  std::memcpy(p, &v, sizeof(v));
}
inline fvec splat(float x) {
  return fvec{} + x;
}

// e^x for x <= 0 (scores minus their running max), to ~2 ulp: x = n ln2 + r with |r| <= ln2/2,
// e^r by its Taylor series to r^7 (truncation error < 6e-9), 2^n put straight into the exponent
// bits. Below -87 (and -inf, the masked scores) the result is exactly 0.
inline fvec vexp(fvec x) {
  const fvec lo = splat(-87.0f);
  const ivec dead = x < lo;
  x = dead ? lo : x;
  // n = round(x / ln2): truncation toward zero of a negative number rounds up.
  const ivec ni = __builtin_convertvector(x * 1.44269504088896341f - 0.5f, ivec);
  const fvec n = __builtin_convertvector(ni, fvec);
  // ln 2 split in two so that n * ln2_hi is exact (Cody and Waite).
  const fvec r = x - n * 0.693359375f - n * -2.12194440e-4f;
  fvec p = splat(1.0f / 5040.0f);
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const ivec bits = (ni + 127) << 23;
  fvec scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return dead ? splat(0.0f) : p * scale;
}

inline float hmax(fvec v) {
  float m = v[0];
  for (int i = 1; i < kLanes; ++i) m = std::max(m, v[i]);
  return m;
}
// GCC 12 warns about the AVX-512 intrinsics' own undefined pass-through operands.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline float hsum(fvec v) {
#if defined(__AVX512F__)
  // Through casts, not memory: a copy through memory kept the dot product's accumulator on the
  // stack (a store-forwarding round trip per FMA).
  const __m512 z = (__m512)v;
  __m256 x = _mm256_add_ps(_mm512_castps512_ps256(z),
                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z), 1)));
#elif defined(__AVX2__)
  __m256 x = (__m256)v;
#endif
#if defined(__AVX2__) || defined(__AVX512F__)
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
#else
  float s = 0.0f;
  for (int i = 0; i < kLanes; ++i) s += v[i];
  return s;
#endif
}

#pragma GCC diagnostic pop

// q . k over n floats, SIMD over n.
inline float dot(const float* q, const float* k, int64_t n) {
  fvec acc = splat(0.0f);
  int64_t e = 0;
  for (; e + kLanes <= n; e += kLanes) acc += load(q + e) * load(k + e);
  float s = hsum(acc);
  for (; e < n; ++e) s += q[e] * k[e];
  return s;
}

// n cache elements of dtype `dt` at `src` as float32.
void widen(const void* src, DType dt, int64_t n, float* dst) {
  if (dt == DType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const uint16_t* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  if (dt == DType::kBF16) {
    // bf16 is the upper half of a float32: zero-extend each lane and shift it into place.
    for (; i + kLanes <= n; i += kLanes) {
      hvec x;
      std::memcpy(&x, h + i, sizeof(x));
      const uvec bits = __builtin_convertvector(x, uvec) << 16;
      std::memcpy(dst + i, &bits, sizeof(bits));
    }
    for (; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
    return;
  }
#if defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i,
                     _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
#pragma GCC diagnostic pop
#elif defined(__F16C__) && defined(__AVX2__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
#endif
  for (; i < n; ++i) dst[i] = f16_to_f32(h[i]);
}

// S[r][j0 .. j0 + kKeyTile) = Q[r] . K[j] for R rows; KT is the block's keys transposed
// ([head_dim][kKeyBlock]), so each step broadcasts one query element against 2 vectors of keys.
template <int R>
void score_tile(const float* q, int64_t d, const float* kt, float* s) {
  fvec acc[R][2] = {};
  for (int64_t e = 0; e < d; ++e) {
    const fvec k0 = load(kt + e * kKeyBlock), k1 = load(kt + e * kKeyBlock + kLanes);
    for (int r = 0; r < R; ++r) {
      const float qe = q[r * d + e];
      acc[r][0] += k0 * qe;
      acc[r][1] += k1 * qe;
    }
  }
  for (int r = 0; r < R; ++r) {
    store(s + r * kKeyBlock, acc[r][0]);
    store(s + r * kKeyBlock + kLanes, acc[r][1]);
  }
}

// O[r][c0 .. c0 + 2 lanes) += sum_j P[r][j] * V[j][c0 ..] for R rows over n keys.
template <int R>
void pv_tile(const float* p, int64_t n, const float* v, int64_t d, float* o) {
  fvec acc[R][2];
  for (int r = 0; r < R; ++r) {
    acc[r][0] = load(o + r * d);
    acc[r][1] = load(o + r * d + kLanes);
  }
  for (int64_t j = 0; j < n; ++j) {
    const fvec v0 = load(v + j * d), v1 = load(v + j * d + kLanes);
    for (int r = 0; r < R; ++r) {
      const float pj = p[r * kKeyBlock + j];
      acc[r][0] += v0 * pj;
      acc[r][1] += v1 * pj;
    }
  }
  for (int r = 0; r < R; ++r) {
    store(o + r * d, acc[r][0]);
    store(o + r * d + kLanes, acc[r][1]);
  }
}

template <int R>
void score_rows(const float* q, int64_t d, const float* kt, int64_t n_round, float* s) {
  for (int64_t j = 0; j < n_round; j += kKeyTile) score_tile<R>(q, d, kt + j, s + j);
}

template <int R>
void pv_rows(const float* p, int64_t n, const float* v, int64_t d, float* o) {
  int64_t c = 0;
  for (; c + 2 * kLanes <= d; c += 2 * kLanes) pv_tile<R>(p, n, v + c, d, o + c);
  for (; c < d; ++c) {  // head_dim not a multiple of two vectors
    for (int r = 0; r < R; ++r) {
      float acc = o[r * d + c];
      for (int64_t j = 0; j < n; ++j) acc += p[r * kKeyBlock + j] * v[j * d + c];
      o[r * d + c] = acc;
    }
  }
}

// Calls f.template operator()<N>() with N == n, for 1 <= n <= Max: a run-time count becomes a
// template argument, so the microkernels below keep their accumulator arrays in registers.
template <int Max, typename F>
void with_count(int64_t n, F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (void)((n == I + 1 ? (f.template operator()<I + 1>(), true) : false) || ...);
  }
  (std::make_integer_sequence<int, Max>{});
}

// Calls f.template operator()<R>(row) for row tiles of up to kTileRows rows.
template <typename F>
void for_row_tiles(int64_t rows, F&& f) {
  int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) f.template operator()<kTileRows>(r);
  with_count<kTileRows - 1>(rows - r, [&]<int R>() { f.template operator()<R>(r); });
}

// One unit of work; see the file comment.
struct Item {
  int64_t seq, kv_head;
  int64_t tok0, ntok;  // query tokens [tok0, tok0 + ntok) of the sequence
  int64_t key0, key1;  // key positions [key0, key1) this item covers
  int64_t part;        // index of its partial result, -1: writes the output itself
};

// The per-thread working set.
struct Scratch {
  std::vector<float> q, s, o, kt, kr, v, m, l, row;
  std::vector<int64_t> lo, hi;  // visible key positions [lo, hi] of each row
  void size_for(int64_t rows, int64_t d) {
    const auto n = [](int64_t x) { return static_cast<size_t>(x); };
    q.resize(n(rows * d));
    s.resize(n(rows * kKeyBlock));
    o.resize(n(rows * d));
    kt.resize(n(d * kKeyBlock));
    kr.resize(n(kKeyBlock * d));
    v.resize(n(kKeyBlock * d));
    m.resize(n(rows));
    l.resize(n(rows));
    lo.resize(n(rows));
    hi.resize(n(rows));
  }
};

// K and V of the sequences whose prefill has several token blocks, widened to float32 and laid
// out once per call: every token block of a sequence reads the same keys, so converting (and
// transposing K) per item would repeat that work once per block, for bf16 and fp16 caches a
// cost close to the score GEMM's own. Per (sequence, KV head, key block of kKeyBlock keys from
// `first`): K transposed [head_dim][kKeyBlock] (zero past the last key), then V
// [kKeyBlock][head_dim].
struct Packed {
  float* data = nullptr;
  std::vector<int64_t> off, first, blocks;  // per sequence; off < 0: not packed
  int64_t block_floats = 0;
  float* block(int64_t seq, int64_t kv_head, int64_t p0) const {
    const auto s = static_cast<size_t>(seq);
    return data + off[s] + (kv_head * blocks[s] + (p0 - first[s]) / kKeyBlock) * block_floats;
  }
};

struct Geometry {
  const AttentionArgs& a;
  int64_t group, elem;  // query heads per KV head; bytes per cache element
  const Packed& packed;
  const char* slot_ptr(const void* cache, const int32_t* pages, int64_t p) const {
    const int64_t slot =
        static_cast<int64_t>(pages[p / a.page_size]) * a.page_size + p % a.page_size;
    return static_cast<const char*>(cache) + slot * a.kv_stride * elem;
  }
  // Visible keys of the sequence's token at position pos: [lo, hi].
  int64_t first_key(int64_t pos) const {
    return a.sliding_window > 0 ? std::max<int64_t>(0, pos - a.sliding_window + 1) : 0;
  }
  int64_t last_key(int64_t seq, int64_t pos) const {
    return a.causal ? pos : a.seq_info[seq * 4 + 2] - 1;  // bidirectional: the whole sequence
  }
};

// The online softmax over one key block [p0, p0 + n) of an item (scores in w.s, n_round columns
// per row): masks what each row may not see, turns the scores into unnormalised weights against
// the rows' running max, and rescales the rows' running sums and outputs where the max rose.
void online_softmax(const AttentionArgs& a, const Item& it, int64_t p0, int64_t n, int64_t n_round,
                    int64_t rows, Scratch& w) {
  const int64_t d = a.head_dim;
  float* s = w.s.data();
  for (int64_t r = 0; r < rows; ++r) {
    float* sr = s + r * kKeyBlock;
    // Visible: the row's own window, inside the item's key range (a split item's part ends
    // where the next begins; a packed block may start before key0).
    const int64_t lo = std::max(w.lo[static_cast<size_t>(r)], it.key0);
    const int64_t hi = std::min(w.hi[static_cast<size_t>(r)] + 1, it.key1);
    const int64_t vis0 = std::clamp<int64_t>(lo - p0, 0, n);
    const int64_t vis1 = std::clamp<int64_t>(hi - p0, 0, n);
    if (vis1 <= vis0) {  // nothing visible in this block: no weight at all
      std::fill(sr, sr + n_round, 0.0f);
      continue;
    }
    // Gemma 2 (transformers' eager attention): the scaled scores are soft-capped,
    // cap * tanh(s / cap), before the mask, so masked keys stay at -inf.
    float mul = a.scale;
    if (a.softcap > 0.0f) {
      for (int64_t j = vis0; j < vis1; ++j) {
        sr[j] = a.softcap * std::tanh(sr[j] * a.scale / a.softcap);
      }
      mul = 1.0f;
    }
    for (int64_t j = 0; j < vis0; ++j) sr[j] = kNegInf;
    for (int64_t j = vis1; j < n_round; ++j) sr[j] = kNegInf;
    fvec mx = splat(kNegInf);
    for (int64_t j = 0; j < n_round; j += kLanes) {
      const fvec x = load(sr + j) * mul;
      store(sr + j, x);
      mx = x > mx ? x : mx;
    }
    float& m = w.m[static_cast<size_t>(r)];
    const float m_new = std::max(m, hmax(mx));
    const float corr = m == kNegInf ? 0.0f : std::exp(m - m_new);
    fvec sum = splat(0.0f);
    for (int64_t j = 0; j < n_round; j += kLanes) {
      const fvec e = vexp(load(sr + j) - m_new);
      store(sr + j, e);
      sum += e;
    }
    float& l = w.l[static_cast<size_t>(r)];
    l = l * corr + hsum(sum);
    if (corr != 1.0f) {
      float* orow = &w.o[static_cast<size_t>(r * d)];
      for (int64_t e = 0; e < d; ++e) orow[e] *= corr;
    }
    m = m_new;
  }
}

// GCC 12 warns about _mm512_cvtph_ps's own undefined pass-through operand.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// kLanes elements of a cache row of dtype D from element i on, as float32, in registers.
template <DType D>
inline fvec load_cache(const char* row, int64_t i) {
  if constexpr (D == DType::kF32) {
    return load(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (D == DType::kBF16) {
    hvec x;
    std::memcpy(&x, reinterpret_cast<const uint16_t*>(row) + i, sizeof(x));
    return (fvec)(__builtin_convertvector(x, uvec) << 16);  // bf16: a float's upper half
  } else {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + i;
#if defined(__AVX512F__)
    return (fvec)_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
#elif defined(__F16C__) && defined(__AVX2__)
    return (fvec)_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
#else
    fvec f;
    for (int l = 0; l < kLanes; ++l) f[l] = f16_to_f32(h[l]);
    return f;
#endif
  }
}

// The decode path of run_item: one query token, the G query heads of one KV head, keys and
// values read once each straight from the cache rows and widened in registers. Few rows do not
// pay for transposing K (the prefill path), so a score is a dot product over head_dim; its
// accumulators stay in registers for all G rows, so each key row is loaded and widened once.
constexpr int kMaxDecodeGroup = 8;
constexpr int64_t kPrefetchKeys = 8;  // how far ahead decode_scores prefetches key rows

template <DType D, int G>
void decode_scores(const Geometry& g, const int32_t* pages, int64_t kv_off, int64_t p0, int64_t n,
                   int64_t key_end, const float* q, float* s) {
  const int64_t d = g.a.head_dim, row_bytes = d * g.elem;
  for (int64_t j = 0; j < n; ++j) {
    const char* row = g.slot_ptr(g.a.k_cache, pages, p0 + j) + kv_off * g.elem;
    // A decode step reads every sequence's cache from memory once (it is larger than the caches
    // at batch sizes that matter), one short row per key: prefetched ahead, the keys a few rows
    // on and this block's values (read next, by decode_pv_cols), so the loads overlap.
    if (p0 + j + kPrefetchKeys < key_end) {
      const char* next = g.slot_ptr(g.a.k_cache, pages, p0 + j + kPrefetchKeys) + kv_off * g.elem;
      for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(next + b);
    }
    const char* vrow = g.slot_ptr(g.a.v_cache, pages, p0 + j) + kv_off * g.elem;
    for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(vrow + b);
    fvec acc[G] = {};
    for (int64_t c = 0; c < d; c += kLanes) {
      const fvec k = load_cache<D>(row, c);
      for (int r = 0; r < G; ++r) acc[r] += load(q + r * d + c) * k;
    }
    for (int r = 0; r < G; ++r) s[r * kKeyBlock + j] = hsum(acc[r]);
  }
}

// O[r][c .. c + V vectors) += sum_j P[r][j] V[j][c ..] for the G rows, V rows from the cache.
template <DType D, int G, int V>
void decode_pv_cols(const Geometry& g, const int32_t* pages, int64_t kv_off, int64_t p0, int64_t n,
                    const float* p, int64_t c, float* o) {
  const int64_t d = g.a.head_dim;
  fvec acc[G][V];
  for (int r = 0; r < G; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = load(o + r * d + c + v * kLanes);
  }
  for (int64_t j = 0; j < n; ++j) {
    const char* row = g.slot_ptr(g.a.v_cache, pages, p0 + j) + kv_off * g.elem;
    fvec x[V];
    for (int v = 0; v < V; ++v) x[v] = load_cache<D>(row, c + v * kLanes);
    for (int r = 0; r < G; ++r) {
      const float pj = p[r * kKeyBlock + j];
      for (int v = 0; v < V; ++v) acc[r][v] += x[v] * pj;
    }
  }
  for (int r = 0; r < G; ++r) {
    for (int v = 0; v < V; ++v) store(o + r * d + c + v * kLanes, acc[r][v]);
  }
}

template <DType D, int G>
void decode_block(const Geometry& g, const Item& it, const int32_t* pages, int64_t p0, int64_t n,
                  int64_t n_round, Scratch& w) {
  const int64_t d = g.a.head_dim, kv_off = it.kv_head * d;
  decode_scores<D, G>(g, pages, kv_off, p0, n, it.key1, w.q.data(), w.s.data());
  online_softmax(g.a, it, p0, n, n_round, G, w);
  // As many columns per pass over the block's values as G rows of accumulators leave registers
  // for (a value row is read once per pass; later passes find it in L1).
  constexpr int kCols = G <= 4 ? 4 : 2;
  int64_t c = 0;
  for (; c + kCols * kLanes <= d; c += kCols * kLanes)
    decode_pv_cols<D, G, kCols>(g, pages, kv_off, p0, n, w.s.data(), c, w.o.data());
  for (; c < d; c += kLanes)
    decode_pv_cols<D, G, 1>(g, pages, kv_off, p0, n, w.s.data(), c, w.o.data());
}

template <DType D>
void decode_block_for_group(const Geometry& g, const Item& it, const int32_t* pages, int64_t p0,
                            int64_t n, int64_t n_round, Scratch& w) {
  with_count<kMaxDecodeGroup>(
      g.group, [&]<int G>() { decode_block<D, G>(g, it, pages, p0, n, n_round, w); });
}

#pragma GCC diagnostic pop

// Runs one item: the online softmax over its key range, leaving unnormalised O, the running max m
// and sum l of every row in `w`.
void run_item(const Geometry& g, const Item& it, Scratch& w) {
  const AttentionArgs& a = g.a;
  const int64_t d = a.head_dim, rows = it.ntok * g.group;
  const int32_t* info = a.seq_info + it.seq * 4;
  const int64_t q_start = info[0], q_len = info[1], kv_len = info[2];
  const int32_t* pages = a.page_table + info[3];
  for (int64_t t = 0; t < it.ntok; ++t) {
    const int64_t pos = kv_len - q_len + it.tok0 + t;
    const float* qrow = a.q + (q_start + it.tok0 + t) * a.q_stride;
    for (int64_t i = 0; i < g.group; ++i) {
      const int64_t r = t * g.group + i;
      std::memcpy(&w.q[static_cast<size_t>(r * d)], qrow + (it.kv_head * g.group + i) * d,
                  static_cast<size_t>(d) * sizeof(float));
      w.lo[static_cast<size_t>(r)] = g.first_key(pos);
      w.hi[static_cast<size_t>(r)] = g.last_key(it.seq, pos);
    }
  }
  std::fill(w.o.begin(), w.o.begin() + rows * d, 0.0f);
  std::fill(w.m.begin(), w.m.begin() + rows, kNegInf);
  std::fill(w.l.begin(), w.l.begin() + rows, 0.0f);
  const int64_t kv_off = it.kv_head * d;
  const bool packed = g.packed.off[static_cast<size_t>(it.seq)] >= 0;
  // Packed blocks start on the packing's grid; the keys before key0 are masked below.
  const int64_t pfirst = packed ? g.packed.first[static_cast<size_t>(it.seq)] : 0;
  const int64_t start = packed ? pfirst + (it.key0 - pfirst) / kKeyBlock * kKeyBlock : it.key0;
  const bool decode = !packed && it.ntok == 1 && d % kLanes == 0 && g.group <= kMaxDecodeGroup;
  for (int64_t p0 = start; p0 < it.key1; p0 += kKeyBlock) {
    const int64_t n = std::min(kKeyBlock, it.key1 - p0);
    const int64_t n_round = (n + kKeyTile - 1) / kKeyTile * kKeyTile;
    if (decode) {
      if (a.kv_dtype == DType::kBF16) {
        decode_block_for_group<DType::kBF16>(g, it, pages, p0, n, n_round, w);
      } else if (a.kv_dtype == DType::kF16) {
        decode_block_for_group<DType::kF16>(g, it, pages, p0, n, n_round, w);
      } else {
        decode_block_for_group<DType::kF32>(g, it, pages, p0, n, n_round, w);
      }
      continue;
    }
    float* s = w.s.data();
    const float* vblk = w.v.data();
    const float* ktblk = w.kt.data();
    if (packed) {
      ktblk = g.packed.block(it.seq, it.kv_head, p0);
      vblk = ktblk + d * kKeyBlock;
    } else {
      for (int64_t j = 0; j < n; ++j) {
        widen(g.slot_ptr(a.v_cache, pages, p0 + j) + kv_off * g.elem, a.kv_dtype, d,
              &w.v[static_cast<size_t>(j * d)]);
      }
    }
    if (packed) {
      for_row_tiles(rows, [&]<int R>(int64_t r) {
        score_rows<R>(&w.q[static_cast<size_t>(r * d)], d, ktblk, n_round, s + r * kKeyBlock);
      });
    } else if (it.ntok == 1) {
      // A decode row set (one token, the group's heads): too few rows to pay for transposing K,
      // so the scores are dot products straight from the cache rows.
      for (int64_t j = 0; j < n; ++j) {
        const char* src = g.slot_ptr(a.k_cache, pages, p0 + j) + kv_off * g.elem;
        const float* krow = reinterpret_cast<const float*>(src);
        if (a.kv_dtype != DType::kF32) {
          widen(src, a.kv_dtype, d, &w.kr[static_cast<size_t>(j * d)]);
          krow = &w.kr[static_cast<size_t>(j * d)];
        }
        for (int64_t r = 0; r < rows; ++r)
          s[r * kKeyBlock + j] = dot(&w.q[static_cast<size_t>(r * d)], krow, d);
      }
    } else {
      // K widened row-major, then transposed (zero in the padding columns).
      for (int64_t j = 0; j < n; ++j) {
        widen(g.slot_ptr(a.k_cache, pages, p0 + j) + kv_off * g.elem, a.kv_dtype, d,
              &w.kr[static_cast<size_t>(j * d)]);
      }
      for (int64_t e = 0; e < d; ++e) {
        float* col = &w.kt[static_cast<size_t>(e * kKeyBlock)];
        for (int64_t j = 0; j < n; ++j) col[j] = w.kr[static_cast<size_t>(j * d + e)];
        for (int64_t j = n; j < n_round; ++j) col[j] = 0.0f;
      }
      for_row_tiles(rows, [&]<int R>(int64_t r) {
        score_rows<R>(&w.q[static_cast<size_t>(r * d)], d, w.kt.data(), n_round, s + r * kKeyBlock);
      });
    }
    online_softmax(a, it, p0, n, n_round, rows, w);
    for_row_tiles(rows, [&]<int R>(int64_t r) {
      pv_rows<R>(s + r * kKeyBlock, n, vblk, d, &w.o[static_cast<size_t>(r * d)]);
    });
  }
}

// Widens the keys [p0, p0 + kKeyBlock) of a packed sequence into its blocks, all KV heads.
void pack_block(const Geometry& g, int64_t seq, int64_t p0, Scratch& w) {
  const AttentionArgs& a = g.a;
  const int64_t d = a.head_dim, width = a.num_kv_heads * d;
  const int32_t* info = a.seq_info + seq * 4;
  const int32_t* pages = a.page_table + info[3];
  const int64_t n = std::min(kKeyBlock, info[2] - p0);
  w.row.resize(static_cast<size_t>(width));
  float* row = w.row.data();
  for (int64_t j = 0; j < kKeyBlock; ++j) {
    if (j < n) widen(g.slot_ptr(a.k_cache, pages, p0 + j), a.kv_dtype, width, row);
    for (int64_t h = 0; h < a.num_kv_heads; ++h) {
      float* kt = g.packed.block(seq, h, p0);
      for (int64_t e = 0; e < d; ++e) kt[e * kKeyBlock + j] = j < n ? row[h * d + e] : 0.0f;
    }
    if (j >= n) continue;
    widen(g.slot_ptr(a.v_cache, pages, p0 + j), a.kv_dtype, width, row);
    for (int64_t h = 0; h < a.num_kv_heads; ++h) {
      float* v = g.packed.block(seq, h, p0) + d * kKeyBlock;
      std::memcpy(v + j * d, row + h * d, static_cast<size_t>(d) * sizeof(float));
    }
  }
}

}  // namespace

void attention(const AttentionArgs& a) {
  const int64_t group = a.num_heads / a.num_kv_heads, d = a.head_dim;
  const int64_t tok_block = std::max<int64_t>(1, kRowTarget / group);
  // Which sequences' K/V are packed (several token blocks read them), and where.
  Packed pk;
  pk.block_floats = 2 * d * kKeyBlock;
  pk.off.assign(static_cast<size_t>(a.num_seqs), -1);
  pk.first.assign(static_cast<size_t>(a.num_seqs), 0);
  pk.blocks.assign(static_cast<size_t>(a.num_seqs), 0);
  std::vector<std::pair<int64_t, int64_t>> pack_tasks;  // (sequence, first key of the block)
  int64_t pack_floats = 0;
  for (int64_t s = 0; s < a.num_seqs; ++s) {
    const int32_t* info = a.seq_info + s * 4;
    const int64_t q_len = info[1], kv_len = info[2];
    if (q_len <= tok_block) continue;
    const auto i = static_cast<size_t>(s);
    const int64_t first0 =
        a.sliding_window > 0 ? std::max<int64_t>(0, kv_len - q_len - a.sliding_window + 1) : 0;
    const int64_t first = first0 / kKeyBlock * kKeyBlock;
    const int64_t blocks = (kv_len - first + kKeyBlock - 1) / kKeyBlock;
    const int64_t floats = a.num_kv_heads * blocks * pk.block_floats;
    if (pack_floats + floats > kMaxPackFloats) continue;  // too large: widened per item instead
    pk.off[i] = pack_floats;
    pk.first[i] = first;
    pk.blocks[i] = blocks;
    pack_floats += floats;
    for (int64_t b = 0; b < blocks; ++b) pack_tasks.push_back({s, first + b * kKeyBlock});
  }
  thread_local std::vector<float> pack_buf;  // kept between calls: the same size every layer
  if (pack_buf.size() < static_cast<size_t>(pack_floats))
    pack_buf.resize(static_cast<size_t>(pack_floats));
  pk.data = pack_buf.data();
  const Geometry g{a, group, a.kv_dtype == DType::kF32 ? 4 : 2, pk};
  // Items without splits first; later token blocks see more keys, so they go first (dynamic
  // scheduling then balances the tail).
  std::vector<Item> items;
  int64_t flops = 0;
  for (int64_t s = 0; s < a.num_seqs; ++s) {
    const int32_t* info = a.seq_info + s * 4;
    const int64_t q_len = info[1], kv_len = info[2];
    const int64_t nblocks = (q_len + tok_block - 1) / tok_block;
    for (int64_t b = nblocks - 1; b >= 0; --b) {
      const int64_t tok0 = b * tok_block, ntok = std::min(tok_block, q_len - tok0);
      const int64_t first = g.first_key(kv_len - q_len + tok0);
      const int64_t last = g.last_key(s, kv_len - q_len + tok0 + ntok - 1);
      if (last < first) continue;
      for (int64_t h = 0; h < a.num_kv_heads; ++h)
        items.push_back({s, h, tok0, ntok, first, last + 1, -1});
      flops += a.num_kv_heads * ntok * g.group * (last + 1 - first) * a.head_dim * 4;
    }
  }
  // Flash-decoding: too few items for the threads and long key ranges: split the ranges.
  const int64_t threads = pool_threads();
  const int64_t base = static_cast<int64_t>(items.size());
  std::vector<Item> work;
  std::vector<std::pair<int64_t, int64_t>> merges;  // item -> its parts [begin, end) in `work`
  int64_t parts = 0;
  if (threads > 1 && base > 0 && base < 2 * threads) {
    const int64_t want = (2 * threads + base - 1) / base;
    for (const Item& it : items) {
      const int64_t len = it.key1 - it.key0;
      const int64_t nsplit = std::clamp<int64_t>(len / kMinSplitKeys, 1, want);
      if (nsplit == 1) {
        work.push_back(it);
        continue;
      }
      // Whole key blocks per part, so block boundaries stay aligned.
      const int64_t blocks = (len + kKeyBlock - 1) / kKeyBlock;
      const int64_t begin = static_cast<int64_t>(work.size());
      for (int64_t k = 0; k < nsplit; ++k) {
        Item part = it;
        part.key0 = it.key0 + blocks * k / nsplit * kKeyBlock;
        part.key1 = std::min(it.key1, it.key0 + blocks * (k + 1) / nsplit * kKeyBlock);
        part.part = parts++;
        work.push_back(part);
      }
      merges.push_back({begin, static_cast<int64_t>(work.size())});
    }
  } else {
    work = std::move(items);
  }
  const int64_t max_rows = tok_block * g.group;
  // Partial results of split items: O (unnormalised), m and l per row.
  std::vector<float> part_o(static_cast<size_t>(parts * max_rows * d));
  std::vector<float> part_ml(static_cast<size_t>(parts * max_rows * 2));
  const auto write_row = [&](const Item& it, int64_t r, const float* o, float inv) {
    const int64_t t = r / g.group, i = r % g.group;
    const int64_t row = a.seq_info[it.seq * 4] + it.tok0 + t;
    float* out = a.out + row * a.out_stride + (it.kv_head * g.group + i) * d;
    for (int64_t e = 0; e < d; ++e) out[e] = o[e] * inv;
  };
  const int64_t nwork = static_cast<int64_t>(work.size());
  const bool parallel = flops >= kParallelFlops;
  // Each thread's working set, kept across calls (the same sizes every layer).
  const auto scratch = [&]() -> Scratch& {
    thread_local Scratch w;
    w.size_for(max_rows, d);
    return w;
  };
  parallel_static(static_cast<int64_t>(pack_tasks.size()), parallel, [&](int64_t i0, int64_t i1) {
    Scratch& w = scratch();
    for (int64_t i = i0; i < i1; ++i) {
      const auto [seq, p0] = pack_tasks[static_cast<size_t>(i)];
      pack_block(g, seq, p0, w);
    }
  });
  // One item per chunk, claimed as threads free up (as a dynamic schedule would): items differ
  // in length by their key ranges.
  parallel_for(nwork, parallel ? 1 : nwork, [&](int64_t i0, int64_t i1) {
    Scratch& w = scratch();
    for (int64_t i = i0; i < i1; ++i) {
      const Item& it = work[static_cast<size_t>(i)];
      run_item(g, it, w);
      const int64_t rows = it.ntok * g.group;
      if (it.part < 0) {
        for (int64_t r = 0; r < rows; ++r) {
          const float l = w.l[static_cast<size_t>(r)];
          write_row(it, r, &w.o[static_cast<size_t>(r * d)], l > 0.0f ? 1.0f / l : 0.0f);
        }
      } else {
        std::memcpy(&part_o[static_cast<size_t>(it.part * max_rows * d)], w.o.data(),
                    static_cast<size_t>(rows * d) * sizeof(float));
        for (int64_t r = 0; r < rows; ++r) {
          part_ml[static_cast<size_t>((it.part * max_rows + r) * 2)] = w.m[static_cast<size_t>(r)];
          part_ml[static_cast<size_t>((it.part * max_rows + r) * 2 + 1)] =
              w.l[static_cast<size_t>(r)];
        }
      }
    }
  });
  // Merge the parts: O = sum_k e^(m_k - M) O_k / sum_k e^(m_k - M) l_k with M = max_k m_k.
  parallel_static(static_cast<int64_t>(merges.size()), parallel, [&](int64_t m0, int64_t m1) {
    std::vector<float> acc(static_cast<size_t>(d));
    for (int64_t mi = m0; mi < m1; ++mi) {
      const auto [begin, end] = merges[static_cast<size_t>(mi)];
      const Item& first = work[static_cast<size_t>(begin)];
      const int64_t rows = first.ntok * g.group;
      for (int64_t r = 0; r < rows; ++r) {
        float mmax = kNegInf;
        for (int64_t k = begin; k < end; ++k) {
          const int64_t p = work[static_cast<size_t>(k)].part;
          mmax = std::max(mmax, part_ml[static_cast<size_t>((p * max_rows + r) * 2)]);
        }
        std::fill(acc.begin(), acc.end(), 0.0f);
        float l = 0.0f;
        for (int64_t k = begin; k < end; ++k) {
          const int64_t p = work[static_cast<size_t>(k)].part;
          const float mk = part_ml[static_cast<size_t>((p * max_rows + r) * 2)];
          if (mk == kNegInf) continue;
          const float f = std::exp(mk - mmax);
          l += f * part_ml[static_cast<size_t>((p * max_rows + r) * 2 + 1)];
          const float* o = &part_o[static_cast<size_t>((p * max_rows + r) * d)];
          for (int64_t e = 0; e < d; ++e) acc[static_cast<size_t>(e)] += f * o[e];
        }
        write_row(first, r, acc.data(), l > 0.0f ? 1.0f / l : 0.0f);
      }
    }
  });
}

// GCC 12 warns about the AVX-512 conversion intrinsics' own undefined pass-through operands.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void store_kv(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t tokens,
              int64_t width, const int32_t* slots, DType dtype, void* k_cache, void* v_cache,
              int64_t cache_stride) {
  const auto put = [&](const float* src, void* cache, int64_t slot) {
    if (dtype == DType::kF32) {
      std::memcpy(static_cast<float*>(cache) + slot * cache_stride, src,
                  static_cast<size_t>(width) * sizeof(float));
      return;
    }
    uint16_t* dst = static_cast<uint16_t*>(cache) + slot * cache_stride;
    int64_t i = 0;
    if (dtype == DType::kBF16) {
      for (; i < width; ++i) dst[i] = f32_to_bf16(src[i]);
      return;
    }
#if defined(__AVX512F__)
    for (; i + 16 <= width; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                          _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#elif defined(__F16C__) && defined(__AVX2__)
    for (; i + 8 <= width; i += 8)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                       _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < width; ++i) dst[i] = f32_to_f16(src[i]);
  };
  parallel_static(tokens, tokens * width >= (1 << 16), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      put(k + t * k_stride, k_cache, slots[t]);
      put(v + t * v_stride, v_cache, slots[t]);
    }
  });
}
#pragma GCC diagnostic pop

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
