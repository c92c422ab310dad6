#pragma once
// Writing EBNF text in xgrammar's dialect: string literals and code-point character classes.
// Shared by the regex, JSON-schema and structural-tag front-ends, so every one of them quotes
// the same way. What is printed avoids the dialect's ambiguous corners: xgrammar reads `\x`
// followed by any number of hex digits, so control characters are written `\uHHHH` (always
// four digits) and non-ASCII code points are written as their UTF-8 bytes.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sglang::grammar {

inline constexpr char32_t kMaxCodePoint = 0x10FFFF;

// A set of code points as sorted, disjoint, non-adjacent closed ranges.
class CodePointSet {
 public:
  CodePointSet() = default;
  static CodePointSet of(std::initializer_list<std::pair<char32_t, char32_t>> ranges);

  void add(char32_t lo, char32_t hi);
  void add(char32_t c) { add(c, c); }
  void add(const CodePointSet& other);
  CodePointSet complement() const;  // within [0, kMaxCodePoint]
  CodePointSet minus(const CodePointSet& other) const;
  CodePointSet intersect(const CodePointSet& other) const;
  bool empty() const { return ranges_.empty(); }
  bool contains(char32_t c) const;
  const std::vector<std::pair<char32_t, char32_t>>& ranges() const { return ranges_; }

 private:
  void normalize();
  std::vector<std::pair<char32_t, char32_t>> ranges_;
};

// `"..."` matching exactly `bytes` (UTF-8 text; bytes that are not UTF-8 are written \uHHHH of
// their Latin-1 value, which never happens for text that came from JSON). Empty text is `""`.
std::string ebnf_literal(std::string_view bytes);

// `[...]` matching exactly the code points of `set` (which must not be empty). Surrogates are
// never matched: they cannot be written in UTF-8.
std::string ebnf_char_class(const CodePointSet& set);

// Decodes one UTF-8 code point from `text` at `*pos`, advancing it. Malformed bytes decode as
// themselves (Latin-1) so a caller never loops.
char32_t decode_utf8(std::string_view text, size_t* pos);

}  // namespace sglang::grammar
