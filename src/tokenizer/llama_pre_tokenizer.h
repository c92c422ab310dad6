#pragma once
// llama.cpp's pre-tokenization of byte-level BPE vocabularies (GGUF files): tokenizer.ggml.pre
// names a list of regexes that split the text in turn, each one every piece the previous ones left;
// the pieces are then mapped byte by byte to GPT-2's printable characters. llama.cpp does not run
// these regexes as written: two have hand-written matchers (GPT-2's and Llama 3's), the others run
// on a "collapsed" copy of the text where each code point outside ASCII becomes one byte standing
// for its Unicode category, and all of it follows llama.cpp's own Unicode tables. This reproduces
// that, so that a GGUF vocabulary splits text exactly where llama.cpp splits it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/components.h"
#include "util/status.h"

namespace sglang::tok {

// llama.cpp's per-code-point flags (unicode_cpt_flags): one category bit, plus White_Space.
namespace llama_flags {
inline constexpr uint16_t kUndefined = 0x1, kNumber = 0x2, kLetter = 0x4, kSeparator = 0x8,
                          kAccentMark = 0x10, kPunctuation = 0x20, kSymbol = 0x40, kControl = 0x80,
                          kCategories = 0xff, kWhitespace = 0x100;
}
// The flags llama.cpp gives `cp` (tables generated from its library, llama_unicode_flags.inc);
// nonzero for every code point up to U+10FFFF.
uint16_t llama_code_point_flags(char32_t cp);

// What a tokenizer.ggml.pre value means to llama.cpp's BPE tokenizer.
struct LlamaPreTokenizerSpec {
  std::string name;  // the value; "default" when the file has none
  std::vector<std::string> regexes;
  bool ignore_merges = false;  // a piece that is a whole token is not merged from characters
  bool clean_spaces = true;    // detokenize removes the space before ?!., and in " 's" etc.
  bool add_bos = false;        // default of tokenizer.ggml.add_bos_token
};
// The spec for `pre` ("" when tokenizer.ggml.pre is absent: llama.cpp's "default"); an error names
// an unsupported value.
Result<LlamaPreTokenizerSpec> llama_pre_tokenizer_spec(const std::string& pre);

// Splits text with `regexes` as llama.cpp's unicode_regex_split does, then maps each piece's bytes
// to GPT-2's characters (the form BPE vocabularies store).
Result<std::unique_ptr<PreTokenizer>> make_llama_pre_tokenizer(
    const std::vector<std::string>& regexes);
// The same split without the byte mapping: the pieces as UTF-8 (for tests).
Result<std::vector<std::string>> llama_regex_split(const std::string& text,
                                                   const std::vector<std::string>& regexes);

}  // namespace sglang::tok
