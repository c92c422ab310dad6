#pragma once
// Dequantization of GGUF tensor data to float32, for loading quantized GGUF files into the float
// kernels. Results equal the `gguf` Python package's `dequantize` bit for bit: the same block
// layouts (ggml-common.h) and the same float32 operations in the same order (one rounding per
// multiply and per add; this file is compiled without FMA contraction).
#include <cstdint>
#include <optional>
#include <span>

#include "model/gguf.h"
#include "util/dtype.h"
#include "util/status.h"

namespace sglang {

// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K.
bool can_dequantize(GgmlType type);

// Decodes `numel` elements of `type` from `bytes` (exactly numel / block elements × block bytes
// long) into `out`. An unsupported type or a size mismatch is an error naming the type.
Status dequantize(GgmlType type, std::span<const uint8_t> bytes, int64_t numel, float* out);

// The DType that keeps a tensor of this block type as it is (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K:
// the types the CPU backend multiplies in their blocks); none for the others.
std::optional<DType> quantized_dtype_of(GgmlType type);
// The GGML type of a quantized DType (dtype_is_quantized).
GgmlType ggml_type_of(DType dtype);

}  // namespace sglang
