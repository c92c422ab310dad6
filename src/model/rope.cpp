#include "model/rope.h"

#include <cmath>
#include <numbers>

namespace sglang {

std::vector<float> rope_inv_freq(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    // HF computes base ** (2i / dim) in float32 and takes 1 / that in float32.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
    const float p = static_cast<float>(std::pow(c.rope_theta, static_cast<double>(exponent)));
    inv[static_cast<size_t>(i)] = 1.0f / p;
  }
  const RopeScaling& rs = c.rope_scaling;
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

}  // namespace sglang
