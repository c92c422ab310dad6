// The GGUF reader (src/model/gguf.cpp) and the GGUF tokenizer (src/tokenizer/gguf_tokenizer.cpp)
// on mutated files: metadata, tensor infos whose bytes lie inside the file and a tokenizer, or an
// error; never a crash, an overflow or undefined behaviour.
#include <cstddef>
#include <cstdint>

#include "fuzz_file_input.h"
#include "model/gguf.h"
#include "tokenizer/gguf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sglang::fuzz::write_scratch_file(data, size, ".gguf");
  auto file = sglang::GgufFile::open(path);
  if (!file.ok()) return 0;
  for (const auto& [key, value] : (*file)->metadata()) {
    (void)(*file)->get_string(key);
    (void)(*file)->get_int(key);
    (void)(*file)->get_float(key);
    (void)(*file)->get_bool(key);
  }
  for (const auto& t : (*file)->tensors()) {
    (void)t.numel();
    (void)t.shape();
    const auto bytes = (*file)->tensor_bytes(t);
    (void)sglang::fuzz::touch(bytes.data(), bytes.size());
  }
  if ((*file)->metadata().count("tokenizer.ggml.model")) {
    auto tok = sglang::load_tokenizer_from_gguf(path);
    if (tok.ok()) {
      const auto ids = tok->tokenizer->encode("Hello, world! 123", true);
      (void)tok->tokenizer->decode(ids, false);
    }
  }
  return 0;
}
