#include "kernels/cpu/cpu_backend.h"

#include <omp.h>
#include <sys/mman.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <span>
#include <stdexcept>
#include <type_traits>

#include "kernels/cpu/thread_pool.h"
#include "model/gguf_dequant.h"
#include "util/half.h"

namespace sglang {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// Host memory, 64-byte aligned at least.
class HostBuffer final : public DeviceBuffer {
 public:
  explicit HostBuffer(size_t nbytes) : nbytes_(nbytes) {
    // Large buffers (weights, KV cache) are 2 MiB aligned and asked to live on transparent huge
    // pages: decode streams every weight byte each step, and 4 KiB pages cost a TLB miss per page.
    const size_t align = nbytes >= kHugePage ? kHugePage : 64;
    const size_t rounded = (std::max<size_t>(nbytes, 1) + align - 1) / align * align;
#if !defined(__SANITIZE_ADDRESS__)
    if (align == kHugePage) {
      // Straight from the kernel: memory that is zero until first touched, so a large KV pool
      // costs nothing until it is used (and zeros() need not write it). Sanitizer builds keep the
      // heap, where ASan sees overflows.
      void* p = ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      const auto base = reinterpret_cast<uintptr_t>(p);
      const uintptr_t aligned = (base + kHugePage - 1) / kHugePage * kHugePage;
      if (aligned > base) ::munmap(p, aligned - base);
      const uintptr_t end = base + rounded + kHugePage;
      if (end > aligned + rounded) {
        ::munmap(reinterpret_cast<void*>(aligned + rounded), end - (aligned + rounded));
      }
      data_ = reinterpret_cast<void*>(aligned);
      mapped_bytes_ = rounded;
      ::madvise(data_, rounded, MADV_HUGEPAGE);
      return;
    }
#endif
    data_ = std::aligned_alloc(align, rounded);
    if (data_ == nullptr) throw std::bad_alloc();
    if (align == kHugePage) ::madvise(data_, rounded, MADV_HUGEPAGE);
  }
  ~HostBuffer() override {
    if (mapped_bytes_ != 0) {
      ::munmap(data_, mapped_bytes_);
    } else {
      std::free(data_);
    }
  }
  void* data() const override {
    return data_;
  }
  size_t nbytes() const override {
    return nbytes_;
  }
  // True while the memory is known to be all zeros (fresh from the kernel).
  bool fresh_zeros() const {
    return mapped_bytes_ != 0;
  }

 private:
  void* data_;
  size_t nbytes_;
  size_t mapped_bytes_ = 0;  // non-zero: an mmap of this size
};

float to_f32(const HostTensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kF32:
      return static_cast<const float*>(t.data)[i];
    case DType::kBF16:
      return bf16_to_f32(static_cast<const uint16_t*>(t.data)[i]);
    case DType::kF16:
      return f16_to_f32(static_cast<const uint16_t*>(t.data)[i]);
    default:
      throw std::invalid_argument("weights must be F32, F16 or BF16");
  }
}

void check(bool ok, const char* what) {
  if (!ok) throw std::logic_error(std::string("CpuBackend: ") + what);
}

// Copies the rows of `b` into panel layout (cpu_kernels.h) as rows row0.. of the packed weight,
// stored as `dtype`: a 16-bit source of that same dtype is copied bit for bit, anything else goes
// through float32 (exact) and is rounded to nearest even.
template <typename E>
void pack_rows(const HostTensor& b, int64_t row0, int64_t k, DType dtype, E* dst) {
  const int64_t rows = b.shape[0];
  const bool raw = !std::is_same_v<E, float> && b.dtype == dtype;
  uint16_t (*const round16)(float) = dtype == DType::kBF16 ? f32_to_bf16 : f32_to_f16;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n_idx = row0 + r;
    E* out = dst + (n_idx / cpu::kPanelRows) * k * cpu::kPanelRows + n_idx % cpu::kPanelRows;
    if constexpr (std::is_same_v<E, float>) {
      for (int64_t kk = 0; kk < k; ++kk) out[kk * cpu::kPanelRows] = to_f32(b, r * k + kk);
    } else if (raw) {
      const E* src = static_cast<const E*>(b.data) + r * k;
      for (int64_t kk = 0; kk < k; ++kk) out[kk * cpu::kPanelRows] = src[kk];
    } else {
      for (int64_t kk = 0; kk < k; ++kk) out[kk * cpu::kPanelRows] = round16(to_f32(b, r * k + kk));
    }
  }
}

// SGLang's per-channel int8 weights (layers/quantization/w8a8_int8.py: one scale per output row,
// |q| <= 127) in the Q8_0 layout that the integer kernels multiply: every block of a row carries
// the row's scale, amax / 127 rounded to f16, and the quants are rounded against that f16 value,
// so the weight the kernels see is exactly d * q, within d / 2 of the float weight (the clamp at
// 127 moves the largest by at most amax * 2^-11 more, from d's f16 rounding).
void quantize_rows_int8(const HostTensor& b, int64_t row0, int64_t k, uint8_t* dst) {
  constexpr int64_t kQK = 32;
  const size_t row_bytes = dtype_row_bytes(DType::kQ8_0, k);
  const int64_t rows = b.shape[0];
#pragma omp parallel
  {
    std::vector<float> x(static_cast<size_t>(k));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float amax = 0.0f;
      for (int64_t kk = 0; kk < k; ++kk) {
        x[kk] = to_f32(b, r * k + kk);
        amax = std::max(amax, std::fabs(x[kk]));
      }
      const uint16_t dh = f32_to_f16(amax / 127.0f);
      const float d = f16_to_f32(dh);
      const float id = d > 0.0f ? 1.0f / d : 0.0f;
      uint8_t* out = dst + static_cast<size_t>(row0 + r) * row_bytes;
      for (int64_t blk = 0; blk < k / kQK; ++blk) {
        uint8_t* o = out + blk * (kQK + 2);
        std::memcpy(o, &dh, 2);
        for (int64_t l = 0; l < kQK; ++l) {
          const float q =
              std::min(127.0f, std::max(-127.0f, std::nearbyint(x[blk * kQK + l] * id)));
          o[2 + l] = static_cast<uint8_t>(static_cast<int8_t>(q));
        }
      }
    }
  }
}

// The KV cache dtypes the attention kernels read (KvCache, --kv-cache-dtype).
void check_kv_dtype(DType dtype) {
  check(dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kF16,
        "the KV cache must be F32, BF16 or F16");
}

cpu::PackedWeight packed_view(const Tensor& w) {
  check(w.layout() == Layout::kPackedMatmul, "linear weight must come from load_matmul_weight");
  return {w.dtype(), w.dim(0), w.dim(1), w.data<void>()};
}

}  // namespace

CpuBackend::CpuBackend(int num_threads) : CpuBackend(cpu::best_kernels(), num_threads) {}

CpuBackend::CpuBackend(const cpu::CpuKernels& kernels, int num_threads)
    : kernels_(kernels), num_threads_(num_threads > 0 ? num_threads : omp_get_num_procs()) {
  omp_set_num_threads(num_threads_);
}

void CpuBackend::bind_calling_thread() {
  omp_set_num_threads(num_threads_);
}

std::string CpuBackend::name() const {
  return std::string("cpu (") + kernels_.isa + ", " + std::to_string(num_threads_) + " threads)";
}

Tensor CpuBackend::empty(DType dtype, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  auto buf = std::make_shared<HostBuffer>(static_cast<size_t>(n) * dtype_size(dtype));
  return Tensor(std::move(buf), dtype, std::move(shape));
}

Tensor CpuBackend::zeros(DType dtype, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  auto buf = std::make_shared<HostBuffer>(static_cast<size_t>(n) * dtype_size(dtype));
  if (!buf->fresh_zeros()) std::memset(buf->data(), 0, buf->nbytes());
  return Tensor(std::move(buf), dtype, std::move(shape));
}

Tensor CpuBackend::from_host(const void* data, DType dtype, std::vector<int64_t> shape) {
  Tensor t = empty(dtype, std::move(shape));
  if (t.numel() > 0)
    std::memcpy(t.data<void>(), data, static_cast<size_t>(t.numel()) * dtype_size(dtype));
  return t;
}

void CpuBackend::copy_from_host(const Tensor& dst, const void* src) {
  check(dst.contiguous(), "copy_from_host needs a contiguous tensor");
  if (dst.numel() == 0) return;
  std::memcpy(dst.data<void>(), src, static_cast<size_t>(dst.numel()) * dtype_size(dst.dtype()));
}

void CpuBackend::copy_to_host(const Tensor& src, void* dst) {
  if (src.numel() == 0) return;  // dst may be null then (an empty std::vector's data())
  const size_t row_bytes = static_cast<size_t>(src.cols()) * dtype_size(src.dtype());
  if (src.contiguous()) {
    // numel, not rows * cols: a 1-D tensor's cols() is its numel too.
    std::memcpy(dst, src.data<void>(), static_cast<size_t>(src.numel()) * dtype_size(src.dtype()));
    return;
  }
  const size_t stride = static_cast<size_t>(src.row_stride()) * dtype_size(src.dtype());
  for (int64_t r = 0; r < src.rows(); ++r) {
    std::memcpy(static_cast<char*>(dst) + r * row_bytes, src.data<char>() + r * stride, row_bytes);
  }
}

size_t CpuBackend::available_memory_bytes() const {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t value = 0;
  std::string unit;
  while (in >> key >> value >> unit) {
    if (key == "MemAvailable:") return value * 1024;
  }
  return 0;
}

Tensor CpuBackend::load_matmul_weight(const std::vector<HostTensor>& row_blocks,
                                      std::optional<DType> as) {
  check(!row_blocks.empty(), "load_matmul_weight needs at least one block");
  const int64_t k = row_blocks[0].shape.at(1);
  int64_t n = 0;
  DType dtype = row_blocks[0].dtype;
  bool any_quantized = false;
  for (const auto& b : row_blocks) {
    check(b.shape.size() == 2 && b.shape[1] == k, "row blocks must be 2-D with equal columns");
    n += b.shape[0];
    any_quantized = any_quantized || dtype_is_quantized(b.dtype);
    if (b.dtype != dtype) dtype = DType::kF32;  // mixed dtypes: widen to f32, exact for both
  }
  if (!as && dtype_is_quantized(dtype)) {
    // One block type throughout: kept as it is, the rows of the blocks concatenated (cpu_kernels.h)
    // in memory of our own, so the file's mmap need not outlive the load.
    check(k % dtype_block_elements(dtype) == 0, "a quantized row must be whole blocks");
    const size_t row_bytes = dtype_row_bytes(dtype, k);
    auto buf = std::make_shared<HostBuffer>(row_bytes * static_cast<size_t>(n));
    char* dst = static_cast<char*>(buf->data());
    for (const auto& b : row_blocks) {
      std::memcpy(dst, b.data, b.nbytes());
      dst += b.nbytes();
    }
    return Tensor(std::move(buf), dtype, {n, k}, Layout::kPackedMatmul);
  }
  if (any_quantized) {
    // Asked for a float dtype, or block types mixed (with each other or with floats): the blocks
    // are dequantized, to bfloat16 unless a dtype is asked for.
    std::vector<std::vector<float>> values;
    std::vector<HostTensor> floats;
    for (const auto& b : row_blocks) {
      if (!dtype_is_quantized(b.dtype)) {
        floats.push_back(b);
        continue;
      }
      values.emplace_back(static_cast<size_t>(b.numel()));
      const Status st = dequantize(ggml_type_of(b.dtype),
                                   std::span(static_cast<const uint8_t*>(b.data), b.nbytes()),
                                   b.numel(), values.back().data());
      check(st.ok(), "quantized weight bytes do not match its shape");
      floats.push_back({DType::kF32, b.shape, values.back().data()});
    }
    return load_matmul_weight(floats, as.value_or(DType::kBF16));
  }
  if (quantize_int8_ && k % dtype_block_elements(DType::kQ8_0) == 0) {
    const size_t row_bytes = dtype_row_bytes(DType::kQ8_0, k);
    auto buf = std::make_shared<HostBuffer>(row_bytes * static_cast<size_t>(n));
    int64_t row0 = 0;
    for (const auto& b : row_blocks) {
      quantize_rows_int8(b, row0, k, static_cast<uint8_t*>(buf->data()));
      row0 += b.shape[0];
    }
    return Tensor(std::move(buf), DType::kQ8_0, {n, k}, Layout::kPackedMatmul);
  }
  if (as) dtype = *as;
  check(dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16,
        "weights must be float");
  const int64_t panels = (n + cpu::kPanelRows - 1) / cpu::kPanelRows;
  const size_t esize = dtype_size(dtype);
  auto buf =
      std::make_shared<HostBuffer>(static_cast<size_t>(panels * cpu::kPanelRows * k) * esize);
  if (!buf->fresh_zeros()) std::memset(buf->data(), 0, buf->nbytes());  // padding rows stay 0
  int64_t row0 = 0;
  for (const auto& b : row_blocks) {
    if (dtype == DType::kF32) {
      pack_rows<float>(b, row0, k, dtype, static_cast<float*>(buf->data()));
    } else {
      pack_rows<uint16_t>(b, row0, k, dtype, static_cast<uint16_t*>(buf->data()));
    }
    row0 += b.shape[0];
  }
  return Tensor(std::move(buf), dtype, {n, k}, Layout::kPackedMatmul);
}

Status CpuBackend::set_weight_quantization(const std::string& method) {
  if (method.empty() || method == "w8a8_int8") {
    quantize_int8_ = !method.empty();
    return Status();
  }
  return make_error(ErrorCode::kUnsupported, "--quantization " + method +
                                                 " is not supported on the CPU backend (w8a8_int8 "
                                                 "is: int8 weights per channel, int8 activations)");
}

Tensor CpuBackend::load_vector(const std::vector<HostTensor>& parts) {
  int64_t n = 0;
  for (const auto& p : parts) n += p.numel();
  Tensor t = empty(DType::kF32, {n});
  float* out = t.data<float>();
  for (const auto& p : parts) {
    for (int64_t i = 0; i < p.numel(); ++i) *out++ = to_f32(p, i);
  }
  return t;
}

void CpuBackend::embedding(const Tensor& ids, const Tensor& table, const Tensor& out) {
  const cpu::PackedWeight w = packed_view(table);
  check(out.cols() == w.k && out.rows() == ids.numel(), "embedding shapes");
  const int32_t* id = ids.data<int32_t>();
  const int64_t tokens = ids.numel();
  if (dtype_is_quantized(w.dtype)) {
    // One row of blocks per token, dequantized exactly as the file's values (gguf_dequant.h).
    const size_t row_bytes = dtype_row_bytes(w.dtype, w.k);
    for (int64_t t = 0; t < tokens; ++t) {
      check(id[t] >= 0 && id[t] < w.n, "token id out of range");
      const auto* row =
          static_cast<const uint8_t*>(w.data) + static_cast<size_t>(id[t]) * row_bytes;
      const Status st = dequantize(ggml_type_of(w.dtype), std::span(row, row_bytes), w.k,
                                   out.data<float>() + t * out.row_stride());
      check(st.ok(), "quantized embedding row");
    }
    return;
  }
  for (int64_t t = 0; t < tokens; ++t) {
    check(id[t] >= 0 && id[t] < w.n, "token id out of range");
    const int64_t p = id[t] / cpu::kPanelRows, lane = id[t] % cpu::kPanelRows;
    float* o = out.data<float>() + t * out.row_stride();
    for (int64_t kk = 0; kk < w.k; ++kk) {
      const int64_t idx = (p * w.k + kk) * cpu::kPanelRows + lane;
      switch (w.dtype) {
        case DType::kF32:
          o[kk] = static_cast<const float*>(w.data)[idx];
          break;
        case DType::kBF16:
          o[kk] = bf16_to_f32(static_cast<const uint16_t*>(w.data)[idx]);
          break;
        default:
          o[kk] = f16_to_f32(static_cast<const uint16_t*>(w.data)[idx]);
          break;
      }
    }
  }
}

void CpuBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
  const int64_t width = weight.numel();
  check(width > 0 && x.cols() % width == 0 && out.cols() == x.cols() && out.rows() == x.rows(),
        "rms_norm shapes");
  // A weight narrower than the row normalises each `width`-wide group on its own (per-head q/k
  // norms); one call per group keeps the kernel a plain row norm.
  for (int64_t g = 0; g < x.cols(); g += width) {
    kernels_.rms_norm(x.data<float>() + g, x.row_stride(), weight.data<float>(), x.rows(), width,
                      eps, out.data<float>() + g, out.row_stride());
  }
}

void CpuBackend::add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight,
                              float eps, const Tensor& out) {
  check(x.cols() == weight.numel() && residual.cols() == x.cols() && residual.rows() == x.rows() &&
            out.cols() == x.cols() && out.rows() == x.rows(),
        "add_rms_norm shapes");
  kernels_.add_rms_norm(residual.data<float>(), residual.row_stride(), x.data<float>(),
                        x.row_stride(), weight.data<float>(), x.rows(), x.cols(), eps,
                        out.data<float>(), out.row_stride());
}

void CpuBackend::linear(const Tensor& x, const Tensor& weight, const Tensor* bias,
                        const Tensor& out) {
  const cpu::PackedWeight w = packed_view(weight);
  check(x.cols() == w.k && out.cols() == w.n && out.rows() == x.rows(), "linear shapes");
  check(bias == nullptr || bias->numel() == w.n, "linear bias shape");
  auto* const kernel = dtype_is_quantized(w.dtype) ? kernels_.quant_linear : kernels_.linear;
  const auto t0 =
      profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  kernel(x.data<float>(), x.row_stride(), x.rows(), w, bias ? bias->data<float>() : nullptr,
         out.data<float>(), out.row_stride());
  if (profiling_) {
    profile_.linear_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++profile_.linear_calls;
  }
}

void CpuBackend::rope_cos_sin(const Tensor& positions, const Tensor& inv_freq,
                              const Tensor& cos_sin) {
  const int64_t half = inv_freq.numel();
  check(cos_sin.cols() == 2 * half && cos_sin.rows() == positions.numel(), "rope_cos_sin shapes");
  const int32_t* pos = positions.data<int32_t>();
  const float* f = inv_freq.data<float>();
  for (int64_t t = 0; t < positions.numel(); ++t) {
    float* cs = cos_sin.data<float>() + t * cos_sin.row_stride();
    for (int64_t i = 0; i < half; ++i) {
      // As HF: the angle is a float32 product; cos/sin of it rounded once to float32.
      const float angle = f[i] * static_cast<float>(pos[t]);
      cs[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      cs[half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
}

void CpuBackend::apply_rope(const Tensor& x, const Tensor& cos_sin, int64_t head_dim) {
  const int64_t rotary = cos_sin.cols();
  check(x.cols() % head_dim == 0 && rotary <= head_dim && rotary % 2 == 0 && cos_sin.contiguous() &&
            cos_sin.rows() == x.rows(),
        "apply_rope shapes");
  const int64_t heads = x.cols() / head_dim;
  if (rotary == head_dim) {
    kernels_.apply_rope(x.data<float>(), x.row_stride(), x.rows(), heads, head_dim,
                        cos_sin.data<float>());
    return;
  }
  // Partial rotary (transformers' Phi3 apply_rotary_pos_emb: q[..., :rotary_dim] rotates, the
  // rest passes): each head's leading `rotary` columns are a one-head tensor of that width.
  for (int64_t h = 0; h < heads; ++h) {
    kernels_.apply_rope(x.data<float>() + h * head_dim, x.row_stride(), x.rows(), 1, rotary,
                        cos_sin.data<float>());
  }
}

void CpuBackend::store_kv(const Tensor& k, const Tensor& v, const AttentionMetadata& meta,
                          const Tensor& k_cache, const Tensor& v_cache) {
  check(k.cols() == k_cache.cols() && v.cols() == v_cache.cols() && k.cols() == v.cols() &&
            k.rows() == meta.num_tokens && k_cache.dtype() == v_cache.dtype() &&
            k_cache.row_stride() == v_cache.row_stride(),
        "store_kv shapes");
  check_kv_dtype(k_cache.dtype());
  const int32_t* slots = meta.slot_mapping.data<int32_t>();
  for (int64_t t = 0; t < k.rows(); ++t) {
    check(slots[t] >= 0 && slots[t] < k_cache.rows() && slots[t] < v_cache.rows(),
          "KV slot out of range");
  }
  kernels_.store_kv(k.data<float>(), k.row_stride(), v.data<float>(), v.row_stride(), k.rows(),
                    k.cols(), slots, k_cache.dtype(), k_cache.data<void>(), v_cache.data<void>(),
                    k_cache.row_stride());
}

void CpuBackend::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                           const AttentionMetadata& meta, const AttentionParams& p,
                           const Tensor& out) {
  check(q.cols() == p.num_heads * p.head_dim && out.cols() == q.cols() && out.rows() == q.rows(),
        "attention shapes");
  check(k_cache.cols() == p.num_kv_heads * p.head_dim && k_cache.contiguous() &&
            v_cache.contiguous() && k_cache.dtype() == v_cache.dtype(),
        "attention cache shapes");
  check(p.num_kv_heads > 0 && p.num_heads % p.num_kv_heads == 0, "attention head counts");
  check_kv_dtype(k_cache.dtype());
  cpu::AttentionArgs a{q.data<float>(),
                       q.row_stride(),
                       k_cache.data<void>(),
                       v_cache.data<void>(),
                       k_cache.row_stride(),
                       meta.seq_info.data<int32_t>(),
                       meta.page_table.data<int32_t>(),
                       meta.num_seqs,
                       meta.page_size,
                       p.num_heads,
                       p.num_kv_heads,
                       p.head_dim,
                       p.scale,
                       p.sliding_window,
                       out.data<float>(),
                       out.row_stride()};
  a.causal = p.causal;
  a.kv_dtype = k_cache.dtype();
  a.softcap = p.softcap;
  check(p.causal || p.sliding_window == 0, "bidirectional attention has no sliding window");
  const auto t0 =
      profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  kernels_.attention(a);  // on the worker pool (thread_pool.h), as every forward kernel
  if (profiling_) {
    profile_.attention_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++profile_.attention_calls;
  }
}

void CpuBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                            const Tensor& out) {
  check(x.cols() == weight.numel() && x.cols() == bias.numel() && out.cols() == x.cols() &&
            out.rows() == x.rows(),
        "layer_norm shapes");
  kernels_.layer_norm(x.data<float>(), x.row_stride(), weight.data<float>(), bias.data<float>(),
                      x.rows(), x.cols(), eps, out.data<float>(), out.row_stride());
}

// ops_isa.cpp numbers the activations the same way.
static_assert(static_cast<int>(Activation::kGelu) == 0 &&
              static_cast<int>(Activation::kGeluTanh) == 1 &&
              static_cast<int>(Activation::kRelu) == 2 &&
              static_cast<int>(Activation::kTanh) == 3 &&
              static_cast<int>(Activation::kSigmoid) == 4);

void CpuBackend::activation(Activation f, const Tensor& x, const Tensor& out) {
  check(out.rows() == x.rows() && out.cols() == x.cols(), "activation shapes");
  kernels_.activation(static_cast<int>(f), x.data<float>(), x.row_stride(), x.rows(), x.cols(),
                      out.data<float>(), out.row_stride());
}

void CpuBackend::silu_and_mul(const Tensor& gate_up, const Tensor& out) {
  check(gate_up.cols() == 2 * out.cols() && gate_up.rows() == out.rows(), "silu_and_mul shapes");
  kernels_.silu_and_mul(gate_up.data<float>(), gate_up.row_stride(), out.rows(), out.cols(),
                        out.data<float>(), out.row_stride());
}

void CpuBackend::gated_activation(Activation f, const Tensor& gate_up, const Tensor& out) {
  check(gate_up.cols() == 2 * out.cols() && gate_up.rows() == out.rows(),
        "gated_activation shapes");
  kernels_.gated_activation(static_cast<int>(f), gate_up.data<float>(), gate_up.row_stride(),
                            out.rows(), out.cols(), out.data<float>(), out.row_stride());
}

void CpuBackend::scale(const Tensor& x, float factor, const Tensor& out) {
  check(out.rows() == x.rows() && out.cols() == x.cols(), "scale shapes");
  kernels_.scale(x.data<float>(), x.row_stride(), x.rows(), x.cols(), factor, out.data<float>(),
                 out.row_stride());
}

void CpuBackend::soft_cap(const Tensor& x, float cap, const Tensor& out) {
  check(cap > 0.0f && out.rows() == x.rows() && out.cols() == x.cols(), "soft_cap shapes");
  kernels_.soft_cap(x.data<float>(), x.row_stride(), x.rows(), x.cols(), cap, out.data<float>(),
                    out.row_stride());
}

void CpuBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  check(a.rows() == b.rows() && a.cols() == b.cols() && out.rows() == a.rows() &&
            out.cols() == a.cols(),
        "add shapes");
  kernels_.add(a.data<float>(), a.row_stride(), b.data<float>(), b.row_stride(), a.rows(), a.cols(),
               out.data<float>(), out.row_stride());
}

void CpuBackend::gather_rows(const Tensor& x, const Tensor& rows, const Tensor& out) {
  check(out.rows() == rows.numel() && out.cols() == x.cols(), "gather_rows shapes");
  const int32_t* r = rows.data<int32_t>();
  const size_t row_bytes = static_cast<size_t>(x.cols()) * dtype_size(x.dtype());
  const size_t esize = dtype_size(x.dtype());
  for (int64_t i = 0; i < rows.numel(); ++i) {
    check(r[i] >= 0 && r[i] < x.rows(), "gather_rows index out of range");
    std::memcpy(out.data<char>() + static_cast<size_t>(i * out.row_stride()) * esize,
                x.data<char>() + static_cast<size_t>(r[i] * x.row_stride()) * esize, row_bytes);
  }
}

}  // namespace sglang
