#pragma once
// Reader for the safetensors format: an 8-byte little-endian header length, a JSON header mapping
// tensor names to {dtype, shape, data_offsets}, then the raw data. Tensors are views into the mmap.
// Every offset and size is checked against the file before a view is handed out.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/dtype.h"
#include "util/mmap_file.h"
#include "util/status.h"

namespace sglang {

// A borrowed view of a tensor in host memory.
struct HostTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  size_t nbytes() const {
    return dtype_is_quantized(dtype) ? dtype_row_bytes(dtype, numel())
                                     : static_cast<size_t>(numel()) * dtype_size(dtype);
  }
};

std::string shape_string(const std::vector<int64_t>& shape);

class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::map<std::string, HostTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  Result<HostTensor> get(const std::string& name) const;

 private:
  std::unique_ptr<MmapFile> file_;
  std::map<std::string, HostTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace sglang
