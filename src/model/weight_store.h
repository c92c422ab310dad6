#pragma once
// All the safetensors files of a Hugging Face model directory behind one name lookup: single file,
// sharded (model.safetensors.index.json), names with or without the "model." prefix.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "util/status.h"

namespace sglang {

class WeightStore {
 public:
  static Result<std::unique_ptr<WeightStore>> open(const std::string& model_dir);

  // Looks `name` up as given, then with the "model." prefix added or removed.
  bool contains(const std::string& name) const;
  // The tensor, checked against `shape`: a missing tensor or another shape is an error naming both.
  Result<HostTensor> get(const std::string& name, const std::vector<int64_t>& shape) const;

 private:
  const HostTensor* find(const std::string& name, std::string* where) const;
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
};

}  // namespace sglang
