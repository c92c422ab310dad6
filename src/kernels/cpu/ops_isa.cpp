// The element-wise, normalisation, rotary and attention kernels of the CPU backend. Plain loops the
// compiler vectorises for the ISA this object is built for (see src/CMakeLists.txt).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/attention_isa.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_isa.h"
#include "kernels/cpu/quant_gemm_isa.h"
#include "kernels/cpu/thread_pool.h"

namespace sglang::cpu::SGLANG_ISA_NAMESPACE {
namespace {

// Below this many elements a kernel runs on the calling thread: waking the team costs more.
constexpr int64_t kParallelThreshold = 1 << 14;

float sum_of_squares(const float* x, int64_t n) {
  // Eight partial sums: vectorises without -ffast-math and keeps the rounding error small.
  float part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) part[j] += x[i + j] * x[i + j];
  }
  float s = 0.0f;
  for (; i < n; ++i) s += x[i] * x[i];
  for (int j = 0; j < 8; ++j) s += part[j];
  return s;
}

void normalize_row(const float* x, const float* weight, int64_t hidden, float eps, float* out) {
  // As HF LlamaRMSNorm in float32: x * rsqrt(mean(x^2) + eps), then * weight.
  const float inv = 1.0f / std::sqrt(sum_of_squares(x, hidden) / static_cast<float>(hidden) + eps);
  for (int64_t i = 0; i < hidden; ++i) out[i] = weight[i] * (x[i] * inv);
}

void rms_norm(const float* x, int64_t x_stride, const float* weight, int64_t tokens, int64_t hidden,
              float eps, float* out, int64_t out_stride) {
  parallel_static(tokens, tokens * hidden >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      normalize_row(x + t * x_stride, weight, hidden, eps, out + t * out_stride);
  });
}

void add_rms_norm(float* residual, int64_t r_stride, const float* x, int64_t x_stride,
                  const float* weight, int64_t tokens, int64_t hidden, float eps, float* out,
                  int64_t out_stride) {
  parallel_static(tokens, tokens * hidden >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* r = residual + t * r_stride;
      const float* xr = x + t * x_stride;
      for (int64_t i = 0; i < hidden; ++i) r[i] += xr[i];
      normalize_row(r, weight, hidden, eps, out + t * out_stride);
    }
  });
}

void apply_rope(float* x, int64_t x_stride, int64_t tokens, int64_t heads, int64_t head_dim,
                const float* cos_sin) {
  const int64_t half = head_dim / 2;
  const bool parallel = tokens * heads * head_dim >= kParallelThreshold;
  parallel_static(tokens, parallel, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* cs = cos_sin + t * head_dim;
      for (int64_t h = 0; h < heads; ++h) {
        float* v = x + t * x_stride + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half];
          const float c = cs[i], s = cs[half + i];
          // HF: q * cos + rotate_half(q) * sin, rotate_half(q) = cat(-q2, q1)
          v[i] = a * c - b * s;
          v[i + half] = b * c + a * s;
        }
      }
    }
  });
}

// GCC vector extensions at the native width (as attention_isa.cpp).
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float fvec __attribute__((vector_size(kLanes * 4)));
typedef int32_t ivec __attribute__((vector_size(kLanes * 4)));

// e^x to ~2 ulp where silu needs it, in vector registers (a call of std::exp per element was most
// of a decode step's time outside the matmuls): x = n ln2 + r with |r| <= ln2 / 2, e^r by its
// Taylor series to r^7 (truncation < 3e-9), 2^n as 2^(n - 1) * 2 so that n = 128 stays a normal
// exponent. Above ln(FLT_MAX) it is inf, as std::exp; below -86 it is 0 where std::exp gives a
// tiny number, which 1 + e^x in silu rounds away the same.
inline fvec exp_for_silu(fvec x) {
  const ivec big = x > 88.72283935546875f, tiny = x < -86.0f;
  // A NaN lane goes through as 0 (no float-to-int conversion of NaN): silu's g / (1 + e) is NaN
  // there anyway.
  x = x == x ? x : fvec{};
  x = tiny ? fvec{} - 86.0f : x;
  x = big ? fvec{} + 88.0f : x;
  const fvec t = x * 1.44269504088896341f;
  const ivec ni = __builtin_convertvector(t + (t >= 0.0f ? fvec{} + 0.5f : fvec{} - 0.5f), ivec);
  const fvec n = __builtin_convertvector(ni, fvec);
  // ln 2 split in two so that n * ln2_hi is exact (Cody and Waite).
  const fvec r = x - n * 0.693359375f - n * -2.12194440e-4f;
  fvec p = fvec{} + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const ivec bits = (ni + 126) << 23;
  fvec scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  fvec e = p * scale * 2.0f;
  e = big ? fvec{} + std::numeric_limits<float>::infinity() : e;
  return tiny ? fvec{} : e;
}

inline fvec load_vec(const float* p) {
  fvec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// As transformers' SiLU (torch's silu, x / (1 + e^-x), with a vectorised exp), times up.
void silu_and_mul(const float* gate_up, int64_t gu_stride, int64_t tokens, int64_t inter,
                  float* out, int64_t out_stride) {
  parallel_static(tokens, tokens * inter >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* g = gate_up + t * gu_stride;
      const float* u = g + inter;
      float* o = out + t * out_stride;
      int64_t i = 0;
      for (; i + kLanes <= inter; i += kLanes) {
        const fvec gv = load_vec(g + i);
        const fvec ov = gv / (1.0f + exp_for_silu(-gv)) * load_vec(u + i);
        std::memcpy(o + i, &ov, sizeof(ov));
      }
      if (i < inter) {
        // The tail through the same function (zero-padded), so every element sees one exp.
        alignas(64) float gt[kLanes] = {}, ut[kLanes] = {}, ot[kLanes];
        std::memcpy(gt, g + i, static_cast<size_t>(inter - i) * sizeof(float));
        std::memcpy(ut, u + i, static_cast<size_t>(inter - i) * sizeof(float));
        const fvec gv = load_vec(gt);
        const fvec ov = gv / (1.0f + exp_for_silu(-gv)) * load_vec(ut);
        std::memcpy(ot, &ov, sizeof(ov));
        std::memcpy(o + i, ot, static_cast<size_t>(inter - i) * sizeof(float));
      }
    }
  });
}

void add(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t tokens,
         int64_t cols, float* out, int64_t out_stride) {
  parallel_static(tokens, tokens * cols >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t i = 0; i < cols; ++i)
        out[t * out_stride + i] = a[t * a_stride + i] + b[t * b_stride + i];
    }
  });
}

void layer_norm(const float* x, int64_t x_stride, const float* weight, const float* bias,
                int64_t tokens, int64_t hidden, float eps, float* out, int64_t out_stride) {
  parallel_static(tokens, tokens * hidden >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* xr = x + t * x_stride;
      float* o = out + t * out_stride;
      // Two passes in double (mean, then the biased variance around it), as exact as torch's
      // float32 Welford; the normalised value is then one float multiply-add per element.
      double sum = 0;
      for (int64_t i = 0; i < hidden; ++i) sum += xr[i];
      const double mean = sum / static_cast<double>(hidden);
      double sq = 0;
      for (int64_t i = 0; i < hidden; ++i) {
        const double d = xr[i] - mean;
        sq += d * d;
      }
      const float inv = static_cast<float>(
          1.0 / std::sqrt(sq / static_cast<double>(hidden) + static_cast<double>(eps)));
      const float m = static_cast<float>(mean);
      for (int64_t i = 0; i < hidden; ++i) o[i] = (xr[i] - m) * inv * weight[i] + bias[i];
    }
  });
}

// The Activation enum of backend.h, by value (this file does not see the Backend header).
enum ActivationKind { kGelu = 0, kGeluTanh = 1, kRelu = 2, kTanh = 3, kSigmoid = 4 };

float apply_activation(int kind, float v) {
  switch (kind) {
    case kGelu:
      return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
    case kGeluTanh: {
      const float c = 0.79788456080286536f;  // sqrt(2 / pi)
      return 0.5f * v * (1.0f + std::tanh(c * (v + 0.044715f * v * v * v)));
    }
    case kRelu:
      return v > 0.0f ? v : 0.0f;
    case kTanh:
      return std::tanh(v);
    default:
      return 1.0f / (1.0f + std::exp(-v));
  }
}

void activation(int kind, const float* x, int64_t x_stride, int64_t tokens, int64_t cols,
                float* out, int64_t out_stride) {
  parallel_static(tokens, tokens * cols >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t i = 0; i < cols; ++i)
        out[t * out_stride + i] = apply_activation(kind, x[t * x_stride + i]);
    }
  });
}

void gated_activation(int kind, const float* gate_up, int64_t gu_stride, int64_t tokens,
                      int64_t inter, float* out, int64_t out_stride) {
  parallel_static(tokens, tokens * inter >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* g = gate_up + t * gu_stride;
      const float* u = g + inter;
      float* o = out + t * out_stride;
      // As transformers' GemmaMLP: act_fn(gate_proj(x)) * up_proj(x).
      for (int64_t i = 0; i < inter; ++i) o[i] = apply_activation(kind, g[i]) * u[i];
    }
  });
}

void scale(const float* x, int64_t x_stride, int64_t tokens, int64_t cols, float factor, float* out,
           int64_t out_stride) {
  parallel_static(tokens, tokens * cols >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t i = 0; i < cols; ++i) out[t * out_stride + i] = x[t * x_stride + i] * factor;
    }
  });
}

void soft_cap(const float* x, int64_t x_stride, int64_t tokens, int64_t cols, float cap, float* out,
              int64_t out_stride) {
  parallel_static(tokens, tokens * cols >= kParallelThreshold, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t i = 0; i < cols; ++i)
        out[t * out_stride + i] = std::tanh(x[t * x_stride + i] / cap) * cap;
    }
  });
}

#define SGLANG_STRINGIFY_INNER(x) #x
#define SGLANG_STRINGIFY(x) SGLANG_STRINGIFY_INNER(x)

const CpuKernels kTable = {
    &SGLANG_STRINGIFY(SGLANG_ISA_NAMESPACE)[4],  // "isa_avx2" -> "avx2"
    &linear,
    &rms_norm,
    &add_rms_norm,
    &apply_rope,
    &attention,
    &silu_and_mul,
    &add,
    &layer_norm,
    &activation,
    &store_kv,
    &gated_activation,
    &scale,
    &soft_cap,
    &quant_linear,
};

}  // namespace

const CpuKernels& kernels() {
  return kTable;
}

}  // namespace sglang::cpu::SGLANG_ISA_NAMESPACE
