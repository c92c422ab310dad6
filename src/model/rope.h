#pragma once
#include <vector>

#include "model/model_config.h"

namespace sglang {

// Per-frequency inverse wavelengths (head_dim / 2 of them) after the config's rope scaling,
// computed as transformers' ROPE_INIT_FUNCTIONS do ("default", "linear", "llama3").
// Over config.rotary_dim dimensions when set (partial rotary). longrope: the short factors.
std::vector<float> rope_inv_freq(const ModelConfig& config);
// The same with another base and no scaling (Gemma 3's local rope: rope_local_base_freq,
// "default").
std::vector<float> rope_inv_freq_unscaled(const ModelConfig& config, double base);
// longrope's frequencies with the long factors (a forward past original_max_position_embeddings).
std::vector<float> rope_inv_freq_long(const ModelConfig& config);

}  // namespace sglang
