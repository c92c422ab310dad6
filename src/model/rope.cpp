#include "model/rope.h"

#include <cmath>
#include <numbers>

namespace sglang {
namespace {

int64_t rotated_dims(const ModelConfig& c) {
  return c.rotary_dim > 0 ? c.rotary_dim : c.head_dim;
}

// base ** (2i / dim) for i < dim / 2, as HF computes it in float32; `divisors` (longrope's
// factors, one per frequency) multiply it before the reciprocal.
std::vector<float> base_inv_freq(int64_t dim, double base, const std::vector<double>* divisors) {
  const int64_t half = dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    // HF computes base ** (2i / dim) in float32 and takes 1 / that in float32.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    float p = static_cast<float>(std::pow(base, static_cast<double>(exponent)));
    if (divisors) p = static_cast<float>((*divisors)[static_cast<size_t>(i)]) * p;
    inv[static_cast<size_t>(i)] = 1.0f / p;
  }
  return inv;
}

}  // namespace

std::vector<float> rope_inv_freq(const ModelConfig& c) {
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == RopeScaling::Type::kLongRope) {
    // transformers' _compute_longrope_parameters without a sequence length: the short factors.
    return base_inv_freq(rotated_dims(c), c.rope_theta, &rs.short_factor);
  }
  std::vector<float> inv = base_inv_freq(rotated_dims(c), c.rope_theta, nullptr);
  if (rs.type == RopeScaling::Type::kLinear) {
    for (float& f : inv) f = static_cast<float>(f / rs.factor);
  } else if (rs.type == RopeScaling::Type::kLlama3) {
    // Llama 3.1: long wavelengths are slowed down by `factor`, short ones kept, the band between
    // interpolated smoothly (transformers' _compute_llama3_parameters).
    const double old_len = static_cast<double>(rs.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / rs.low_freq_factor;
    const double high_freq_wavelen = old_len / rs.high_freq_factor;
    for (float& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / static_cast<double>(f);
      if (wavelen > low_freq_wavelen) {
        f = static_cast<float>(f / rs.factor);
      } else if (wavelen >= high_freq_wavelen) {
        const double smooth =
            (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = static_cast<float>((1.0 - smooth) * f / rs.factor + smooth * f);
      }
    }
  }
  return inv;
}

std::vector<float> rope_inv_freq_unscaled(const ModelConfig& c, double base) {
  return base_inv_freq(rotated_dims(c), base, nullptr);
}

std::vector<float> rope_inv_freq_long(const ModelConfig& c) {
  return base_inv_freq(rotated_dims(c), c.rope_theta, &c.rope_scaling.long_factor);
}

}  // namespace sglang
