#include "test_support.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_device.h"
#include "model/random_checkpoint.h"

namespace sglang::testing {

namespace fs = std::filesystem;

std::string tiny_checkpoint(const std::string& arch, uint64_t seed) {
  const fs::path dir =
      fs::path(SGLANG_FIXTURE_DIR) / ("tiny-" + arch + "-seed" + std::to_string(seed));
  if (fs::exists(dir / "model.safetensors")) return dir.string();
  fs::create_directories(dir.parent_path());
  // Write to a private directory, then rename: concurrent test processes never see a partial one.
  const fs::path tmp = dir.string() + ".tmp" + std::to_string(::getpid());
  auto spec = checkpoint_spec_tiny(arch);
  if (!spec.ok()) throw std::runtime_error(spec.error().message);
  Status st = write_random_checkpoint(*spec, seed, tmp.string());
  if (!st.ok()) throw std::runtime_error(st.error().message);
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp);  // another process won the race; its copy is identical
  return dir.string();
}

std::vector<const cpu::CpuKernels*> supported_kernel_tables() {
  std::vector<const cpu::CpuKernels*> out = {&cpu::isa_generic::kernels()};
  if (cpu::cpu_supports("avx2")) out.push_back(&cpu::isa_avx2::kernels());
  if (cpu::cpu_supports("avx512")) out.push_back(&cpu::isa_avx512::kernels());
  return out;
}

std::string scratch_dir(const std::string& name) {
  const fs::path dir =
      fs::path(SGLANG_FIXTURE_DIR) / "scratch" / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string asset_path(const std::string& relative) {
  for (const char* dir : {SGLANG_ASSETS_DIR, SGLANG_FETCHED_ASSETS_DIR}) {
    const fs::path p = fs::path(dir) / relative;
    if (fs::exists(p)) return p.string();
  }
  throw std::runtime_error("asset " + relative +
                           " not found in " SGLANG_ASSETS_DIR " or " SGLANG_FETCHED_ASSETS_DIR);
}

double relative_l2(const float* a, const float* b, size_t n) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    diff += d * d;
    ref += static_cast<double>(b[i]) * static_cast<double>(b[i]);
  }
  return ref == 0 ? std::sqrt(diff) : std::sqrt(diff / ref);
}

std::unique_ptr<Backend> make_test_backend(const cpu::CpuKernels& kernels) {
  const char* device = std::getenv("SGLANG_TEST_DEVICE");
  if (device != nullptr && std::string(device) == "cuda") {
    auto cuda = make_cuda_backend(0);
    if (!cuda.ok()) throw std::runtime_error("SGLANG_TEST_DEVICE=cuda: " + cuda.error().message);
    return std::move(*cuda);
  }
  return std::make_unique<CpuBackend>(kernels);
}

Result<ServerArgs> parse_server_flags(const std::string& flags) {
  CLI::App app;
  ServerArgsParser parser;
  parser.add_to(app);
  app.parse("--model-path m " + flags, /*program_name_included=*/false);
  return parser.finalize();
}

}  // namespace sglang::testing
