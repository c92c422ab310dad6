#pragma once
// UTF-8 helpers and Unicode normalisation (ICU) for the tokenizer.
#include <cstdint>
#include <string>
#include <string_view>

namespace sglang::tok {

// Decodes the code point starting at s[i] and advances i. Input must be valid UTF-8.
char32_t next_code_point(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t cp);
// Replaces each maximal invalid subsequence with U+FFFD, as Rust's String::from_utf8_lossy (and
// therefore Hugging Face tokenizers' decoders) do.
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
std::string normalize(std::string_view text, NormalForm form);

}  // namespace sglang::tok
