#pragma once
// A compiled Unicode regular expression (PCRE2 with JIT), as the tokenizer.json pre-tokenizer and
// normalizer patterns need: \p{L}, \p{N}, lookahead, case-insensitive groups. Thread-safe: match
// scratch space is per call.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace sglang::tok {

class Regex {
 public:
  static Result<std::shared_ptr<const Regex>> compile(const std::string& original);
  // The pattern as written, with PCRE2's own ASCII-only \s, \d, \w and `$` only at the very end, as
  // C++'s std::regex (ECMAScript, "C" locale) reads it: llama.cpp's pre-tokenizer regexes.
  // utf8: the subject is UTF-8 and a character is a code point (std::wregex); otherwise one byte is
  // one character (std::regex over llama.cpp's one-byte-per-code-point "collapsed" text).
  static Result<std::shared_ptr<const Regex>> compile_ecmascript(const std::string& pattern,
                                                                 bool utf8);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Byte ranges [begin, end) of all non-overlapping matches, left to right (as Rust's find_iter:
  // an empty match advances by one character).
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

// A literal string as a pattern (tokenizer.json's {"String": ...}).
std::string regex_escape(std::string_view literal);

}  // namespace sglang::tok
