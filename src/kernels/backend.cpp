#include "kernels/backend.h"

#include <stdexcept>

namespace sglang {

// Shape errors here are programming errors in model code, not user input: they throw.
Tensor::Tensor(std::shared_ptr<DeviceBuffer> buffer, DType dtype, std::vector<int64_t> shape,
               Layout layout)
    : buffer_(std::move(buffer)), dtype_(dtype), layout_(layout), shape_(std::move(shape)) {
  if (buffer_ && static_cast<size_t>(numel()) * dtype_size(dtype_) > buffer_->nbytes()) {
    throw std::logic_error("Tensor larger than its buffer");
  }
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

int64_t Tensor::cols() const {
  if (shape_.size() < 2) return numel();
  int64_t n = 1;
  for (size_t i = 1; i < shape_.size(); ++i) n *= shape_[i];
  return n;
}

Tensor Tensor::rows_view(int64_t begin, int64_t end) const {
  if (shape_.empty() || begin < 0 || end < begin || end > shape_[0]) {
    throw std::logic_error("rows_view out of range");
  }
  Tensor t = *this;
  t.offset_bytes_ += static_cast<size_t>(begin * row_stride()) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  t.row_stride_ = row_stride_;
  return t;
}

Tensor Tensor::cols_view(int64_t begin, int64_t end) const {
  if (shape_.size() != 2 || begin < 0 || end < begin || end > shape_[1]) {
    throw std::logic_error("cols_view needs a 2-D tensor and a range inside it");
  }
  Tensor t = *this;
  t.row_stride_ = row_stride();
  t.offset_bytes_ += static_cast<size_t>(begin) * dtype_size(dtype_);
  t.shape_[1] = end - begin;
  return t;
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
  if (!contiguous()) throw std::logic_error("reshaped needs a contiguous tensor");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  if (t.numel() != numel()) throw std::logic_error("reshaped changes the element count");
  t.row_stride_ = 0;
  return t;
}

}  // namespace sglang
