// Tokenizer encode → decode on arbitrary bytes (invalid UTF-8 included), for every tokenizer
// asset: the directories under SGLANG_FUZZ_ASSETS (default ../shared/assets) that hold a
// tokenizer.json; the first input byte picks one, the rest is the text.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer_config.h"

namespace {
std::vector<std::unique_ptr<sglang::Tokenizer>> g_tokenizers;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("SGLANG_FUZZ_ASSETS");
  const std::filesystem::path assets = env ? env : "../shared/assets";
  std::vector<std::filesystem::path> dirs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(assets, ec))
    if (std::filesystem::exists(entry.path() / "tokenizer.json")) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());  // the first byte names the same tokenizer every run
  for (const auto& dir : dirs) {
    auto loaded = sglang::load_tokenizer_from_dir(dir.string());
    if (!loaded.ok()) {
      std::fprintf(stderr, "fuzz_tokenizer: %s: %s\n", dir.c_str(), loaded.error().message.c_str());
      std::abort();
    }
    g_tokenizers.push_back(std::move(loaded->tokenizer));
  }
  if (g_tokenizers.empty()) {
    std::fprintf(stderr, "fuzz_tokenizer: no tokenizer.json under %s (SGLANG_FUZZ_ASSETS)\n",
                 assets.c_str());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& tokenizer = *g_tokenizers[data[0] % g_tokenizers.size()];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (bool special : {false, true}) {
    const auto ids = tokenizer.encode(text, special);
    (void)tokenizer.decode(ids, special);
    (void)tokenizer.decode(ids, !special);
  }
  return 0;
}
