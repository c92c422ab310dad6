#pragma once
// The file readers open a path (they mmap it): a fuzz input is written to a scratch file of this
// process first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace sglang::fuzz {

// Removed when the process exits (libFuzzer ends a timed run with exit()).
struct ScratchFile {
  std::string path;
  ~ScratchFile() { std::remove(path.c_str()); }
};

inline std::string write_scratch_file(const uint8_t* data, size_t size, const char* suffix) {
  static const ScratchFile scratch{"/tmp/sglang_fuzz_" +
                                   std::to_string(static_cast<long>(getpid())) + suffix};
  const std::string& path = scratch.path;
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

// Reads every byte of [p, p + n): a range past the mapping faults here.
inline uint8_t touch(const void* p, size_t n) {
  const auto* b = static_cast<const volatile uint8_t*>(p);
  uint8_t x = 0;
  for (size_t i = 0; i < n; i += 64) x ^= b[i];
  if (n > 0) x ^= b[n - 1];
  return x;
}

}  // namespace sglang::fuzz
