// config.json parsing (src/model/model_config.cpp) on arbitrary bytes: a ModelConfig or an error
// naming the field, never a crash or undefined behaviour (sizes from the file are not trusted).
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)sglang::parse_model_config(text, "config.json");
  return 0;
}
