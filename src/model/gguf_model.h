#pragma once
// A GGUF file as a model source, the same as a Hugging Face directory to everything above it: its
// metadata becomes the config.json transformers would make of it (architectures, sizes, rope, token
// ids), and its tensors are served under their Hugging Face names, dequantized (float32 or
// bfloat16) where they are quantized and with llama.cpp's rotary row permutation of q/k undone, so
// the one model definition (model/llama.h) runs both formats.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "model/gguf.h"
#include "model/weight_store.h"
#include "util/status.h"

namespace sglang {

// The GGUF file behind a --model-path: the path itself when it is a file (which must then be GGUF),
// or the one *.gguf file of a directory without config.json. "" when the path is a Hugging Face
// directory. A directory with several .gguf files is an error listing them.
Result<std::string> find_gguf_file(const std::string& model_path);

// The config.json equivalent of the GGUF metadata (architectures llama, qwen2, qwen3, qwen3moe,
// gemma2, gemma3, phi3), with llama.cpp's values for what its converter writes no key for.
Result<nlohmann::ordered_json> hf_config_from_gguf(const GgufFile& gguf);

// config.json of a HF directory, or the equivalent of a GGUF file's metadata.
Result<nlohmann::ordered_json> read_hf_config(const std::string& model_path);

// The tensors of a GGUF file by Hugging Face name. Quantized ones (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K,
// Q6_K) are dequantized to `dequantized_dtype`, F32 or BF16; without one (what --dtype auto
// serves) they stay in their blocks as HostTensors of the quantized DType, one row of blocks per
// output row (llama's q/k rows re-permuted whole), and only other types are dequantized, to BF16.
Result<std::unique_ptr<WeightStore>> open_gguf_weights(
    const std::string& gguf_path, std::optional<DType> dequantized_dtype = DType::kF32);

}  // namespace sglang
