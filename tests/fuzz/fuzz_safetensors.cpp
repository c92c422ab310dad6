// The safetensors reader (src/model/safetensors.cpp) on mutated files: open gives tensors whose
// bytes lie inside the file, or an error; never a crash, an overflow or undefined behaviour.
#include <cstddef>
#include <cstdint>

#include "fuzz_file_input.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file =
      sglang::SafetensorsFile::open(sglang::fuzz::write_scratch_file(data, size, ".safetensors"));
  if (!file.ok()) return 0;
  for (const auto& [name, info] : (*file)->tensors()) {
    auto t = (*file)->get(name);
    if (t.ok()) (void)sglang::fuzz::touch(t->data, t->nbytes());
    (void)sglang::shape_string(info.shape);
  }
  return 0;
}
