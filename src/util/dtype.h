#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sglang {

// The GGML block types at the end are matmul weights kept as a GGUF file stores them (blocks of
// 32 or 256 elements, model/gguf_dequant.h): they have no per-element size, so code that handles
// them sizes rows with dtype_row_bytes().
enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kI32,
  kI64,
  kQ8_0,
  kQ4_0,
  kQ4_1,
  kQ4_K,
  kQ5_K,
  kQ6_K
};

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return 0;  // block types: see dtype_row_bytes
  }
  return 0;
}

inline bool dtype_is_quantized(DType t) {
  return t >= DType::kQ8_0 && t <= DType::kQ6_K;
}

// Elements per block: 1 for the element types.
inline int64_t dtype_block_elements(DType t) {
  switch (t) {
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
      return 32;
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return 256;
    default:
      return 1;
  }
}

// Bytes per block (ggml-common.h's block_q8_0, block_q4_0, ...); dtype_size for the element types.
inline size_t dtype_block_bytes(DType t) {
  switch (t) {
    case DType::kQ8_0:
      return 34;
    case DType::kQ4_0:
      return 18;
    case DType::kQ4_1:
      return 20;
    case DType::kQ4_K:
      return 144;
    case DType::kQ5_K:
      return 176;
    case DType::kQ6_K:
      return 210;
    default:
      return dtype_size(t);
  }
}

// Bytes of a row of `cols` elements (cols a whole number of blocks).
inline size_t dtype_row_bytes(DType t, int64_t cols) {
  return static_cast<size_t>(cols / dtype_block_elements(t)) * dtype_block_bytes(t);
}

// safetensors spelling
inline std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
    case DType::kQ8_0:
      return "Q8_0";
    case DType::kQ4_0:
      return "Q4_0";
    case DType::kQ4_1:
      return "Q4_1";
    case DType::kQ4_K:
      return "Q4_K";
    case DType::kQ5_K:
      return "Q5_K";
    case DType::kQ6_K:
      return "Q6_K";
  }
  return "?";
}

}  // namespace sglang
