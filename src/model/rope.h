#pragma once
#include <vector>

#include "model/model_config.h"

namespace sglang {

// Per-frequency inverse wavelengths (head_dim / 2 of them) after the config's rope scaling,
// computed as transformers' ROPE_INIT_FUNCTIONS do ("default", "linear", "llama3").
std::vector<float> rope_inv_freq(const ModelConfig& config);

}  // namespace sglang
