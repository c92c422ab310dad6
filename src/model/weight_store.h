#pragma once
// Model weights by Hugging Face tensor name, from safetensors or GGUF.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "util/status.h"

namespace sglang {

// The weights of a model by Hugging Face tensor name, whatever file format holds them: the
// safetensors of a HF directory (this file) or a GGUF file (model/gguf_model.h), so that model code
// reads every format the same way.
class WeightStore {
 public:
  // Reports loading progress: `done` of `total` tensors read.
  using ProgressFn = std::function<void(size_t done, size_t total)>;

  virtual ~WeightStore() = default;
  // Opens the weights of `model_path`: a GGUF file or a directory holding one (see
  // find_gguf_file), else the safetensors files of a HF model directory. Quantized GGUF tensors
  // are dequantized to `dequantized_dtype` (F32 or BF16), or without one kept in their blocks
  // (open_gguf_weights).
  static Result<std::unique_ptr<WeightStore>> open(
      const std::string& model_path, std::optional<DType> dequantized_dtype = DType::kF32);
  // Looks `name` up as given, then with the "model." prefix added or removed.
  virtual bool contains(const std::string& name) const = 0;
  // The tensor, checked against `shape`: a missing tensor or another shape is an error naming both.
  // The view stays valid as long as the store.
  Result<HostTensor> get(const std::string& name, const std::vector<int64_t>& shape) const {
    auto t = read(name, shape);
    if (progress_) progress_(++reads_, num_tensors());
    return t;
  }
  // How many tensors the files hold (a model may read fewer: tied or unused ones).
  virtual size_t num_tensors() const = 0;
  // `fn` hears of every get().
  void on_progress(ProgressFn fn) { progress_ = std::move(fn); }

 protected:
  virtual Result<HostTensor> read(const std::string& name,
                                  const std::vector<int64_t>& shape) const = 0;

 private:
  ProgressFn progress_;
  mutable size_t reads_ = 0;
};

// All the safetensors files of a Hugging Face model directory behind one name lookup: single file,
// sharded (model.safetensors.index.json), names with or without the "model." prefix.
class SafetensorsWeightStore final : public WeightStore {
 public:
  static Result<std::unique_ptr<SafetensorsWeightStore>> open(const std::string& model_dir);
  bool contains(const std::string& name) const override;
  size_t num_tensors() const override;

 protected:
  Result<HostTensor> read(const std::string& name,
                          const std::vector<int64_t>& shape) const override;

 private:
  const HostTensor* find(const std::string& name, std::string* where) const;
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
};

}  // namespace sglang
