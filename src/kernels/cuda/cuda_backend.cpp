// CudaBackend's host side: device memory, weight upload, cuBLAS GEMMs and the checks and launches
// of every op (the kernels are in the .cu files named after what they hold; cuda_launch.h lists
// them). Plain C++ under the engine's warnings; only the kernel files go through nvcc.
#include "kernels/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/cuda_launch.h"
#include "model/gguf_dequant.h"
#include "util/half.h"

namespace sglang {

using cuda::check_cuda;
using cuda::ConstView;
using cuda::require;
using cuda::View;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

void check_blas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("cuBLAS: ") + what + ": status " +
                             std::to_string(static_cast<int>(st)));
  }
}

// Device memory from the stream-ordered allocator (cudaMallocAsync), or an exception that says what
// was asked and what the GPU had: out of memory is an error the caller reports (a start error when
// the weights or the KV pool do not fit), never an abort. Stream-ordered, because every forward
// makes and drops its activation and metadata tensors: cudaFree would wait for the whole device
// each time, cudaFreeAsync hands the block back to the pool in stream order, without a wait.
void* device_alloc(size_t nbytes, int gpu_id, cudaStream_t stream) {
  void* p = nullptr;
  const cudaError_t e = cudaMallocAsync(&p, std::max<size_t>(nbytes, 1), stream);
  if (e == cudaSuccess) return p;
  (void)cudaGetLastError();  // clear the allocation error
  size_t free_b = 0, total_b = 0;
  (void)cudaMemGetInfo(&free_b, &total_b);
  char msg[256];
  std::snprintf(msg, sizeof(msg),
                "CUDA out of memory on GPU %d: needed %.1f MiB, %.1f MiB free of %.1f MiB (%s)",
                gpu_id, static_cast<double>(nbytes) / kMiB, static_cast<double>(free_b) / kMiB,
                static_cast<double>(total_b) / kMiB, cudaGetErrorString(e));
  throw std::runtime_error(msg);
}

// The backend's stream, destroyed when the backend and every buffer freed on it are gone (a
// tensor may outlive the backend that made it).
using StreamRef = std::shared_ptr<std::remove_pointer_t<cudaStream_t>>;

class CudaBuffer final : public DeviceBuffer {
 public:
  CudaBuffer(size_t nbytes, int gpu_id, StreamRef stream)
      : data_(device_alloc(nbytes, gpu_id, stream.get())),
        nbytes_(nbytes),
        stream_(std::move(stream)) {}
  ~CudaBuffer() override {
    (void)cudaFreeAsync(data_, stream_.get());  // after the work queued before it
  }
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  void* data() const override { return data_; }
  size_t nbytes() const override { return nbytes_; }

 private:
  void* data_;
  size_t nbytes_;
  StreamRef stream_;
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

ConstView cview(const Tensor& t) {
  return {t.data<float>(), t.row_stride()};
}
View view(const Tensor& t) {
  return {t.data<float>(), t.row_stride()};
}

void check_f32(const Tensor& t, const char* what) {
  require(t.dtype() == DType::kF32, what);
}

}  // namespace

struct CudaBackend::State {
  StreamRef stream_ref;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  void* scratch = nullptr;
  size_t scratch_bytes = 0;
  int* error_flag = nullptr;  // device int: a kernel saw an index out of range
  int num_sms = 0;
  std::string device_name;
};

CudaBackend::CudaBackend(int gpu_id) : gpu_id_(gpu_id), state_(std::make_unique<State>()) {
  check_cuda(cudaSetDevice(gpu_id), "cudaSetDevice");
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, gpu_id), "cudaGetDeviceProperties");
  state_->num_sms = prop.multiProcessorCount;
  state_->device_name = prop.name;
  check_cuda(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking), "stream");
  state_->stream_ref = StreamRef(state_->stream, [](cudaStream_t s) {
    (void)cudaStreamSynchronize(s);
    (void)cudaStreamDestroy(s);
  });
  // Freed blocks stay in the pool for the next forward instead of going back to the driver at
  // every synchronisation (the pool's default release threshold is 0).
  cudaMemPool_t pool = nullptr;
  check_cuda(cudaDeviceGetDefaultMemPool(&pool, gpu_id), "cudaDeviceGetDefaultMemPool");
  uint64_t keep = UINT64_MAX;
  check_cuda(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep),
             "cudaMemPoolSetAttribute");
  check_blas(cublasCreate(&state_->blas), "cublasCreate");
  check_blas(cublasSetStream(state_->blas, state_->stream), "cublasSetStream");
  // fp32 GEMMs stay fp32 (no TF32): the f32-weight path is the accurate one.
  check_blas(cublasSetMathMode(state_->blas, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
  check_cuda(cudaMalloc(reinterpret_cast<void**>(&state_->error_flag), sizeof(int)),
             "cudaMalloc error flag");
  check_cuda(cudaMemsetAsync(state_->error_flag, 0, sizeof(int), state_->stream), "memset");
}

CudaBackend::~CudaBackend() {
  (void)cudaStreamSynchronize(state_->stream);
  if (state_->scratch) (void)cudaFreeAsync(state_->scratch, state_->stream);
  if (state_->error_flag) (void)cudaFree(state_->error_flag);
  if (state_->blas) (void)cublasDestroy(state_->blas);
  // The stream itself goes with the last buffer (stream_ref).
}

std::string CudaBackend::name() const {
  return "cuda (GPU " + std::to_string(gpu_id_) + ": " + state_->device_name + ", " +
         std::to_string(state_->num_sms) + " SMs)";
}

void CudaBackend::bind_calling_thread() {
  check_cuda(cudaSetDevice(gpu_id_), "cudaSetDevice");
}

void* CudaBackend::scratch(size_t bytes) {
  if (bytes <= state_->scratch_bytes) return state_->scratch;
  // Grown, never shrunk; freed in stream order, after the ops still reading the old one.
  if (state_->scratch) check_cuda(cudaFreeAsync(state_->scratch, state_->stream), "scratch free");
  state_->scratch = nullptr;
  state_->scratch_bytes = 0;
  const size_t grown = std::max(bytes, size_t{1} << 20);
  state_->scratch = device_alloc(grown, gpu_id_, state_->stream);
  state_->scratch_bytes = grown;
  return state_->scratch;
}

void CudaBackend::synchronize() {
  check_cuda(cudaStreamSynchronize(state_->stream), "cudaStreamSynchronize");
  int flag = 0;
  check_cuda(cudaMemcpy(&flag, state_->error_flag, sizeof(int), cudaMemcpyDeviceToHost),
             "error flag");
  if (flag != 0) {
    check_cuda(cudaMemsetAsync(state_->error_flag, 0, sizeof(int), state_->stream),
               "error flag reset");
    throw std::logic_error(
        "CudaBackend: an op read an index out of range (token id, row, KV slot or MoE slot)");
  }
}

// --- memory ---

Tensor CudaBackend::empty(DType dtype, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  auto buf = std::make_shared<CudaBuffer>(static_cast<size_t>(n) * dtype_size(dtype), gpu_id_,
                                          state_->stream_ref);
  return Tensor(std::move(buf), dtype, std::move(shape));
}

Tensor CudaBackend::zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor t = empty(dtype, std::move(shape));
  check_cuda(cudaMemsetAsync(t.data<void>(), 0, static_cast<size_t>(t.numel()) * dtype_size(dtype),
                             state_->stream),
             "cudaMemsetAsync");
  return t;
}

Tensor CudaBackend::from_host(const void* data, DType dtype, std::vector<int64_t> shape) {
  Tensor t = empty(dtype, std::move(shape));
  copy_from_host(t, data);
  return t;
}

void CudaBackend::copy_from_host(const Tensor& dst, const void* src) {
  require(dst.contiguous(), "copy_from_host needs a contiguous tensor");
  if (dst.numel() == 0) return;
  // From pageable memory the call returns once `src` has been staged, so the caller may reuse it.
  check_cuda(cudaMemcpyAsync(dst.data<void>(), src,
                             static_cast<size_t>(dst.numel()) * dtype_size(dst.dtype()),
                             cudaMemcpyHostToDevice, state_->stream),
             "copy_from_host");
}

void CudaBackend::copy_to_host(const Tensor& src, void* dst) {
  if (src.numel() == 0) return;
  const size_t esize = dtype_size(src.dtype());
  if (src.contiguous()) {
    check_cuda(cudaMemcpyAsync(dst, src.data<void>(), static_cast<size_t>(src.numel()) * esize,
                               cudaMemcpyDeviceToHost, state_->stream),
               "copy_to_host");
  } else {
    const size_t row_bytes = static_cast<size_t>(src.cols()) * esize;
    check_cuda(
        cudaMemcpy2DAsync(dst, row_bytes, src.data<void>(),
                          static_cast<size_t>(src.row_stride()) * esize, row_bytes,
                          static_cast<size_t>(src.rows()), cudaMemcpyDeviceToHost, state_->stream),
        "copy_to_host (strided)");
  }
  synchronize();
}

size_t CudaBackend::available_memory_bytes() const {
  size_t free_b = 0, total_b = 0;
  check_cuda(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
  return free_b;
}

// --- weights ---

Tensor CudaBackend::load_matmul_weight(const std::vector<HostTensor>& row_blocks,
                                       std::optional<DType> as) {
  require(!row_blocks.empty(), "load_matmul_weight needs at least one block");
  const int64_t k = row_blocks[0].shape.at(1);
  int64_t n = 0;
  DType dtype = row_blocks[0].dtype;
  bool any_quantized = false;
  for (const auto& b : row_blocks) {
    require(b.shape.size() == 2 && b.shape[1] == k, "row blocks must be 2-D with equal columns");
    n += b.shape[0];
    any_quantized = any_quantized || dtype_is_quantized(b.dtype);
    if (b.dtype != dtype) dtype = DType::kF32;  // mixed: widen to f32, exact for both
  }
  if (any_quantized) {
    // No quantized GEMM on the GPU yet: GGUF blocks are dequantized (exactly, as the gguf
    // package) and stored as bf16 unless a dtype is asked for.
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
      require(st.ok(), "quantized weight bytes do not match its shape");
      floats.push_back({DType::kF32, b.shape, values.back().data()});
    }
    return load_matmul_weight(floats, as.value_or(DType::kBF16));
  }
  if (as) dtype = *as;
  require(dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16,
          "weights must be float");
  // Row-major [N, K] in `dtype` (cuBLAS reads it as a column-major K x N matrix, transposed).
  const size_t esize = dtype_size(dtype);
  std::vector<char> host(static_cast<size_t>(n * k) * esize);
  char* dst = host.data();
  uint16_t (*const round16)(float) = dtype == DType::kBF16 ? f32_to_bf16 : f32_to_f16;
  for (const auto& b : row_blocks) {
    const int64_t count = b.numel();
    if (b.dtype == dtype) {
      std::memcpy(dst, b.data, static_cast<size_t>(count) * esize);
    } else if (dtype == DType::kF32) {
      auto* out = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < count; ++i) out[i] = to_f32(b, i);
    } else {
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < count; ++i) out[i] = round16(to_f32(b, i));
    }
    dst += static_cast<size_t>(count) * esize;
  }
  auto buf = std::make_shared<CudaBuffer>(host.size(), gpu_id_, state_->stream_ref);
  Tensor t(std::move(buf), dtype, {n, k}, Layout::kPackedMatmul);
  // On the backend's stream (a legacy-stream cudaMemcpy would not order against it); from pageable
  // memory it returns once `host` is staged, so freeing it on return is safe.
  check_cuda(cudaMemcpyAsync(t.data<void>(), host.data(), host.size(), cudaMemcpyHostToDevice,
                             state_->stream),
             "weight upload");
  return t;
}

Tensor CudaBackend::load_vector(const std::vector<HostTensor>& parts) {
  int64_t n = 0;
  for (const auto& p : parts) n += p.numel();
  std::vector<float> host;
  host.reserve(static_cast<size_t>(n));
  for (const auto& p : parts) {
    for (int64_t i = 0; i < p.numel(); ++i) host.push_back(to_f32(p, i));
  }
  Tensor t = empty(DType::kF32, {n});
  if (n > 0) {
    check_cuda(cudaMemcpyAsync(t.data<void>(), host.data(), host.size() * sizeof(float),
                               cudaMemcpyHostToDevice, state_->stream),
               "vector upload");
  }
  return t;
}

// --- ops ---

void CudaBackend::embedding(const Tensor& ids, const Tensor& table, const Tensor& out) {
  require(table.layout() == Layout::kPackedMatmul, "embedding table must be a matmul weight");
  require(out.cols() == table.dim(1) && out.rows() == ids.numel(), "embedding shapes");
  cuda::launch_embedding(ids.data<int32_t>(), ids.numel(), table.data<void>(), table.dtype(),
                         table.dim(0), table.dim(1), view(out), state_->error_flag, state_->stream);
}

void CudaBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
  const int64_t width = weight.numel();
  require(width > 0 && x.cols() % width == 0 && out.cols() == x.cols() && out.rows() == x.rows(),
          "rms_norm shapes");
  check_f32(x, "rms_norm: x must be F32");
  cuda::launch_rms_norm(cview(x), weight.data<float>(), x.rows(), width, x.cols() / width, eps,
                        view(out), state_->stream);
}

void CudaBackend::add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight,
                               float eps, const Tensor& out) {
  require(x.cols() == weight.numel() && residual.cols() == x.cols() &&
              residual.rows() == x.rows() && out.cols() == x.cols() && out.rows() == x.rows(),
          "add_rms_norm shapes");
  cuda::launch_add_rms_norm(view(residual), cview(x), weight.data<float>(), x.rows(), x.cols(), eps,
                            view(out), state_->stream);
}

void CudaBackend::linear(const Tensor& x, const Tensor& weight, const Tensor* bias,
                         const Tensor& out) {
  require(weight.layout() == Layout::kPackedMatmul,
          "linear weight must come from load_matmul_weight");
  const int64_t n = weight.dim(0), k = weight.dim(1), t = x.rows();
  require(x.cols() == k && out.cols() == n && out.rows() == t, "linear shapes");
  require(bias == nullptr || bias->numel() == n, "linear bias shape");
  if (t == 0) return;
  // Row-major out[T, N] is column-major out^T [N, T] (ld = out's row stride): out^T = W x^T with W
  // row-major [N, K] read as column-major [K, N] transposed, x^T column-major [K, T].
  const float one = 1.0f, zero = 0.0f;
  const int m_ = static_cast<int>(n), n_ = static_cast<int>(t), k_ = static_cast<int>(k);
  const int ldc = static_cast<int>(out.row_stride());
  if (weight.dtype() == DType::kF32) {
    check_blas(cublasGemmEx(state_->blas, CUBLAS_OP_T, CUBLAS_OP_N, m_, n_, k_, &one,
                            weight.data<void>(), CUDA_R_32F, k_, x.data<void>(), CUDA_R_32F,
                            static_cast<int>(x.row_stride()), &zero, out.data<void>(), CUDA_R_32F,
                            ldc, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT),
               "fp32 GEMM");
  } else {
    // The activations rounded to the weight's 16-bit type once, then a tensor-core GEMM with fp32
    // accumulation and an fp32 result (cuda_backend.h says why).
    const cudaDataType_t type = weight.dtype() == DType::kBF16 ? CUDA_R_16BF : CUDA_R_16F;
    void* x16 = scratch(static_cast<size_t>(t * k) * 2);
    cuda::launch_round_rows(cview(x), t, k, weight.dtype(), x16, state_->stream);
    check_blas(cublasGemmEx(state_->blas, CUBLAS_OP_T, CUBLAS_OP_N, m_, n_, k_, &one,
                            weight.data<void>(), type, k_, x16, type, k_, &zero, out.data<void>(),
                            CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "16-bit GEMM");
  }
  if (bias) cuda::launch_add_bias(view(out), bias->data<float>(), t, n, state_->stream);
}

void CudaBackend::rope_cos_sin(const Tensor& positions, const Tensor& inv_freq,
                               const Tensor& cos_sin) {
  const int64_t half = inv_freq.numel();
  require(cos_sin.cols() == 2 * half && cos_sin.rows() == positions.numel(), "rope_cos_sin shapes");
  cuda::launch_rope_cos_sin(positions.data<int32_t>(), positions.numel(), inv_freq.data<float>(),
                            half, view(cos_sin), state_->stream);
}

void CudaBackend::apply_rope(const Tensor& x, const Tensor& cos_sin, int64_t head_dim) {
  const int64_t rotary = cos_sin.cols();
  require(x.cols() % head_dim == 0 && rotary <= head_dim && rotary % 2 == 0 &&
              cos_sin.contiguous() && cos_sin.rows() == x.rows(),
          "apply_rope shapes");
  cuda::launch_apply_rope(view(x), x.rows(), x.cols() / head_dim, head_dim, cos_sin.data<float>(),
                          rotary, state_->stream);
}

void CudaBackend::store_kv(const Tensor& k, const Tensor& v, const AttentionMetadata& meta,
                           const Tensor& k_cache, const Tensor& v_cache) {
  require(k.cols() == k_cache.cols() && v.cols() == v_cache.cols() && k.cols() == v.cols() &&
              k.rows() == meta.num_tokens && k_cache.dtype() == v_cache.dtype() &&
              k_cache.row_stride() == v_cache.row_stride() && k_cache.rows() == v_cache.rows(),
          "store_kv shapes");
  cuda::launch_store_kv(cview(k), cview(v), k.rows(), k.cols(), meta.slot_mapping.data<int32_t>(),
                        k_cache.rows(), k_cache.dtype(), k_cache.data<void>(), v_cache.data<void>(),
                        k_cache.row_stride(), state_->error_flag, state_->stream);
}

void CudaBackend::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                            const AttentionMetadata& meta, const AttentionParams& p,
                            const Tensor& out) {
  require(q.cols() == p.num_heads * p.head_dim && out.cols() == q.cols() && out.rows() == q.rows(),
          "attention shapes");
  require(k_cache.cols() == p.num_kv_heads * p.head_dim && k_cache.contiguous() &&
              v_cache.contiguous() && k_cache.dtype() == v_cache.dtype(),
          "attention cache shapes");
  require(p.causal || p.sliding_window == 0, "bidirectional attention has no sliding window");
  require(meta.num_tokens == q.rows() && meta.num_seqs >= 1 && meta.page_size >= 1,
          "attention metadata");
  cuda::AttentionLaunch a{};
  a.q = q.data<float>();
  a.q_stride = q.row_stride();
  a.k_cache = k_cache.data<void>();
  a.v_cache = v_cache.data<void>();
  a.kv_stride = k_cache.row_stride();
  a.kv_dtype = k_cache.dtype();
  a.seq_info = meta.seq_info.data<int32_t>();
  a.page_table = meta.page_table.data<int32_t>();
  a.num_seqs = meta.num_seqs;
  a.num_tokens = meta.num_tokens;
  a.max_kv_len = meta.max_kv_len;
  a.page_size = meta.page_size;
  a.num_heads = p.num_heads;
  a.num_kv_heads = p.num_kv_heads;
  a.head_dim = p.head_dim;
  a.scale = p.scale;
  a.softcap = p.softcap;
  a.sliding_window = p.sliding_window;
  a.causal = p.causal;
  a.out = out.data<float>();
  a.out_stride = out.row_stride();
  a.num_sms = state_->num_sms;
  const size_t bytes = cuda::attention_scratch_bytes(a);
  cuda::launch_attention(a, bytes ? scratch(bytes) : nullptr, state_->stream);
}

void CudaBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                             const Tensor& out) {
  require(x.cols() == weight.numel() && x.cols() == bias.numel() && out.cols() == x.cols() &&
              out.rows() == x.rows(),
          "layer_norm shapes");
  cuda::launch_layer_norm(cview(x), weight.data<float>(), bias.data<float>(), x.rows(), x.cols(),
                          eps, view(out), state_->stream);
}

void CudaBackend::activation(Activation f, const Tensor& x, const Tensor& out) {
  require(out.rows() == x.rows() && out.cols() == x.cols(), "activation shapes");
  cuda::launch_activation(static_cast<int>(f), cview(x), x.rows(), x.cols(), view(out),
                          state_->stream);
}

void CudaBackend::silu_and_mul(const Tensor& gate_up, const Tensor& out) {
  require(gate_up.cols() == 2 * out.cols() && gate_up.rows() == out.rows(), "silu_and_mul shapes");
  cuda::launch_gated(-1, cview(gate_up), out.rows(), out.cols(), view(out), state_->stream);
}

void CudaBackend::gated_activation(Activation f, const Tensor& gate_up, const Tensor& out) {
  require(gate_up.cols() == 2 * out.cols() && gate_up.rows() == out.rows(),
          "gated_activation shapes");
  cuda::launch_gated(static_cast<int>(f), cview(gate_up), out.rows(), out.cols(), view(out),
                     state_->stream);
}

void CudaBackend::scale(const Tensor& x, float factor, const Tensor& out) {
  require(out.rows() == x.rows() && out.cols() == x.cols(), "scale shapes");
  cuda::launch_scale(cview(x), x.rows(), x.cols(), factor, view(out), state_->stream);
}

void CudaBackend::soft_cap(const Tensor& x, float cap, const Tensor& out) {
  require(cap > 0.0f && out.rows() == x.rows() && out.cols() == x.cols(), "soft_cap shapes");
  cuda::launch_soft_cap(cview(x), x.rows(), x.cols(), cap, view(out), state_->stream);
}

void CudaBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
  require(a.rows() == b.rows() && a.cols() == b.cols() && out.rows() == a.rows() &&
              out.cols() == a.cols(),
          "add shapes");
  cuda::launch_add(cview(a), cview(b), a.rows(), a.cols(), view(out), state_->stream);
}

void CudaBackend::gather_rows(const Tensor& x, const Tensor& rows, const Tensor& out) {
  require(out.rows() == rows.numel() && out.cols() == x.cols() && out.dtype() == x.dtype(),
          "gather_rows shapes");
  cuda::launch_gather_rows(x.data<void>(), x.row_stride(), x.rows(), rows.data<int32_t>(),
                           rows.numel(), x.cols(), dtype_size(x.dtype()), out.data<void>(),
                           out.row_stride(), state_->error_flag, state_->stream);
}

void CudaBackend::moe_topk_softmax(const Tensor& router_logits, bool renormalize,
                                   const Tensor& weights, const Tensor& expert_ids) {
  const int64_t tokens = router_logits.rows(), experts = router_logits.cols();
  const int64_t k = weights.cols();
  require(weights.rows() == tokens && expert_ids.rows() == tokens && expert_ids.cols() == k &&
              k >= 1 && k <= experts,
          "moe_topk_softmax shapes");
  require(weights.dtype() == DType::kF32 && expert_ids.dtype() == DType::kI32 &&
              weights.contiguous() && expert_ids.contiguous(),
          "moe_topk_softmax dtypes");
  cuda::launch_moe_topk_softmax(cview(router_logits), tokens, experts, k, renormalize,
                                weights.data<float>(), expert_ids.data<int32_t>(), state_->stream);
}

void CudaBackend::sigmoid_scale_rows(const Tensor& x, const Tensor& gate, const Tensor& out) {
  require(gate.rows() == x.rows() && gate.cols() >= 1 && out.rows() == x.rows() &&
              out.cols() == x.cols(),
          "sigmoid_scale_rows shapes");
  cuda::launch_sigmoid_scale_rows(cview(x), cview(gate), x.rows(), x.cols(), view(out),
                                  state_->stream);
}

void CudaBackend::moe_combine(const Tensor& expert_rows, const Tensor& slots, const Tensor& weights,
                              bool accumulate, const Tensor& out) {
  const int64_t tokens = out.rows(), cols = out.cols(), k = slots.cols();
  require(slots.rows() == tokens && weights.rows() == tokens && weights.cols() == k &&
              expert_rows.cols() == cols,
          "moe_combine shapes");
  require(slots.dtype() == DType::kI32 && weights.dtype() == DType::kF32 && slots.contiguous() &&
              weights.contiguous(),
          "moe_combine dtypes");
  cuda::launch_moe_combine(cview(expert_rows), expert_rows.rows(), slots.data<int32_t>(),
                           weights.data<float>(), tokens, k, cols, accumulate, view(out),
                           state_->error_flag, state_->stream);
}

// --- the seam (cuda_device.h) ---

bool cuda_compiled_in() {
  return true;
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: the same answer, none
    return 0;
  }
  return n;
}

Result<std::unique_ptr<Backend>> make_cuda_backend(int gpu_id) {
  const int n = cuda_device_count();
  if (n == 0) {
    return make_error(ErrorCode::kUnsupported,
                      "--device cuda: no CUDA GPU is visible (cudaGetDeviceCount found none; "
                      "check the driver and CUDA_VISIBLE_DEVICES), use --device cpu");
  }
  if (gpu_id < 0 || gpu_id >= n) {
    return make_error(ErrorCode::kInvalidArgument, "--base-gpu-id " + std::to_string(gpu_id) +
                                                       ": only " + std::to_string(n) +
                                                       " CUDA GPU(s) are visible");
  }
  try {
    return std::unique_ptr<Backend>(std::make_unique<CudaBackend>(gpu_id));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, e.what());
  }
}

}  // namespace sglang
