// One linear() of the default model's shapes, quantized blocks against the same weights dequantized
// to bfloat16, timed in CPU time of the calling thread (one thread), so that other load on a shared
// machine distorts it less than wall time: sglang-bench-quant-linear [isa [tokens...]] (isa: best,
// avx2 or generic; tokens: default 1 8 32 33 128 512). Each case prints GFLOP/s (2·T·N·K per call)
// and its share of one core's FMA peak measured in the same run: 12 independent chains of
// fused multiply-adds at the table's vector width (AVX-512 16 lanes, AVX2 8), CPU time, so the peak
// is what this core sustains (both FMA ports at the clock it runs), not a datasheet figure.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "model/gguf_dequant.h"
#include "util/half.h"

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One core's single-precision FMA peak in GFLOP/s at LANES floats per vector (CPU time), defined
// once per target (a template would not inherit the target attribute).
#define SGLANG_FMA_PEAK(NAME, TARGET, LANES)                                  \
  __attribute__((target(TARGET))) double NAME() {                             \
    typedef float V __attribute__((vector_size(LANES * 4)));                  \
    V a[12], b, c;                                                            \
    for (int i = 0; i < 12; ++i) {                                            \
      for (int l = 0; l < LANES; ++l) a[i][l] = 1.0f + static_cast<float>(i); \
    }                                                                         \
    for (int l = 0; l < LANES; ++l) b[l] = 0.9999f, c[l] = 1e-4f;             \
    const long iters = 50'000'000;                                            \
    const double t0 = cpu_seconds();                                          \
    for (long it = 0; it < iters; ++it) {                                     \
      for (int i = 0; i < 12; ++i) a[i] = a[i] * b + c;                       \
    }                                                                         \
    const double s = cpu_seconds() - t0;                                      \
    float sink = 0;                                                           \
    for (int i = 0; i < 12; ++i) sink += a[i][0];                             \
    if (sink == 42.0f) std::puts("");                                         \
    return static_cast<double>(iters) * 12 * LANES * 2 / s / 1e9;             \
  }
SGLANG_FMA_PEAK(peak_avx512, "avx512f,fma", 16)
SGLANG_FMA_PEAK(peak_avx2, "avx2,fma", 8)
#undef SGLANG_FMA_PEAK

}  // namespace

int main(int argc, char** argv) {
  using namespace sglang;
  const cpu::CpuKernels* table = &cpu::best_kernels();
  if (argc > 1 && std::strcmp(argv[1], "avx2") == 0) table = &cpu::isa_avx2::kernels();
  if (argc > 1 && std::strcmp(argv[1], "generic") == 0) table = &cpu::isa_generic::kernels();
  std::vector<int64_t> token_counts = {1, 8, 32, 33, 128, 512};
  if (argc > 2) {
    token_counts.clear();
    for (int i = 2; i < argc; ++i) token_counts.push_back(std::atoll(argv[i]));
  }
  CpuBackend be(*table, 1);
  std::mt19937 rng(1);
  struct Shape {
    const char* name;
    DType dtype;
    int64_t n, k;
  };
  const Shape shapes[] = {{"gate_up Q4_1", DType::kQ4_1, 3072, 576},
                          {"down Q4_1", DType::kQ4_1, 576, 1536},
                          {"head Q8_0", DType::kQ8_0, 49152, 576},
                          {"gate_up Q4_K", DType::kQ4_K, 3072, 1024},  // a Q4_K_M file's FFN
                          {"gate_up Q5_K", DType::kQ5_K, 3072, 1024},
                          {"down Q6_K", DType::kQ6_K, 1024, 3072}};
  // SGLANG_BENCH_SHAPES=Q6_K (a substring of the names) runs only the matching shapes.
  const char* only = std::getenv("SGLANG_BENCH_SHAPES");
  const bool avx512 = std::strncmp(table->isa, "avx512", 6) == 0;
  const double peak = avx512                                 ? peak_avx512()
                      : std::strcmp(table->isa, "avx2") == 0 ? peak_avx2()
                                                             : 0.0;
  std::printf("isa %s, one core's measured FMA peak %.1f GFLOP/s\n", table->isa, peak);
  for (const Shape& s : shapes) {
    if (only != nullptr && std::strstr(s.name, only) == nullptr) continue;
    std::vector<uint8_t> bytes(dtype_row_bytes(s.dtype, s.k) * static_cast<size_t>(s.n));
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const size_t bb = dtype_block_bytes(s.dtype);
    for (size_t b = 0; b < bytes.size(); b += bb) {
      const uint16_t h = f32_to_f16(0.01f);
      std::memcpy(&bytes[b], &h, 2);
      if (s.dtype == DType::kQ4_1 || s.dtype == DType::kQ4_K || s.dtype == DType::kQ5_K) {
        std::memcpy(&bytes[b + 2], &h, 2);
      }
      if (s.dtype == DType::kQ6_K) std::memcpy(&bytes[b + 208], &h, 2);  // d is at the end
    }
    std::vector<float> values(static_cast<size_t>(s.n * s.k));
    (void)dequantize(ggml_type_of(s.dtype), bytes, s.n * s.k, values.data());
    const Tensor wq = be.load_matmul_weight({HostTensor{s.dtype, {s.n, s.k}, bytes.data()}});
    const Tensor wb =
        be.load_matmul_weight({HostTensor{DType::kF32, {s.n, s.k}, values.data()}}, DType::kBF16);
    for (int64_t t : token_counts) {
      std::vector<float> xv(static_cast<size_t>(t * s.k));
      for (auto& v : xv) v = std::uniform_real_distribution<float>(-1, 1)(rng);
      const Tensor x = be.from_host(xv.data(), DType::kF32, {t, s.k});
      const Tensor out = be.empty(DType::kF32, {t, s.n});
      double per[2];
      for (int which = 0; which < 2; ++which) {
        const Tensor& w = which == 0 ? wq : wb;
        be.linear(x, w, nullptr, out);
        const int reps = std::max<int>(1, static_cast<int>(2e8 / (s.n * s.k * (t + 8))));
        const double t0 = cpu_seconds();
        for (int r = 0; r < reps; ++r) be.linear(x, w, nullptr, out);
        per[which] = (cpu_seconds() - t0) / reps;
      }
      const double flop = 2.0 * static_cast<double>(t * s.n * s.k);
      std::printf(
          "%-13s tokens %4lld: quant %9.1f us %6.1f GFLOP/s %3.0f%%  bf16 %9.1f us %6.1f GFLOP/s "
          "%3.0f%%  ratio %.2f\n",
          s.name, static_cast<long long>(t), per[0] * 1e6, flop / per[0] / 1e9,
          peak > 0 ? 100 * flop / per[0] / 1e9 / peak : 0.0, per[1] * 1e6, flop / per[1] / 1e9,
          peak > 0 ? 100 * flop / per[1] / 1e9 / peak : 0.0, per[1] / per[0]);
    }
  }
  return 0;
}
