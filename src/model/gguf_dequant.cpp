#include "model/gguf_dequant.h"

#include <cstring>
#include <string>

#include "util/half.h"

namespace sglang {

namespace {

constexpr int64_t kQK = 32;  // elements per block of the simple quants (Q4_0, Q4_1, Q8_0)

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Q4_0: f16 scale d, then 16 bytes holding 32 4-bit values (low nibbles are elements 0..15, high
// nibbles 16..31), each stored with an offset of 8.
void q4_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Q4_1: f16 scale d and f16 minimum m, then the nibbles as Q4_0 without offset: x = d*q + m.
void q4_1(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const float m = f16_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q8_0: f16 scale, 32 int8 values.
void q8_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// The 6-bit scale and minimum of sub-block j (0..7) of a Q4_K/Q5_K super-block, packed in 12
// bytes: sub-blocks 0..3 in the low 6 bits of bytes j and j+4; 4..7 split between the nibbles of
// bytes j+4 and the top two bits of bytes j-4 and j.
void k_scale_min(int j, const uint8_t* s, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K: f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles. Eight sub-blocks of 32:
// x = (d*scale) * q - (dmin*min). Each 32-byte group of nibbles holds two sub-blocks (low nibbles
// first).
void q4_k(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const float dmin = f16_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    k_scale_min(j, scales, &sc, &mn);
    const float dl = d * static_cast<float>(sc);
    const float ml = dmin * static_cast<float>(mn);
    const uint8_t* q = qs + (j / 2) * 32;
    const int shift = (j % 2) * 4;
    for (int l = 0; l < 32; ++l) {
      y[j * 32 + l] = dl * static_cast<float>((q[l] >> shift) & 0x0F) - ml;
    }
  }
}

// Q5_K: as Q4_K plus a fifth bit per element: 32 bytes qh where bit j of qh[l] belongs to element
// l of sub-block j.
void q5_k(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const float dmin = f16_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    k_scale_min(j, scales, &sc, &mn);
    const float dl = d * static_cast<float>(sc);
    const float ml = dmin * static_cast<float>(mn);
    const uint8_t* q = qs + (j / 2) * 32;
    const int shift = (j % 2) * 4;
    for (int l = 0; l < 32; ++l) {
      const int v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> j) & 1) << 4);
      y[j * 32 + l] = dl * static_cast<float>(v) - ml;
    }
  }
}

// Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales (one per 16
// elements), f16 d: x = (d*scale) * (q - 32). Elements come in two halves of 128; within a half,
// element 32*k + l takes its low nibble from ql[l + 32*(k%2)] (low or high nibble by k/2) and its
// high bits from qh[l] at bits 2k.
void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16_at(b + 208);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* l4 = ql + half * 64;
    const uint8_t* h2 = qh + half * 32;
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 32; ++l) {
        const int lo = (l4[l + 32 * (k % 2)] >> (4 * (k / 2))) & 0x0F;
        const int hi = (h2[l] >> (2 * k)) & 0x03;
        const int q = (lo | (hi << 4)) - 32;
        const int e = half * 128 + k * 32 + l;
        const float dl = d * static_cast<float>(sc[e / 16]);
        y[e] = dl * static_cast<float>(q);
      }
    }
  }
}

}  // namespace

bool can_dequantize(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      return true;
    default:
      return false;
  }
}

Status dequantize(GgmlType type, std::span<const uint8_t> bytes, int64_t numel, float* out) {
  if (!can_dequantize(type)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "GGUF tensor type " + ggml_type_name(type) +
                          " is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, "
                          "Q5_K, Q6_K)");
  }
  const GgmlBlockSize bs = ggml_block_size(type);
  if (numel < 0 || numel % bs.elements != 0 ||
      static_cast<uint64_t>(numel / bs.elements) * static_cast<uint64_t>(bs.bytes) !=
          bytes.size()) {
    return make_error(ErrorCode::kCorrupt,
                      ggml_type_name(type) + " data of " + std::to_string(bytes.size()) +
                          " bytes does not hold " + std::to_string(numel) + " elements");
  }
  const uint8_t* p = bytes.data();
  const int64_t blocks = numel / bs.elements;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(out, p, static_cast<size_t>(numel) * 4);
      break;
    case GgmlType::kF16:
      for (int64_t i = 0; i < numel; ++i) out[i] = f16_at(p + 2 * i);
      break;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < numel; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      break;
    default: {
      void (*block_fn)(const uint8_t*, float*) = nullptr;
      switch (type) {
        case GgmlType::kQ4_0:
          block_fn = q4_0;
          break;
        case GgmlType::kQ4_1:
          block_fn = q4_1;
          break;
        case GgmlType::kQ8_0:
          block_fn = q8_0;
          break;
        case GgmlType::kQ4_K:
          block_fn = q4_k;
          break;
        case GgmlType::kQ5_K:
          block_fn = q5_k;
          break;
        case GgmlType::kQ6_K:
          block_fn = q6_k;
          break;
        default:
          break;
      }
#pragma omp parallel for schedule(static) if (blocks > 4096)
      for (int64_t i = 0; i < blocks; ++i) {
        block_fn(p + i * bs.bytes, out + i * bs.elements);
      }
    }
  }
  return {};
}

std::optional<DType> quantized_dtype_of(GgmlType type) {
  switch (type) {
    case GgmlType::kQ8_0:
      return DType::kQ8_0;
    case GgmlType::kQ4_0:
      return DType::kQ4_0;
    case GgmlType::kQ4_1:
      return DType::kQ4_1;
    case GgmlType::kQ4_K:
      return DType::kQ4_K;
    case GgmlType::kQ5_K:
      return DType::kQ5_K;
    case GgmlType::kQ6_K:
      return DType::kQ6_K;
    default:
      return std::nullopt;
  }
}

GgmlType ggml_type_of(DType dtype) {
  switch (dtype) {
    case DType::kQ8_0:
      return GgmlType::kQ8_0;
    case DType::kQ4_0:
      return GgmlType::kQ4_0;
    case DType::kQ4_1:
      return GgmlType::kQ4_1;
    case DType::kQ4_K:
      return GgmlType::kQ4_K;
    case DType::kQ5_K:
      return GgmlType::kQ5_K;
    case DType::kQ6_K:
      return GgmlType::kQ6_K;
    case DType::kF16:
      return GgmlType::kF16;
    case DType::kBF16:
      return GgmlType::kBF16;
    default:
      return GgmlType::kF32;
  }
}

}  // namespace sglang
