#pragma once
// Writes a single safetensors file (used by make-checkpoint and the tests' fixtures).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "util/dtype.h"
#include "util/status.h"

namespace sglang {

class SafetensorsWriter {
 public:
  // `data` must hold numel * dtype_size bytes.
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape,
           std::vector<uint8_t> data);
  // A tensor whose bytes are produced only when the file is written, one tensor at a time, so a
  // multi-GB checkpoint never sits in memory whole. `fill` writes numel * dtype_size bytes.
  using Producer = std::function<void(uint8_t* dst)>;
  void add_lazy(const std::string& name, DType dtype, std::vector<int64_t> shape, Producer fill);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  // Tensors are written in name order, so the file is identical for identical inputs.
  Status write(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    Producer fill;
    size_t nbytes() const;
  };
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace sglang
