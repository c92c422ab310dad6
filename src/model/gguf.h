#pragma once
// Reader for GGUF (versions 2 and 3), llama.cpp's single-file model format: a header, typed
// key/value metadata (architecture hyper-parameters, the tokenizer, the chat template), tensor
// descriptions, then the aligned tensor data. The file is memory-mapped; tensors are views into it.
// Every count, length and offset is checked against the file size before it is used, so a
// truncated or corrupt file is an error that says what is wrong, never a read out of bounds.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "util/mmap_file.h"
#include "util/status.h"

namespace sglang {

// ggml's tensor types (the numbering is the file format's). Only some are supported for loading
// (model/gguf_dequant.h); the rest are named in errors.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

// One metadata value. Arrays hold their elements (GGUF arrays are homogeneous; nested arrays are
// rejected — no model metadata uses them).
struct GgufValue {
  enum class Type : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
  };
  Type type = Type::kU32;
  Type element_type = Type::kU32;  // arrays only
  std::variant<int64_t, uint64_t, double, bool, std::string> scalar;
  std::vector<int64_t> ints;         // integer (and bool) arrays
  std::vector<double> floats;        // float arrays
  std::vector<std::string> strings;  // string arrays

  bool is_array() const { return type == Type::kArray; }
  bool is_integer() const;
  bool is_float() const { return type == Type::kF32 || type == Type::kF64; }
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  // ggml order: dims[0] is the innermost (contiguous) dimension, the reverse of the PyTorch
  // shape. A [rows, cols] matrix is stored with dims = {cols, rows}.
  std::vector<int64_t> dims;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;
  int64_t numel() const;
  // The PyTorch-order shape (dims reversed).
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  // Opens and parses `path`; the tensor data stays in the mmap.
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // True when the file at `path` starts with the GGUF magic.
  static bool has_gguf_magic(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* find(const std::string& key) const;
  // Typed lookups: a missing key gives nullopt; a key of another type is an error naming it.
  Result<std::optional<std::string>> get_string(const std::string& key) const;
  Result<std::optional<int64_t>> get_int(const std::string& key) const;
  Result<std::optional<double>> get_float(const std::string& key) const;
  Result<std::optional<bool>> get_bool(const std::string& key) const;

  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // The tensor's bytes in the mmap (already checked to lie inside the file).
  std::span<const uint8_t> tensor_bytes(const GgufTensorInfo& t) const;

 private:
  std::unique_ptr<MmapFile> file_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
  uint64_t data_offset_ = 0;
};

// The ggml type's name as llama.cpp prints it ("Q4_K", "F16"), or "type N" for an unknown number.
std::string ggml_type_name(GgmlType type);
// Elements per block and bytes per block; {0, 0} for a type this reader does not know the size of.
struct GgmlBlockSize {
  int64_t elements = 0;
  int64_t bytes = 0;
};
GgmlBlockSize ggml_block_size(GgmlType type);

}  // namespace sglang
