// The CUDA seam of a build without the CUDA backend (SGLANG_CUDA=OFF, or no nvcc found).
#include "kernels/cuda/cuda_device.h"

namespace sglang {

bool cuda_compiled_in() {
  return false;
}

int cuda_device_count() {
  return 0;
}

Result<std::unique_ptr<Backend>> make_cuda_backend(int /*gpu_id*/) {
  return make_error(ErrorCode::kUnsupported,
                    "--device cuda: this build has no CUDA backend (configure with an installed "
                    "CUDA toolkit and -DSGLANG_CUDA=ON); use --device cpu");
}

}  // namespace sglang
