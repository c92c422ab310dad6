#pragma once
// UTF-8 helpers and Unicode normalisation (ICU) for the tokenizer.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "util/utf8.h"

namespace sglang::tok {

// Decodes the code point starting at s[i] and advances i. Input must be valid UTF-8.
char32_t next_code_point(std::string_view s, size_t& i);
// Replaces each maximal invalid subsequence with U+FFFD, as Rust's String::from_utf8_lossy (and
// therefore Hugging Face tokenizers' decoders) do.
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// Character classes exactly as Hugging Face tokenizers 0.23.2 sees them (generated tables, see
// tools/gen_unicode_classes.py): each of its components follows its own Unicode version.
struct CodePointRange {
  char32_t lo, hi;
};
enum class CharClass {
  kLetter,           // regex \p{L}
  kNumber,           // regex \p{N}
  kSpace,            // regex \s
  kBertRemoved,      // removed by BertNormalizer's clean_text
  kBertSpace,        // turned into ' ' by clean_text
  kAccentMark,       // removed by StripAccents
  kBertMark,         // removed by BertNormalizer's strip_accents (after NFD)
  kBertPunctuation,  // isolated by BertPreTokenizer
  kGraphemeExtend,   // extends the grapheme before it (Precompiled's segmentation)
};
bool has_class(CharClass c, char32_t cp);
std::span<const CodePointRange> class_ranges(CharClass c);
// Appends cp lowercased as Rust's char::to_lowercase (no context rules).
void append_lowercase(std::string& out, char32_t cp);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
std::string normalize(std::string_view text, NormalForm form);

}  // namespace sglang::tok
