#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/cpu/cpu_kernels.h"
#include "util/logging.h"

namespace sglang::cpu {

bool cpu_supports(const char* isa) {
  __builtin_cpu_init();
  if (std::strcmp(isa, "generic") == 0) return true;
  if (std::strcmp(isa, "avx2") == 0) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  if (std::strcmp(isa, "avx512") == 0) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
}

const CpuKernels& best_kernels() {
  const char* forced = std::getenv("SGLANG_CPU_ISA");
  if (forced != nullptr && *forced != '\0') {
    std::string f = forced;
    if (cpu_supports(f.c_str())) {
      if (f == "generic") return isa_generic::kernels();
      if (f == "avx2") return isa_avx2::kernels();
      if (f == "avx512") return isa_avx512::kernels();
    }
    SGLANG_LOG_WARN(
        "SGLANG_CPU_ISA={} is unknown or unsupported by this CPU; choosing automatically", f);
  }
  if (cpu_supports("avx512")) return isa_avx512::kernels();
  if (cpu_supports("avx2")) return isa_avx2::kernels();
  return isa_generic::kernels();
}

}  // namespace sglang::cpu
