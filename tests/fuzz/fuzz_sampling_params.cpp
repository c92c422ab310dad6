// Request JSON → sampling_params validation (the reader every generate route uses): any bytes
// give a value or an error, never a crash, a hang or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "sampling/sampling_params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  auto params = sglang::sampling_params_from_json(j);
  if (params.ok()) {
    params->normalize(nullptr);
    (void)params->verify(151936);
  }
  return 0;
}
