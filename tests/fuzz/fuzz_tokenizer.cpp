// Tokenizer encode → decode on arbitrary bytes (invalid UTF-8 included), for the tokenizer
// directory named by SGLANG_FUZZ_TOKENIZER (default: the Qwen3 asset).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tokenizer/tokenizer_config.h"

namespace {
std::unique_ptr<sglang::Tokenizer> g_tokenizer;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("SGLANG_FUZZ_TOKENIZER");
  auto loaded = sglang::load_tokenizer_from_dir(dir ? dir : "../shared/assets/qwen3-tokenizer");
  if (!loaded.ok()) {
    std::fprintf(stderr, "fuzz_tokenizer: %s\n", loaded.error().message.c_str());
    std::abort();
  }
  g_tokenizer = std::move(loaded->tokenizer);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool special : {false, true}) {
    const auto ids = g_tokenizer->encode(text, special);
    (void)g_tokenizer->decode(ids, special);
    (void)g_tokenizer->decode(ids, !special);
  }
  return 0;
}
