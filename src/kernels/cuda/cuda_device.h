#pragma once
// What the rest of the engine asks about CUDA, compiled whether or not the build has it: with
// SGLANG_CUDA off, cuda_device_stub.cpp answers "no CUDA" and no CUDA header or library is needed.
#include <memory>
#include <string>

#include "kernels/backend.h"
#include "util/status.h"

namespace sglang {

// True when this binary was built with the CUDA backend.
bool cuda_compiled_in();
// GPUs the CUDA runtime sees (cudaGetDeviceCount); 0 without a GPU, a driver, or CUDA in the build.
int cuda_device_count();
// A CUDA backend on GPU `gpu_id` (SGLang's --base-gpu-id), or why there can be none.
Result<std::unique_ptr<Backend>> make_cuda_backend(int gpu_id);

}  // namespace sglang
